"""The layout zoo as PDFs: rows-exact and fields-exact over a longer seeded set than the tests.

Two ways to a PDF, as in tests/test_layout_zoo_pdf.py: drawn directly with fpdf2 and the test
font (half the layouts on A5), and the zoo's Word file converted by LibreOffice (ruled tables,
half the layouts on half-height pages; skipped when soffice is missing). A layout is
rows-exact when every row comes back with project, department, level1, level2, name and value
equal (NFKC, whitespace removed) and no extraction warning; fields-exact counts the equal
fields over all expected rows, matched by position. Per way and per project-context kind.

    python evaluation/zoo_report_pdf.py [--layouts 120] [--seed 7] [--no-libreoffice]

Writes evaluation/results/zoo_report_pdf.txt.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from budgetnlp.errors import InputError  # noqa: E402
from budgetnlp.extract import extract_file  # noqa: E402
from tests.libreoffice import convert  # noqa: E402
from tests.pdf_builders import layouts_text, render_pdf  # noqa: E402
from tests.pdf_fonts import cjk_font  # noqa: E402
from tests.test_layout_zoo_pdf import pdf_layouts, word_file  # noqa: E402
from tests.zoo import FIELDS, expected_rows, field_counts, mismatches  # noqa: E402

OUT = ROOT / "evaluation" / "results" / "zoo_report_pdf.txt"
#: Word files per LibreOffice run
BATCH = 40


def score(cases, pdfs) -> dict[str, list[int]]:
    """context kind (and "all") → [layouts, rows-exact layouts, fields equal, fields expected]."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for (layout, _), path in zip(cases, pdfs):
        expected = len(expected_rows(layout)) * len(FIELDS)
        try:
            frame = extract_file(path)
            exact = not mismatches(frame, layout) and not (frame["extract_warning"] != "").any()
            equal, _ = field_counts(frame, layout)
        except InputError:
            exact, equal = False, 0
        for key in ("all", layout.context):
            counts = totals[key]
            counts[0] += 1
            counts[1] += exact
            counts[2] += equal
            counts[3] += expected
    return totals


def lines_for(way: str, totals: dict[str, list[int]], seconds: float) -> list[str]:
    out = [f"{way}: {seconds:.0f} s"]
    for key in ["all", *sorted(k for k in totals if k != "all")]:
        layouts, exact, equal, expected = totals[key]
        out.append(f"  {key:<14} layouts {layouts:>4}  rows-exact {exact / layouts:7.1%}  "
                   f"fields-exact {equal / max(expected, 1):7.1%}")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layouts", type=int, default=120)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-libreoffice", action="store_true")
    args = parser.parse_args(argv)
    cases = pdf_layouts(args.layouts, seed=args.seed)
    report = [f"layout zoo as PDF: {args.layouts} layouts, seed {args.seed}"]
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        start = time.perf_counter()
        font = cjk_font("glyf", layouts_text(layout for layout, _ in cases))
        pdfs = [render_pdf(layout, work / f"direct{i}.pdf", font, (148, 210) if page == "short" else "A4")
                for i, (layout, page) in enumerate(cases)]
        report += lines_for("pdf drawn (fpdf2)", score(cases, pdfs), time.perf_counter() - start)
        print("\n".join(report), flush=True)
        if not args.no_libreoffice and (shutil.which("soffice") or shutil.which("libreoffice")):
            start = time.perf_counter()
            files = [word_file(layout, work / f"word{i}.docx", page) for i, (layout, page) in enumerate(cases)]
            pdfs = [pdf for first in range(0, len(files), BATCH)
                    for pdf in convert(files[first:first + BATCH], work / "soffice")]
            lines = lines_for("pdf from docx (LibreOffice)", score(cases, pdfs), time.perf_counter() - start)
            print("\n".join(lines))
            report += lines
        else:
            report.append("pdf from docx (LibreOffice): not run (no soffice, or --no-libreoffice)")
            print(report[-1])
    text = "\n".join(report) + "\n"
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
