"""Shared test helpers: the samples' projects as plain data, to rebuild them in other formats."""

from __future__ import annotations

import copy
import io
import zipfile
from functools import lru_cache
from pathlib import Path

import pandas as pd

from budgetnlp._text import squash
from budgetnlp.extract import extract_file

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
ROW_CELLS = ["level1", "level2", "name", "description", "value", "basis"]
CONTEXT = ["project_code", "project_name", "project_budget", "department", "year"]


def sample_document(file_name: str = "004_8fe8d81b6e5c8740.txt", projects: int | None = None) -> dict:
    """A sample's department, year and projects (each with its rows), as extracted from the text
    dump; with ``projects``, only its first projects and their rows. A fresh copy each call."""
    return copy.deepcopy(_sample_document(file_name, projects))


@lru_cache(maxsize=None)
def _sample_document(file_name: str, projects: int | None) -> dict:
    rows = extract_file(SAMPLES / file_name)
    if projects is not None:
        keys = list(dict.fromkeys(zip(rows["project_code"], rows["project_name"])))[:projects]
        rows = rows[[key in keys for key in zip(rows["project_code"], rows["project_name"])]].reset_index(drop=True)
    projects = []
    for (code, name), group in rows.groupby(["project_code", "project_name"], sort=False):
        first = group.iloc[0]
        projects.append(
            {
                "code": code,
                "name": name,
                "budget": float(first["project_budget"]),
                "fund_use": first["fund_use"],
                "goals": first["project_goals"],
                "rows": group[ROW_CELLS].to_dict("records"),
            }
        )
    return {
        "department": rows["department"].iloc[0],
        "year": int(rows["year"].iloc[0]),
        "projects": projects,
        "rows": rows,
    }


def comparable(frame: pd.DataFrame) -> list[tuple]:
    """Rows reduced to squashed context + cells, for comparing extractions across formats."""
    out = []
    for record in frame.to_dict("records"):
        budget = record.get("project_budget")
        out.append(
            (
                squash(record["project_code"]),
                squash(record["project_name"]),
                None if budget is None or pd.isna(budget) else round(float(budget), 2),
                squash(record["department"]),
                int(record["year"]) if not pd.isna(record["year"]) else None,
                *(squash(record[c]) for c in ROW_CELLS),
            )
        )
    return out


def context_tuples(frame: pd.DataFrame) -> list[tuple]:
    """Each project's name, fund use and goals (squashed), in order: the context a reader must keep."""
    seen = frame[["project_name", "fund_use", "project_goals"]].drop_duplicates()
    return [tuple(squash(v) for v in row) for row in seen.itertuples(index=False)]


#: the samples by number, with how many projects the format tests rebuild (002 is large)
SAMPLE_FILES = {"004": "004_8fe8d81b6e5c8740.txt", "001": "001_7a371d8eaa1dfa6d.txt", "002": "002_25a7642d433ed1a7.txt"}


def sample_documents(projects: dict[str, int | None]) -> dict[str, dict]:
    """sample_document for each sample key, limited to ``projects[key]`` projects."""
    return {key: sample_document(SAMPLE_FILES[key], projects[key]) for key in projects}


def zip_bytes(members: dict[str, bytes | str]) -> bytes:
    """A zip archive (docx/xlsx-shaped when the members say so) made in memory."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def malformed_docx() -> bytes:
    """A real (python-docx) document whose document.xml is cut short: lxml's XMLSyntaxError,
    which holds an unpicklable error log."""
    import docx

    buffer = io.BytesIO()
    docx.Document().save(buffer)
    source = zipfile.ZipFile(buffer)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "word/document.xml":
                data = data[: len(data) // 2]
            archive.writestr(info, data)
    return out.getvalue()
