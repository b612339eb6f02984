"""Extraction speed: copies the samples under new names into a corpus of ≥1,000 documents,
extracts it on one core and prints documents/s, rows/s and peak memory.

    python evaluation/bench_extract.py [--docs 1000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

from budgetnlp.extract import extract_file, iter_files

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"


def build_corpus(folder: Path, docs: int) -> None:
    samples = sorted(SAMPLES.glob("*.txt"))
    for index in range(docs):
        source = samples[index % len(samples)]
        shutil.copy(source, folder / f"doc{index:05d}_{source.name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        build_corpus(folder, args.docs)
        files = list(iter_files([folder]))
        start = time.perf_counter()
        rows = sum(len(extract_file(path)) for path in files)
        seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"documents: {len(files)}  rows: {rows}  seconds: {seconds:.2f}")
    print(f"documents/s: {len(files) / seconds:.1f}  rows/s: {rows / seconds:.0f}  (one process, one core)")
    print(f"peak memory: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
