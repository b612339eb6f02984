"""The value parser's metric_type against the gold's, per source group, with every disagreement.

Groups: each sample document of gold.csv, each locality source_id of gold_localities.csv. The
locality sources listed in evaluation/holdout_sources.txt are left out unless
``--include-holdout`` is given (they are looked at only for the final figures).

    python evaluation/parser_report.py [--include-holdout] [--annotations DIR_OR_FILE ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from budgetnlp.normalize import parse_value
from lf_report import default_annotations as default_annotation_files  # the same gold files, the same holdout
from lf_report import holdout_sources



def load_gold(files, include_holdout: bool = False) -> pd.DataFrame:
    """Gold rows of every file with a ``group`` column (source_id, else the document file name)."""
    frames = []
    for path in files:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        if "source_id" in frame.columns:
            frame["group"] = frame["source_id"]
            frame["kind"] = "locality"
        else:
            frame["group"] = frame["doc"]
            frame["kind"] = "sample"
        frames.append(frame)
    gold = pd.concat(frames, ignore_index=True)
    if not include_holdout:
        gold = gold[~gold["group"].isin(holdout_sources())]
    return gold.reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotations", type=Path, nargs="+", help="gold CSVs (default: gold.csv, gold_localities.csv)")
    parser.add_argument("--include-holdout", action="store_true", help="add the held-out locality sources")
    args = parser.parse_args()
    files = args.annotations or default_annotation_files()
    try:
        gold = load_gold(files, args.include_holdout)
        missing = {"value", "name", "level2", "year", "metric_type"} - set(gold.columns)
        if missing:
            raise ValueError(f"not a gold file: missing columns {', '.join(sorted(missing))}")
    except (OSError, ValueError, KeyError, pd.errors.ParserError) as error:
        sys.exit(f"parser_report: {', '.join(map(str, files))}: {error}")
    got = [
        parse_value(r["value"], name=r["name"], level2=r["level2"], year=r["year"]).metric_type
        for r in gold.to_dict("records")
    ]
    gold["parsed"] = got
    gold["agree"] = gold["parsed"] == gold["metric_type"]
    scope = "all sources" if args.include_holdout else "development sources (holdout left out)"
    print(f"metric_type agreement, {scope}\n")
    for kind, rows in gold.groupby("kind", sort=False):
        print(f"{kind:9s} {rows['agree'].mean():.3f}  ({int(rows['agree'].sum())}/{len(rows)} rows, {rows['group'].nunique()} groups)")
    print(f"{'all':9s} {gold['agree'].mean():.3f}  ({int(gold['agree'].sum())}/{len(gold)} rows)\n")
    table = gold.groupby("group", sort=False).agg(kind=("kind", "first"), rows=("agree", "size"), agreement=("agree", "mean"))
    print(table.to_string(float_format=lambda x: f"{x:.3f}"))
    misses = gold[~gold["agree"]]
    print(f"\n{len(misses)} disagreement(s):")
    for r in misses.to_dict("records"):
        print(f"  {r['group']}: {r['value']!r} · {r['name']} · {r['level2']}  gold {r['metric_type']}, parsed {r['parsed']}")


if __name__ == "__main__":
    main()
