"""The layout zoo (tests/zoo.py) over a longer seeded run than the tests: text dumps, .docx, .xlsx, .html.

A layout is rows-exact when every row comes back with project, department, level1, level2, name and
value equal (NFKC, whitespace removed) and no extraction warning; fields-exact counts the equal
fields over all expected rows, matched by position. Per format, then per format and each varied
dimension (value columns, level cells, where the project is named). A second part shifts every
layout's header by 1–2 columns against its rows: there a layout counts as corrected when its rows
come back exact *and* every row carries the warning that says so.

    python evaluation/zoo_report.py [--layouts 1000] [--seed 11]

Writes evaluation/results/zoo_report.txt.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from budgetnlp.errors import InputError  # noqa: E402
from budgetnlp.extract import extract_file  # noqa: E402
from tests.zoo import FORMATS, expected_rows, field_counts, layout_specs, mismatches, render  # noqa: E402

OUT = ROOT / "evaluation" / "results" / "zoo_report.txt"
DIMENSIONS = ("value_style", "level_style", "context", "department_place")


def run(layouts, folder: Path, shifted: bool = False) -> list[tuple]:
    """(layout, rows-exact, fields equal, fields expected, first mismatch) per layout."""
    results = []
    for i, layout in enumerate(layouts):
        expected = len(expected_rows(layout)) * 6
        try:
            frame = extract_file(render(layout, folder, f"z{i}"))
            problems = mismatches(frame, layout)
            warned = frame["extract_warning"] != ""
            if shifted:
                exact = not problems and warned.all()
            else:
                exact = not problems and not warned.any()
                problems = problems or ([f"warning: {frame['extract_warning'][warned].iloc[0]}"] if warned.any() else [])
            equal, _ = field_counts(frame, layout)
        except InputError as error:
            exact, equal, problems = False, 0, [error.reason]
        results.append((layout, exact, equal, expected, problems[0] if problems else ""))
    return results


def table(results, key) -> list[str]:
    groups: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for layout, exact, equal, expected, _ in results:
        for name in ("all", key(layout)):
            g = groups[name]
            g[0] += 1
            g[1] += exact
            g[2] += equal
            g[3] += expected
    lines = []
    for name in sorted(groups, key=lambda n: (n != "all", n)):
        n, exact, equal, expected = groups[name]
        lines.append(f"  {name:<16} {n:>5} layouts  rows-exact {exact / n:7.1%}  fields-exact {equal / max(expected, 1):7.1%}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layouts", type=int, default=1000, help="Layouts in the main run (spread over the formats).")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    started = time.perf_counter()
    layouts = layout_specs(args.layouts, seed=args.seed, added=True)
    shifted = [
        replace(layout, header_shift=shift)
        for layout, shift in zip(layout_specs(args.layouts // 4, seed=args.seed + 1, added=True), [1, -1, 2, -2] * args.layouts)
        if layout.context != "flat"
    ]
    with tempfile.TemporaryDirectory() as folder:
        main_results = run(layouts, Path(folder))
        shifted_results = run(shifted, Path(folder), shifted=True)
    out = [
        f"Layout zoo: {len(layouts)} layouts (seed {args.seed}), real rows from gold_localities.csv and the samples;",
        "rows-exact = all rows equal (project, department, level1, level2, name, value) and no warning.",
        "",
        "Per format:",
        *table(main_results, lambda layout: layout.format),
    ]
    for fmt in FORMATS:
        of_format = [r for r in main_results if r[0].format == fmt]
        for dimension in DIMENSIONS:
            out += ["", f"{fmt} by {dimension}:", *table(of_format, lambda layout: str(getattr(layout, dimension)))[1:]]
    out += [
        "",
        f"Header shifted 1–2 columns against its rows ({len(shifted)} layouts, seed {args.seed + 1}):",
        "corrected = rows exact and every row warned.",
        *table(shifted_results, lambda layout: layout.format),
    ]
    failures = [r for r in main_results + shifted_results if not r[1]]
    out += ["", f"Failures ({len(failures)}; first 40):"]
    for layout, _, _, _, problem in failures[:40]:
        out.append(
            f"  {layout.format} {layout.source} {layout.value_style}/{layout.level_style}/{layout.context}/"
            f"{layout.department_place} shift={layout.header_shift}: {problem}"
        )
    out += ["", f"{time.perf_counter() - started:.0f} s"]
    text = "\n".join(out) + "\n"
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text, encoding="utf-8")
    print(text, end="")


if __name__ == "__main__":
    main()
