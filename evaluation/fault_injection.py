"""Fault injection for batch scoring: hostile files mixed into a batch of the samples, scored by
`budgetnlp score` at 1 and 2 local workers and on a Dask LocalCluster, and again with a worker
process killed mid-run. Prints, per way of running: inputs tried, crashes (a non-zero exit, a
traceback or an "internal error"), hangs (no exit within the time limit), rows lost (against the
rows the good inputs hold, read one by one in this process), and whether every bad input got
its line in errors.csv.

    .venv/bin/python evaluation/fault_injection.py [--out evaluation/results/fault_injection.txt]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
sys.path.insert(0, str(ROOT))

from budgetnlp.extract import extract_file  # noqa: E402
from tests.helpers import malformed_docx  # noqa: E402
from tests.helpers import zip_bytes as _zip  # noqa: E402

VARIANTS = 4  # each sample in this many versions (a trailing blank line each: new content, same rows)


def bad_inputs(folder: Path) -> list[str]:
    """Write the hostile files; returns their names (each must become one error line)."""
    sample = (SAMPLES / "004_8fe8d81b6e5c8740.txt").read_text(encoding="utf-8")
    docx = {"[Content_Types].xml": "<Types/>"}
    files = {
        "random.pdf": os.urandom(4096),
        "random.docx": os.urandom(4096),
        "random.xlsx": os.urandom(4096),
        "random.xls": os.urandom(4096),
        "empty.txt": b"",
        "nul.txt": b"\x00" * 5000,
        "latin1.txt": bytes(range(0x80, 0x100)) * 8,
        "dump_named.pdf": (sample + "\n" * 9).encode("utf-8"),  # no variant's bytes: not a duplicate
        "truncated.docx": _zip({**docx, "word/document.xml": "<w:document/>" + "x" * 5000})[:300],
        "truncated.xlsx": _zip({"xl/workbook.xml": "<workbook/>" * 500})[:300],
        "malformed_xml.docx": malformed_docx(),
        "malformed_xml.xlsx": _zip({"[Content_Types].xml": "<Types/>", "xl/workbook.xml": "<workbook><sheets><bad"}),
        "bomb.docx": _zip({**docx, "word/document.xml": "<w:document><w:body>" + "<w:p/>" * 8_000_000 + "</w:body></w:document>"}),
        "other.zip.docx": _zip({"readme.txt": "not office"}),
        "legacy.doc": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + os.urandom(2048),
        "deep.html": ("<html><body>" + "<div>" * 300 + "三级指标 指标值" + "</div>" * 300 + "</body></html>").encode(),
        "picture.png": b"\x89PNG\r\n\x1a\n" + os.urandom(256),
        "minutes.txt": "会议纪要\n\n讨论食堂菜单。\n".encode("utf-8"),
        "no_value.csv": "name\n满意度\n".encode("utf-8"),
        "garbage.parquet": os.urandom(1024),
        "utf16_dump.html": ("<html><body><table><tr><td>" + "x" * 100 + "</td></tr></table>").encode("utf-16"),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return list(files)


def good_inputs(folder: Path) -> tuple[int, int]:
    """Sample variants, a duplicate of one of them and a row table without row_id; returns
    (rows they hold, duplicates)."""
    rows = 0
    for sample in sorted(SAMPLES.glob("*.txt")):
        text = sample.read_text(encoding="utf-8")
        for variant in range(VARIANTS):
            path = folder / f"{sample.stem}_v{variant}.txt"
            path.write_text(text + "\n" * variant, encoding="utf-8")
            rows += len(extract_file(path))
    shutil.copy(folder / f"{sorted(SAMPLES.glob('*.txt'))[0].stem}_v0.txt", folder / "same_content_copy.txt")
    pd.DataFrame({"name": ["满意度", "满意度", "享受资金人数"], "value": ["≥90%", "≥90%", "=78人"]}).to_csv(
        folder / "rows_without_ids.csv", index=False, encoding="utf-8-sig")
    return rows + 3, 1


def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (from /proc; Linux)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def run_once(label: str, inputs: Path, out: Path, args: list[str], timeout: float, kill=None) -> dict:
    command = [sys.executable, "-c", "from budgetnlp.cli import main; main()", "score", str(inputs), "-o", str(out),
               "--no-cache", *args]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = []
    if kill:
        threading.Thread(target=lambda: killed.extend(kill(process)), daemon=True).start()
    hang = False
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        hang = True
        process.kill()
        _, stderr = process.communicate()
    seconds = time.perf_counter() - started
    crash = not hang and (process.returncode != 0 or "Traceback" in stderr or "internal error" in stderr)
    rows, error_lines, duplicate_lines = 0, set(), 0
    if (out / "scored.parquet").is_file():
        rows = len(pd.read_parquet(out / "scored.parquet", columns=["row_id"]))
        notes = pd.read_csv(out / "errors.csv", encoding="utf-8-sig", keep_default_na=False)
        error_lines = set(notes.loc[notes["kind"] == "error", "path"].map(lambda p: Path(p).name))
        duplicate_lines = int((notes["kind"] == "duplicate").sum())
    return {"label": label, "seconds": seconds, "crash": crash, "hang": hang, "rows": rows, "errors": error_lines,
            "duplicates": duplicate_lines, "killed": killed, "stderr": stderr, "code": process.returncode}


def kill_a_local_worker(delay: float, pool: int = 1):
    """Kill one of the run's worker processes ``delay`` seconds after the workers of its ``pool``-th
    pool exist (a run counts repetition over the whole run in two passes, each with its own pool:
    1 extracts, 2 scores; polled every quarter second, so the watching costs the run nothing)."""
    def kill(process):
        seen, earlier = None, set()
        while process.poll() is None:
            workers = _children(process.pid)
            if pool == 2 and not earlier:
                earlier = set(workers) if len(workers) >= 2 else set()  # pass 1's pool, both its workers
                time.sleep(0.05)
                continue
            fresh = [w for w in workers if w not in earlier] if pool == 2 else workers
            if fresh and seen is None:
                seen = time.time()
            if fresh and seen is not None and time.time() - seen >= delay:
                os.kill(fresh[0], signal.SIGKILL)
                return [fresh[0]]
            time.sleep(0.25)
        return []
    return kill


def kill_a_dask_worker(client, delay: float):
    def kill(process):
        # wait until the run's tasks reach the cluster, then kill one worker process (its nanny restarts it)
        while process.poll() is None:
            if any(client.processing().values()):
                time.sleep(delay)
                pids = client.run(os.getpid)
                victim = sorted(pids.values())[0]
                os.kill(victim, signal.SIGKILL)
                return [victim]
            time.sleep(0.25)
        return []
    return kill


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "evaluation" / "results" / "fault_injection.txt")
    parser.add_argument("--timeout", type=float, default=420, help="seconds before a run counts as hung")
    parser.add_argument("--no-dask", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="budgetnlp-faults-"))
    inputs = work / "in"
    inputs.mkdir()
    bad = bad_inputs(inputs)
    expected_rows, duplicates = good_inputs(inputs)
    tried = len(list(inputs.iterdir()))
    runs = [("1 process", [], None), ("2 workers", ["--workers", "2"], None),
            ("2 workers, one killed mid-run", ["--workers", "2"], kill_a_local_worker(1.0)),
            ("2 workers, one killed while scoring", ["--workers", "2"], kill_a_local_worker(0.5, pool=2))]
    cluster = client = None
    if not args.no_dask:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            print("distributed is not installed: no LocalCluster runs", file=sys.stderr)
        else:
            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
            client = Client(cluster)
            runs += [("LocalCluster (2 workers)", ["--scheduler", cluster.scheduler_address], None),
                     ("LocalCluster, one worker killed mid-run", ["--scheduler", cluster.scheduler_address],
                      kill_a_dask_worker(client, 0.5))]
    results = []
    try:
        for label, extra, kill in runs:
            out = work / f"out-{len(results)}"
            result = run_once(label, inputs, out, extra, args.timeout, kill)
            results.append(result)
            print(f"{label}: {result['seconds']:.0f} s", file=sys.stderr)
    finally:
        if client is not None:
            client.close()
            cluster.close()

    lines = [
        "Fault injection: `budgetnlp score --no-cache` on one folder of hostile files mixed with the samples",
        f"inputs tried per run: {tried} ({len(bad)} unusable files, {VARIANTS} versions of each of the 3 samples, "
        f"1 copy of a sample under another name, 1 row table without row_id)",
        f"rows the good inputs hold: {expected_rows}; unusable files expected in errors.csv: {len(bad)}",
        "",
        f"{'way of running':42} {'seconds':>7} {'crashes':>7} {'hangs':>5} {'rows':>6} {'rows lost':>9} "
        f"{'bad files listed':>16} {'duplicates':>10} killed",
    ]
    for r in results:
        lost = expected_rows - r["rows"]
        listed = len(set(bad) & r["errors"])
        lines.append(f"{r['label']:42} {r['seconds']:7.0f} {int(r['crash']):7d} {int(r['hang']):5d} {r['rows']:6d} "
                     f"{lost:9d} {listed:>9d} of {len(bad):<3d} {r['duplicates']:10d} {len(r['killed'])}")
    crashes = sum(r["crash"] for r in results)
    hangs = sum(r["hang"] for r in results)
    lost = sum(max(0, expected_rows - r["rows"]) for r in results)
    lines += ["", f"total over {len(results)} runs: {len(results) * tried} inputs tried, {crashes} crashes, {hangs} hangs, "
                  f"{lost} rows lost"]
    for r in results:
        if r["crash"] or r["hang"] or set(bad) - r["errors"] or r["errors"] - set(bad):
            lines += ["", f"{r['label']}: exit {r['code']}; unlisted: {sorted(set(bad) - r['errors'])}; "
                          f"unexpected: {sorted(r['errors'] - set(bad))}", r["stderr"][-2000:]]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
