"""Scoring speed and memory on a corpus of ≥10,000 documents.

Builds the corpus from the bundled samples, each copy under a new name and with its project
names and numbers varied (so no cache entry can serve another copy), then prints, in one run:
documents/s and rows/s end to end (text dump → scored files) on one process and on all cores,
with the score cache off and on, peak memory per run, and the ratio of scoring time to plain jieba
tokenization of the same text (the floor). ``--repetition``: score's repetition evidence, run (two
passes: every copy's rows count; the copies share most rows, as a year's disclosures do) or
document (one pass, each document's own rows).

    python evaluation/bench_score.py [--docs 10000] [--single-docs 1000] [--workers N] [--repetition run|document]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
_NUMBER = re.compile(r"(?<=[=＝≥≤])(\d+)")


def vary(text: str, index: int) -> str:
    """A distinct document: project names suffixed, target numbers shifted, by the copy's index."""
    text = re.sub(r"(\t项目名称\n\t)([^\n]+)", lambda m: f"{m.group(1)}{m.group(2)}（{index}）", text)
    return _NUMBER.sub(lambda m: str(int(m.group(1)) + index % 97), text)


def build_corpus(folder: Path, docs: int) -> int:
    samples = [(p.name, p.read_text(encoding="utf-8")) for p in sorted(SAMPLES.glob("*.txt"))]
    size = 0
    for index in range(docs):
        name, text = samples[index % len(samples)]
        body = vary(text, index)
        (folder / f"unit{index:05d}_{name}").write_text(body, encoding="utf-8")
        size += len(body.encode("utf-8"))
    return size


class MemorySampler:
    """Peak resident memory of this process and, summed, of its worker processes, sampled every
    0.5 s while a run lasts (psutil; None when it is not installed). Unlike ru_maxrss, this is per
    run, and a forked worker is not charged with the pages it shares with this process."""

    def __init__(self):
        try:
            import psutil
        except ImportError:
            psutil = None
        self.process = psutil.Process() if psutil else None
        self.main = self.workers = 0.0
        self._stop = threading.Event()

    def _sample(self):
        import psutil

        while not self._stop.wait(0.5):
            try:
                self.main = max(self.main, self.process.memory_info().rss / 2**20)
                uss = [c.memory_full_info().uss for c in self.process.children(recursive=True)]
                self.workers = max(self.workers, sum(uss) / 2**20)
            except psutil.Error:
                continue

    def __enter__(self):
        if self.process:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.process:
            self._stop.set()
            self._thread.join()


def timed_score(inputs, out: Path, workers: int, cache_dir: Path | None,
                repetition: str = "run") -> tuple[float, int, int, MemorySampler, int]:
    from budgetnlp.scoring import score

    shutil.rmtree(out, ignore_errors=True)
    with MemorySampler() as memory:
        start = time.perf_counter()
        run = score(inputs, out, "default", workers=workers, cache=cache_dir is not None, cache_dir=cache_dir,
                    report_rows=20_000, repetition=repetition)
        seconds = time.perf_counter() - start
    return seconds, run.documents, run.rows, memory, run.cached


def tokenization_floor(files: list[Path]) -> float:
    """Seconds for plain jieba (its default tokenizer, as a user would call it) over the same texts."""
    import jieba

    jieba.setLogLevel(60)
    jieba.initialize()
    start = time.perf_counter()
    for path in files:
        jieba.lcut(path.read_text(encoding="utf-8"))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=10_000, help="corpus size (all-core runs use all of it)")
    parser.add_argument("--single-docs", type=int, default=1_000, help="documents for the one-process runs")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repetition", choices=("run", "document"), default="run",
                        help="score's repetition evidence: the whole run (two passes) or each document's own rows")
    args = parser.parse_args()
    from budgetnlp.training import load_with_warnings

    load_with_warnings("default")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        corpus = tmp / "corpus"
        corpus.mkdir()
        size = build_corpus(corpus, args.docs)
        files = sorted(corpus.iterdir())
        single = tmp / "single"
        single.mkdir()
        for path in files[: args.single_docs]:
            os.link(path, single / path.name)
        print(f"corpus: {args.docs} documents, {size / 1e6:.1f} MB of text; one-process runs on {args.single_docs}; "
              f"repetition: {args.repetition}")
        results = []
        cache = tmp / "cache"
        for label, inputs, workers, cache_dir in (
            ("1 process, cache off", [single], 1, None),
            (f"{args.workers} processes, cache off", [corpus], args.workers, None),
            (f"{args.workers} processes, cache filling", [corpus], args.workers, cache),
            (f"{args.workers} processes, cache on (re-run)", [corpus], args.workers, cache),
            ("1 process, cache on (re-run)", [single], 1, cache),
        ):
            seconds, documents, rows, memory, cached = timed_score(inputs, tmp / "out", workers, cache_dir, args.repetition)
            results.append((label, documents, rows, seconds, round(memory.main), round(memory.workers)))
            # with --repetition run, the one-process re-run is another batch (the first documents
            # only): their run counts differ from the full corpus's, so its cache entries do not serve
            print(f"{label:38s} {documents:6d} docs ({cached:5d} cached) {rows:8d} rows {seconds:8.1f} s  "
                  f"{documents / seconds:7.1f} docs/s {rows / seconds:8.0f} rows/s  "
                  + (f"peak memory: main {memory.main:.0f} MB, workers {memory.workers:.0f} MB (unique)" if memory.process
                     else "peak memory: pip install psutil"), flush=True)
        floor = tokenization_floor(files[: args.single_docs])
        one = results[0]
        many = results[1]
        per_core = many[2] / many[3] / args.workers
        print()
        print(f"rows/s per core, cache off: 1 process {one[2] / one[3]:.0f}; {args.workers} processes {per_core:.0f}")
        print(f"speed-up on {args.workers} cores: {(many[2] / many[3]) / (one[2] / one[3]):.2f}x")
        print(f"plain jieba over the same {args.single_docs} texts: {floor:.1f} s; "
              f"end-to-end scoring / tokenization = {one[3] / floor:.2f}")
        self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"ru_maxrss over all runs: main process {self_mb:.0f} MB, largest worker {child_mb:.0f} MB "
              "(a forked worker's figure includes the pages it shares with the main process)")
        pd.DataFrame(results, columns=["run", "documents", "rows", "seconds", "main_peak_mb", "workers_peak_mb"]).to_csv(
            Path(__file__).parent / "results" / "bench_score.csv", index=False)


if __name__ == "__main__":
    main()
