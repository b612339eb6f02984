"""The review server of two checkouts, measured in turn on one database: this machine's speed
drifts up to twofold within an hour, so only alternating rounds compare two versions fairly.

    git worktree add /tmp/before COMMIT
    python evaluation/ab_review.py /tmp/before .                  # load: bench_review's 20 clients
    python evaluation/ab_review.py /tmp/before . --one-at-a-time  # server CPU per request, one client

Load: each round serves ``--seconds`` of back-to-back clients from each checkout in turn
(``--workers`` processes) and prints queue/row p95, requests/s, server CPU per request and the
connections per worker. One at a time: both servers (one worker each) run side by side, and
blocks of ``--requests`` requests per page go to each in turn; it prints the server's CPU per
request. The database is built once with this checkout's code (``--rows``), so both checkouts
must share its schema. Needs psutil (CPU times).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_review as bench  # noqa: E402


def load_round(root: Path, url: str, built: dict, args, seed: int, tmp: Path) -> dict:
    port = bench.free_port()
    server = bench.start_server(url, port, args.workers, tmp=tmp, root=root)
    try:
        hot = random.Random(1).sample(built["ids"], min(args.hot, len(built["ids"])))
        stop_at = time.monotonic() + args.seconds
        clients = [bench.Client(i, f"http://127.0.0.1:{port}", built["ids"], hot, built["facets"], stop_at, seed=seed + i)
                   for i in range(args.clients)]
        run = bench.drive(clients, args.seconds, server.pid, port, tmp)
    finally:
        server.terminate()
        server.wait(30)
    latency = bench.merged_latency(clients)
    requests = sum(len(v) for k, v in latency.items() if not k.startswith("queue page,"))
    return {"queue p95": bench.percentile(latency["queue page"], 95), "row p95": bench.percentile(latency["row page"], 95),
            "req/s": requests / run["elapsed"], "CPU ms/request": 1000 * sum(run["server_cpu_per_process"]) / requests,
            "shares": run["shares"], "errors": sum(len(c.errors) for c in clients)}


def run_load(roots: list[Path], url: str, built: dict, args, folder: Path) -> None:
    figures = {root: [] for root in roots}
    for r in range(args.rounds):
        for i, root in enumerate(roots):
            tmp = folder / f"server-tmp-{r}-{i}"
            tmp.mkdir()
            line = load_round(root, url, built, args, seed=100 * r, tmp=tmp)
            figures[root].append(line)
            print(f"round {r} {str(root):<24} queue p95 {line['queue p95']:6.1f} ms  row p95 {line['row p95']:6.1f} ms  "
                  f"{line['req/s']:5.0f} req/s  {line['CPU ms/request']:5.1f} ms CPU/request  "
                  f"connections per worker {line['shares'] or '?'}  errors {line['errors']}", flush=True)
    for root, lines in figures.items():
        print(f"median {str(root):<24} " + "  ".join(
            f"{key} {statistics.median(x[key] for x in lines):.1f}" for key in ("queue p95", "row p95", "req/s", "CPU ms/request")))


def run_one_at_a_time(roots: list[Path], url: str, built: dict, args) -> None:
    servers = {}
    try:
        for root in roots:
            port = bench.free_port()
            servers[root] = (bench.start_server(url, port, 1, root=root), port)
        pages = {}
        for root, (_server, port) in servers.items():
            browser = bench.Browser(f"http://127.0.0.1:{port}")
            bench.Client(0, "", built["ids"], [], built["facets"], 0, seed=0).login(browser)
            pages[root] = browser
        rng = random.Random(0)
        ids = built["ids"]
        calls = {"/api/me": lambda b: b.get("/api/me"),
                 "row page": lambda b: b.get(f"/rows/{rng.choice(ids)}", {"sort": "risk"}),
                 "queue page": lambda b: b.get("/queue", {"page": rng.choice([1, 2, 3])}),
                 "queue search": lambda b: b.get("/queue", {"q": rng.choice(["满意度", "完成率", "资金", "及时", "培训"])})}
        cpu = {(root, name): [] for root in roots for name in calls}
        for _ in range(args.rounds):
            for root in roots:
                server, browser = servers[root][0], pages[root]
                for name, call in calls.items():
                    call(browser)
                    before = bench.cpu_by_process(server.pid)
                    for _ in range(args.requests):
                        call(browser)
                    after = bench.cpu_by_process(server.pid)
                    cpu[(root, name)].append(1000 * (sum(after.values()) - sum(before.values())) / args.requests)
    finally:
        for server, _port in servers.values():
            server.terminate()
            server.wait(30)
    for (root, name), values in cpu.items():
        print(f"{str(root):<24} {name:<13} server CPU per request: median {statistics.median(values):5.2f} ms "
              f"(rounds: {', '.join(f'{v:.2f}' for v in values)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkouts", nargs=2, type=Path, help="two checkouts of budgetnlp (e.g. git worktrees)")
    parser.add_argument("--one-at-a-time", action="store_true", help="one client, CPU per request (else: under load)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=30.0, help="load: seconds per round and checkout")
    parser.add_argument("--requests", type=int, default=200, help="one at a time: requests per block")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--hot", type=int, default=300)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    if bench.cpu_by_process() is None:
        parser.error("needs psutil for the servers' CPU times (pip install psutil)")
    roots = [root.resolve() for root in args.checkouts]
    if roots[0] == roots[1]:
        parser.error("give two different checkouts (git worktree add /tmp/before COMMIT)")
    for root in roots:
        if not (root / "budgetnlp" / "review").is_dir():
            parser.error(f"{root}: not a budgetnlp checkout (no budgetnlp/review)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'bench.sqlite3'}"
        print(f"building a database of {args.rows:,} rows …", flush=True)
        built = bench.build_database(url, args.rows, args.clients)
        if args.one_at_a_time:
            run_one_at_a_time(roots, url, built, args)
        else:
            run_load(roots, url, built, args, folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
