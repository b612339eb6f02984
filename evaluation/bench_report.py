"""Time the report step alone (summary.json, scored.xlsx, report.html) on a large scored run.

    python evaluation/bench_report.py [--rows 900000] [--report-rows 100000] [--work DIR]

Scores data/samples once (or reuses DIR/samples), replicates its scored.parquet to ``--rows`` rows
(each copy a new document: doc_id, row_id and project names suffixed, so projects multiply as in a
real year's run) and times (wall clock and this process's CPU) what ``budgetnlp score`` does after the last document: the same
``scoring._write_reports`` call on that file. Prints seconds per step and the output sizes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from budgetnlp import scoring  # noqa: E402


def samples_scored(work: Path) -> Path:
    path = work / "samples" / "scored.parquet"
    if not path.exists():
        scoring.score([ROOT / "data" / "samples"], work / "samples", cache=False)
    return path


def replicate(source: Path, rows: int, target: Path) -> None:
    """``rows`` rows made of copies of ``source``; copy k gets "-k" on doc_id, row_id, project_name."""
    base = pq.read_table(source)
    copies = -(-rows // base.num_rows)
    index = np.tile(np.arange(base.num_rows), copies)[:rows]
    table = base.take(pa.array(index))
    suffix = pa.array(np.char.add("-", (np.arange(rows) // base.num_rows).astype(str)).astype(object))
    for col in ["doc_id", "row_id", "project_name"]:
        pos = table.schema.get_field_index(col)
        values = pc.binary_join_element_wise(pc.cast(table[col], pa.string()), suffix, "")
        table = table.set_column(pos, col, values)
    if "extract_warning" not in table.column_names:  # runs scored before extraction warnings existed
        table = table.append_column("extract_warning", pa.array([""] * rows, pa.string()))
    pq.write_table(table, target, row_group_size=65_536)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=900_000)
    parser.add_argument("--report-rows", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_report"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    out = args.work / f"run-{args.rows}"
    out.mkdir(exist_ok=True)
    if not (out / "scored.parquet").exists():
        replicate(samples_scored(args.work), args.rows, out / "scored.parquet")
    run = scoring.ScoreRun(out, [str(ROOT / "data" / "samples")], {"name": "default", "version": "bench"})
    run.rows = pq.ParquetFile(out / "scored.parquet").metadata.num_rows
    run.documents = len(set(pq.read_table(out / "scored.parquet", columns=["doc_id"])["doc_id"].to_pylist()))
    start, cpu = time.perf_counter(), time.process_time()
    scoring._write_reports(run, args.report_rows)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    sizes = {name: (out / name).stat().st_size / 1e6 for name in ["summary.json", "scored.xlsx", "report.html"]}
    print(f"rows {run.rows:,}  documents {run.documents:,}  report rows {args.report_rows:,}")
    print(f"report step: {seconds:.1f} s wall, {cpu:.1f} s CPU (this process; CPU time is the fairer figure on a shared machine)  " + "  ".join(f"{k} {v:.1f} MB" for k, v in sizes.items()))


if __name__ == "__main__":
    main()
