"""Review app under load: a database of ≥100,000 rows, a real uvicorn server, 20 concurrent
logged-in clients for 30 s hitting queue pages (filters, pagination), row pages and decision
saves. Prints p50/p95 latency per endpoint and checks that no decision was lost or duplicated:
every save answered 200 must be exactly one history line (409 conflicts are expected — clients
share a hot set of rows — and counted).

    python evaluation/bench_review.py [--rows 100000] [--clients 20] [--seconds 30] [--workers 2]
                                      [--threads N] [--think 0] [--db URL] [--keep DIR] [--json OUT]

Exit status: 0 when every check holds and p95 < 200 ms for queue and row pages, 1 when a
decision was lost or duplicated or a request failed, 2 when only the latency target was missed.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
PASSWORD = "bench password 1"
TARGET_MS = 200.0
PAGE_ENDPOINTS = ("queue page", "row page")


# ---------------------------------------------------------------- the database
def synthetic_records(n_rows: int, seed: int = 0) -> list[dict]:
    """Sample rows replicated under varied ids, departments, years and projects, with seeded
    random predictions (like `budgetnlp score` output)."""
    from budgetnlp.extract import extract_file
    from budgetnlp.schema import FLAGS, METRIC_TYPES

    import pandas as pd

    base = pd.concat([extract_file(p) for p in sorted(SAMPLES.glob("*.txt"))], ignore_index=True)
    base = base.astype(object).where(base.notna(), None).to_dict("records")
    rng = np.random.default_rng(seed)
    reasons = ["指标值为定性表述，没有可检查的水平", "同一行文字出现在多个无关项目中", "比率未说明对象",
               "指标值是占位词（年度预算）", "满意度未指明群体", "二级指标为时效指标，但指标衡量完成情况"]
    districts = ["东城", "西城", "南湖", "北山", "新区", "开发区", "高新区", "滨海", "河东", "河西"]
    records = []
    copies = -(-n_rows // len(base))
    for copy in range(copies):
        district = districts[copy % len(districts)]
        year = 2019 + copy % 6
        doc_id = hashlib.sha1(f"doc{copy}".encode()).hexdigest()[:16]
        p = rng.beta(0.7, 0.7, (len(base), 4))
        for i, row in enumerate(base):
            if len(records) >= n_rows:
                break
            record = dict(row)
            record.update(
                row_id=hashlib.sha1(f"{copy}:{row['row_id']}".encode()).hexdigest()[:16],
                doc_id=doc_id,
                source_path=f"corpus/{copy:04d}_{Path(str(row['source_path'])).name}",
                department=f"{district}{row['department']}",
                year=year,
                project_name=f"{row['project_name']}（{copy // len(districts) + 1}期）",
                project_code=f"{row['project_code']}-{copy}",
                metric_type=METRIC_TYPES[int(rng.integers(len(METRIC_TYPES)))],
                suggested_metric_type=METRIC_TYPES[int(rng.integers(len(METRIC_TYPES)))],
                risk=float((p[i] * [1.0, 0.6, 0.8, 1.2]).sum()),
                reasons="\n".join(rng.choice(reasons, int(rng.integers(0, 4)), replace=False)),
                suggestion="写明对象和数量" if p[i, 0] > 0.5 else "",
                value_issue="none",
            )
            for j, flag in enumerate(FLAGS):
                record[f"p_{flag}"] = float(p[i, j])
                record[flag] = int(p[i, j] >= 0.5)
            records.append(record)
    return records


def build_database(url: str, n_rows: int, clients: int) -> dict:
    from budgetnlp.review import db, service

    engine = db.make_engine(url)
    db.migrate(engine)
    start = time.perf_counter()
    records = synthetic_records(n_rows)
    synthesized = time.perf_counter() - start
    service.bulk_insert_rows(engine, records, model_name="bench", model_version="1")
    inserted = time.perf_counter() - start - synthesized
    for i in range(clients):
        service.add_user(engine, f"bench{i:02d}", PASSWORD, update=True)
    with engine.begin() as conn:  # planner statistics for the fresh tables (SQLite and PostgreSQL)
        conn.exec_driver_sql("ANALYZE")
    facets = service.facets(engine)
    ids = [r["row_id"] for r in records]
    engine.dispose()
    return {"ids": ids, "facets": facets, "synthesize_s": synthesized, "insert_s": inserted}


# ---------------------------------------------------------------- the server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(url: str, port: int, workers: int, threads: int | None = None,
                 tmp: Path | None = None, root: Path | None = None) -> subprocess.Popen:
    """``review serve`` from the checkout ``root`` (default: this one); with ``tmp``, its temporary
    files (the workers' share file) go there. It runs in ``root``: ``python -m`` puts the working
    directory first on the import path, so a server started elsewhere could import another
    checkout's code."""
    root = root or ROOT
    env = dict(os.environ, PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               **({"TMPDIR": str(tmp)} if tmp else {}))
    process = subprocess.Popen(
        [sys.executable, "-m", "budgetnlp.review.cli", "serve", "--db", url, "--port", str(port),
         "--workers", str(workers), *(["--threads", str(threads)] if threads else []), "--log-level", "warning"],
        env=env, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read().decode(errors='replace')[-2000:]}")
        try:
            if Browser(f"http://127.0.0.1:{port}", timeout=1).get("/login").status_code == 200:
                wait_for_workers(process, workers, deadline)
                return process
        except (OSError, http.client.HTTPException):
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError("server did not start in 60 s")


def wait_for_workers(process: subprocess.Popen, workers: int, deadline: float) -> None:
    """Until every worker process serves. The first answer comes from the first worker up; a
    client connecting before the others have started stays on that worker for the whole run
    (keep-alive), and the bench then measures one worker (measured: all 20 clients on one of
    two). A worker is up once its CPU time stops growing (imports and startup done); without
    psutil, a pause."""
    if workers <= 1:
        return
    try:
        import psutil
    except ImportError:
        time.sleep(5)
        return
    last: dict[int, float] = {}
    while time.monotonic() < deadline:
        try:
            children = psutil.Process(process.pid).children(recursive=True)
            now = {c.pid: sum(c.cpu_times()[:2]) for c in children}
        except psutil.Error:
            return
        if len(now) >= workers and last and all(abs(now[p] - last.get(p, -1.0)) < 0.02 for p in now):
            return
        last = now
        time.sleep(0.5)


# ---------------------------------------------------------------- the clients
class Response:
    def __init__(self, status_code: int, body: bytes):
        self.status_code, self.content = status_code, body

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self):
        return json.loads(self.content)


class Browser:
    """What a browser does on each request, with the standard library (an httpx client cost the
    load generator 2–3 ms of CPU per request, on the cores the server shares): one keep-alive
    connection with TCP_NODELAY (else a POST's body waits on a delayed ACK, ~40 ms per save), the
    cookies the server sets sent back, every response read to its end, no redirect followed."""

    def __init__(self, base: str, timeout: float = 30):
        parsed = urllib.parse.urlsplit(base)
        self.host, self.port, self.timeout = parsed.hostname, parsed.port or 80, timeout
        self.cookies: dict[str, str] = {}
        self.conn: http.client.HTTPConnection | None = None
        self.connections = 0  # opened: the first, and one after each Connection: close

    def _connect(self) -> http.client.HTTPConnection:
        if self.conn is None:
            self.connections += 1
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.conn.connect()
            self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method: str, path: str, params: dict | None = None, body: bytes | None = None,
                headers: dict | None = None) -> Response:
        if params:
            path += "?" + urllib.parse.urlencode(params)
        sent = {"Accept": "*/*", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (0, 1):
            reused = self.conn is not None
            try:
                conn = self._connect()
                conn.request(method, path, body=body, headers=sent)
                response = conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()  # a keep-alive connection the server had closed: a browser retries a GET
                if attempt or not reused or method != "GET":
                    raise
                continue
            except BaseException:
                self.close()
                raise
            break
        for header in response.msg.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            value, _, attributes = rest.partition(";")
            attributes = attributes.lower()
            if "max-age=0" in attributes or "expires=thu, 01 jan 1970" in attributes:
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value.strip()
        if response.will_close:
            self.close()
        return Response(response.status, data)

    def get(self, path: str, params: dict | None = None) -> Response:
        return self.request("GET", path, params)

    def post_form(self, path: str, data: dict) -> Response:
        return self.request("POST", path, body=urllib.parse.urlencode(data).encode(),
                            headers={"Content-Type": "application/x-www-form-urlencoded"})

    def post_json(self, path: str, payload, headers: dict | None = None) -> Response:
        return self.request("POST", path, body=json.dumps(payload).encode(),
                            headers={"Content-Type": "application/json", **(headers or {})})


class Client(threading.Thread):
    def __init__(self, index: int, base: str, ids: list[str], hot: list[str], facets: dict, stop_at: float, seed: int,
                 think: float = 0.0):
        super().__init__(daemon=True)
        self.think = think
        self.name_ = f"bench{index:02d}"
        self.base, self.ids, self.hot, self.facets, self.stop_at = base, ids, hot, facets, stop_at
        self.rng = random.Random(seed)
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.saved: list[dict] = []
        self.conflicts = 0
        self.errors: list[str] = []
        self.connections = 0

    def login(self, client) -> str:
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        response = client.post_form("/login", {"name": self.name_, "password": PASSWORD, "csrf_token": token, "next": "/queue"})
        if response.status_code != 303:
            raise RuntimeError(f"{self.name_}: login failed ({response.status_code})")
        return client.get("/api/me").json()["csrf_token"]

    def timed(self, endpoint: str, call):
        start = time.perf_counter()
        response = call()
        self.latency[endpoint].append((time.perf_counter() - start) * 1000)
        return response

    def queue_params(self) -> dict:
        r = self.rng.random
        params = {"sort": "uncertainty" if r() < 0.3 else "risk", "page": self.rng.choice([1, 1, 1, 2, 3, 5, 10, 50, 200])}
        if r() < 0.4:
            params["department"] = self.rng.choice(self.facets["departments"])
        if r() < 0.3:
            params["year"] = self.rng.choice(self.facets["years"])
        if r() < 0.25:
            params["flag"] = self.rng.choice(["vague", "boilerplate", "category_mismatch", "unmeasurable"])
        if r() < 0.25:
            params["status"] = self.rng.choice(["unreviewed", "reviewed", "conflict"])
        if r() < 0.1:
            params["metric_type"] = self.rng.choice(["percent", "count", "text"])
        if r() < 0.15:
            params["q"] = self.rng.choice(["满意度", "完成率", "资金", "及时", "培训"])
        return params

    def run(self):
        client = Browser(self.base, timeout=30)
        try:
            try:
                token = self.login(client)
            except Exception as exc:  # noqa: BLE001 - reported as a failure
                self.errors.append(str(exc))
                return
            while time.monotonic() < self.stop_at:
                choice = self.rng.random()
                try:
                    if choice < 0.4:
                        params = self.queue_params()
                        response = self.timed("queue page", lambda: client.get("/queue", params=params))
                        self.latency["queue page, search" if "q" in params else "queue page, no search"].append(
                            self.latency["queue page"][-1])
                        self.check(response, "queue page")
                    elif choice < 0.75:
                        row_id = self.rng.choice(self.ids)
                        response = self.timed("row page", lambda: client.get(f"/rows/{row_id}", params={"sort": "risk"}))
                        self.check(response, "row page")
                    else:
                        self.save(client, token)
                except (OSError, http.client.HTTPException) as exc:
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                if self.think:
                    time.sleep(min(self.rng.expovariate(1 / self.think), max(0.0, self.stop_at - time.monotonic())))
        finally:
            self.connections = client.connections
            client.close()

    def check(self, response, what):
        if response.status_code != 200:
            self.errors.append(f"{what}: HTTP {response.status_code}")

    def save(self, client, token):
        row_id = self.rng.choice(self.hot)
        response = self.timed("row API", lambda: client.get(f"/api/rows/{row_id}"))
        self.check(response, "row API")
        row = response.json()["row"]
        body = {f: int(self.rng.random() < 0.5) for f in ("vague", "boilerplate", "category_mismatch", "unmeasurable")}
        body.update(base_version=row["version"], metric_type=row["labels"]["metric_type"],
                    suggested_metric_type=row["labels"]["suggested_metric_type"], note=f"{self.name_} bench")
        time.sleep(self.rng.uniform(0, 0.05))  # a moment of "reading", so saves on hot rows overlap
        response = self.timed("decision save", lambda: client.post_json(f"/api/rows/{row_id}/decision", body,
                                                                         headers={"X-CSRF-Token": token}))
        if response.status_code == 200:
            self.saved.append(response.json())
        elif response.status_code == 409:
            self.conflicts += 1
        else:
            self.errors.append(f"decision save: HTTP {response.status_code} {response.text[:200]}")


def cpu_by_process(pid: int | None = None, children: bool = True) -> dict[int, float] | None:
    """User + system CPU seconds of a process and (optionally) its children, per pid — psutil
    when installed, else None."""
    try:
        import psutil
    except ImportError:
        return None
    try:
        process = psutil.Process(pid)
        out = {}
        for p in [process, *(process.children(recursive=True) if children else [])]:
            times = p.cpu_times()
            out[p.pid] = times.user + times.system
        return out
    except psutil.Error:
        return None


def connections_per_worker(server_pid: int, port: int, server_tmp: Path) -> list[int] | None:
    """Each worker's open connections to ``port``: as the kernel counts them (psutil), else from
    the workers' share file (``review serve`` keeps it in its temporary folder); None without
    either (one worker without psutil, or no ``fcntl``)."""
    try:
        import psutil

        counts = []
        for child in psutil.Process(server_pid).children(recursive=True):
            held = [c.status for c in child.net_connections("tcp") if c.laddr and c.laddr.port == port]
            if held:  # a worker: it holds the listening socket (uvicorn's helper processes hold none)
                counts.append(held.count("ESTABLISHED"))
        return sorted(counts, reverse=True) or None
    except ImportError:
        pass
    except psutil.Error:
        return None
    from budgetnlp.review import connections

    files = sorted(server_tmp.glob("budgetnlp-review-*.workers"))
    return connections.read_counts(files[0]) if files else None


def drive(clients: list[Client], seconds: float, server_pid: int, port: int, server_tmp: Path) -> dict:
    """Runs the clients to their end: the time it took, the connections per worker at mid-run,
    and the CPU seconds of each server process and of the load generator (None without psutil)."""
    server_before, client_before = cpu_by_process(server_pid), cpu_by_process(children=False)
    started = time.monotonic()
    for c in clients:
        c.start()
    time.sleep(seconds / 2)
    shares = connections_per_worker(server_pid, port, server_tmp)
    for c in clients:
        c.join()
    elapsed = time.monotonic() - started
    server_after, client_after = cpu_by_process(server_pid), cpu_by_process(children=False)
    per_process = client_cpu = None
    if server_before is not None and server_after is not None:
        # per process: uvicorn's workers each run on one core (the GIL); a worker that idles
        # while the other is saturated shows here
        per_process = sorted((v - server_before.get(p, 0.0) for p, v in server_after.items()), reverse=True)
        client_cpu = sum(client_after.values()) - sum(client_before.values())
    return {"elapsed": elapsed, "shares": shares, "server_cpu_per_process": per_process, "client_cpu": client_cpu}


def merged_latency(clients: list[Client]) -> dict[str, list[float]]:
    """Every client's latencies, per endpoint."""
    latency = defaultdict(list)
    for c in clients:
        for endpoint, values in c.latency.items():
            latency[endpoint] += values
    return latency


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q / 100 * len(ordered) + 0.5)) - 1))]


# ---------------------------------------------------------------- integrity
def check_integrity(url: str, saved: list[dict]) -> dict:
    import sqlalchemy as sa

    from budgetnlp.review import db

    engine = db.make_engine(url)
    with engine.connect() as conn:
        history = conn.execute(sa.select(db.decisions.c.id, db.decisions.c.row_id, db.decisions.c.version,
                                         db.decisions.c.reviewer)).all()
        versions = dict(conn.execute(sa.select(db.indicator_rows.c.row_id, db.indicator_rows.c.version)
                                     .where(db.indicator_rows.c.version > 0)).all())
    engine.dispose()
    by_id = {h.id: h for h in history}
    lost = [s for s in saved if s["decision_id"] not in by_id
            or (by_id[s["decision_id"]].row_id, by_id[s["decision_id"]].version, by_id[s["decision_id"]].reviewer)
            != (s["row_id"], s["version"], s["decided_by"])]
    keys = [(h.row_id, h.version) for h in history]
    per_row = defaultdict(list)
    for row_id, version in keys:
        per_row[row_id].append(version)
    gaps = [r for r, v in per_row.items() if sorted(v) != list(range(1, len(v) + 1)) or versions.get(r) != len(v)]
    return {"saves_200": len(saved), "history_lines": len(history), "lost": len(lost),
            "duplicated": len(keys) - len(set(keys)), "unacknowledged": len(history) - len(saved), "row_version_mismatch": len(gaps)}


# ---------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes (`review serve --workers`)")
    parser.add_argument("--threads", type=int, help="threads per worker (`review serve --threads`; default: serve's)")
    parser.add_argument("--think", type=float, default=0.0,
                        help="mean pause between a client's requests, seconds (0: back to back, a closed-loop stress test)")
    parser.add_argument("--hot", type=int, default=300, help="rows the saves are drawn from (overlaps make conflicts)")
    parser.add_argument("--db", help="database URL (default: a new SQLite file in a temporary folder)")
    parser.add_argument("--keep", type=Path, help="keep the SQLite database in this folder")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        if not args.db:
            for leftover in folder.glob("bench.sqlite3*"):  # a database kept by an earlier run
                leftover.unlink()
        url = args.db or f"sqlite:///{folder / 'bench.sqlite3'}"
        print(f"building a database of {args.rows:,} rows ({url.split('://')[0]}) …", flush=True)
        built = build_database(url, args.rows, args.clients)
        print(f"  synthesized in {built['synthesize_s']:.1f} s, inserted in {built['insert_s']:.1f} s "
              f"({args.rows / built['insert_s']:,.0f} rows/s)", flush=True)
        port = free_port()
        server_tmp = folder / "server-tmp"
        server_tmp.mkdir(exist_ok=True)
        server = start_server(url, port, args.workers, args.threads, tmp=server_tmp)
        try:
            ids = built["ids"]
            hot = random.Random(1).sample(ids, min(args.hot, len(ids)))
            stop_at = time.monotonic() + args.seconds
            clients = [Client(i, f"http://127.0.0.1:{port}", ids, hot, built["facets"], stop_at, seed=i, think=args.think)
                       for i in range(args.clients)]
            print(f"{args.clients} clients for {args.seconds:.0f} s against {args.workers} worker(s) "
                  f"({args.threads or 'default'} thread(s) each), think time {args.think:g} s …", flush=True)
            load_before = os.getloadavg()[0]
            run = drive(clients, args.seconds, server.pid, port, server_tmp)
            elapsed, shares, per_worker = run["elapsed"], run["shares"], run["server_cpu_per_process"]
            server_cpu = client_cpu = None
            if per_worker is not None:
                server_cpu, client_cpu = sum(per_worker), run["client_cpu"]
            load_after = os.getloadavg()[0]
        finally:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
        latency = merged_latency(clients)
        saved = [s for c in clients for s in c.saved]
        conflicts = sum(c.conflicts for c in clients)
        errors = [e for c in clients for e in c.errors]
        integrity = check_integrity(url, saved)

    print(f"\n{'endpoint':<15}{'requests':>9}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    figures = {}
    for endpoint in ("queue page", "  no search", "  search", "row page", "row API", "decision save"):
        key = {"  no search": "queue page, no search", "  search": "queue page, search"}.get(endpoint, endpoint)
        values = latency.get(key, [])
        if not values:
            continue
        figures[key] = {"requests": len(values), "p50_ms": statistics.median(values), "p95_ms": percentile(values, 95),
                        "p99_ms": percentile(values, 99), "max_ms": max(values)}
        f = figures[key]
        print(f"{endpoint:<15}{f['requests']:>9}{f['requests'] / elapsed:>8.1f}{f['p50_ms']:>9.1f}{f['p95_ms']:>9.1f}"
              f"{f['p99_ms']:>9.1f}{f['max_ms']:>9.1f}")
    total = sum(len(v) for k, v in latency.items() if not k.startswith("queue page,"))
    print(f"\nall requests: {total} in {elapsed:.1f} s ({total / elapsed:.0f} req/s); errors: {len(errors)}")
    if server_cpu is not None:
        print(f"CPU: server {server_cpu:.1f} s ({1000 * server_cpu / max(total, 1):.1f} ms per request; per process "
              f"{', '.join(f'{v:.1f}' for v in per_worker if v >= 0.05)} s), load generator "
              f"{client_cpu:.1f} s, on {os.cpu_count()} cores; load average {load_before:.1f} before, {load_after:.1f} after")
    print(f"decision saves: {integrity['saves_200']} answered 200, {conflicts} answered 409 (conflicts, expected)")
    print(f"history lines: {integrity['history_lines']}; lost: {integrity['lost']}; duplicated: {integrity['duplicated']}; "
          f"in history but never acknowledged: {integrity['unacknowledged']}; rows whose version ≠ their history: "
          f"{integrity['row_version_mismatch']}")
    if shares:
        print(f"connections per worker at mid-run: {', '.join(map(str, shares))}; "
              f"connections the clients opened: {sum(c.connections for c in clients)} for {len(clients)} clients")
    for e in errors[:10]:
        print(f"  error: {e}")
    ok = not errors and integrity["lost"] == 0 and integrity["duplicated"] == 0 and integrity["unacknowledged"] == 0 \
        and integrity["row_version_mismatch"] == 0 and integrity["saves_200"] > 0
    fast = all(figures.get(e, {}).get("p95_ms", 0) < TARGET_MS for e in PAGE_ENDPOINTS)
    print(f"integrity: {'OK' if ok else 'FAILED'}; p95 < {TARGET_MS:.0f} ms for queue and row pages: {'yes' if fast else 'NO'}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"rows": args.rows, "clients": args.clients, "seconds": elapsed, "workers": args.workers, "threads": args.threads,
                                         "think_s": args.think, "server_cpu_s": server_cpu, "server_cpu_per_process_s": per_worker if server_cpu is not None else None,
                                         "connections_per_worker_mid_run": shares, "connections_opened": sum(c.connections for c in clients), "client_cpu_s": client_cpu,
                                         "load_average": [load_before, load_after], "cpus": os.cpu_count(), "latency": figures, "conflicts": conflicts, "errors": len(errors),
                                         "integrity": integrity}, indent=2), encoding="utf-8")
    return 0 if ok and fast else (1 if not ok else 2)


if __name__ == "__main__":
    sys.exit(main())
