"""Extraction: disclosures in any supported format → the indicator row table."""

from ._dispatch import ExtractResult, detect_format, extract, extract_file, iter_files, rows_frame

__all__ = ["ExtractResult", "detect_format", "extract", "extract_file", "iter_files", "rows_frame"]
