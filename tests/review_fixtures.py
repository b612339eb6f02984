"""Fixtures for the review app's tests: synthetic scoring runs and logged-in clients.

``make_run`` writes a folder shaped like `budgetnlp score` output (DESIGN.md, "The scored
table"): scored.parquet + scored.csv with the row columns (extracted from data/samples, 278
rows) plus seeded random flags, probabilities, reasons ("\\n"-separated), risk, metric types
and a suggestion, and summary.json with the model's name, version and metrics.
"""

from __future__ import annotations

import functools
import json
import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from budgetnlp.extract import extract_file
from budgetnlp.schema import FLAGS, METRIC_TYPES

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
PASSWORD = "correct horse battery"
REASONS = [
    "指标值为定性表述，没有可检查的水平",
    "同一行文字出现在多个无关项目中",
    "比率未说明对象",
    "指标值是占位词（年度预算）",
    "数字不可读：≥9090%及以上",
    "满意度未指明群体",
    "二级指标为时效指标，但指标衡量完成情况",
]
POSTGRES_ENV = "BUDGETNLP_TEST_POSTGRES_URL"


@functools.lru_cache(maxsize=1)
def sample_rows() -> pd.DataFrame:
    """The three samples' extracted rows (278), with source_path relative to the repository."""
    frames = []
    for path in sorted(SAMPLES.glob("*.txt")):
        frame = extract_file(path)
        frame["source_path"] = f"data/samples/{path.name}"
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def scored_frame(rows: pd.DataFrame | None = None, seed: int = 0, model: str = "budgetnlp-test 1") -> pd.DataFrame:
    rows = (sample_rows() if rows is None else rows).copy()
    rng = np.random.default_rng(seed)
    n = len(rows)
    for flag in FLAGS:
        p = rng.beta(0.7, 0.7, n)
        rows[f"p_{flag}"] = p.round(4)
        rows[flag] = (p >= 0.5).astype(int)
    rows["metric_type"] = rng.choice(METRIC_TYPES, n)
    rows["suggested_metric_type"] = np.where(rng.random(n) < 0.7, rows["metric_type"], rng.choice(METRIC_TYPES, n))
    rows["value_op"] = rng.choice(["=", "≥", "≤", ""], n)
    rows["value_number"] = np.where(rng.random(n) < 0.7, rng.integers(1, 100, n).astype(float), np.nan)
    rows["value_low"] = np.nan
    rows["value_high"] = np.nan
    rows["value_unit"] = rng.choice(["%", "人", "万元", "个", ""], n)
    rows["value_deadline"] = np.where(rng.random(n) < 0.2, "2023-12-31", "")
    rows["value_issue"] = rng.choice(["none", "none", "none", "malformed", "placeholder"], n)
    weights = {"vague": 1.0, "boilerplate": 0.6, "category_mismatch": 0.8, "unmeasurable": 1.2}
    rows["risk"] = sum(rows[f"p_{f}"] * w for f, w in weights.items()).round(4)
    rows["reasons"] = ["\n".join(rng.choice(REASONS, rng.integers(0, 4), replace=False)) for _ in range(n)]
    rows["suggestion"] = np.where(rng.random(n) < 0.5, "写明对象和数量，如：培训人数 ≥120人", "")
    rows["model"] = model
    return rows


def make_run(
    out_dir: Path,
    *,
    seed: int = 0,
    model_name: str = "budgetnlp-test",
    model_version: str = "1",
    created_at: datetime | None = None,
    metrics: dict | None = None,
    rows: pd.DataFrame | None = None,
) -> Path:
    """Write a scoring-run folder and return it."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frame = scored_frame(rows, seed, f"{model_name} {model_version}")
    frame.to_parquet(out_dir / "scored.parquet", index=False)
    frame.to_csv(out_dir / "scored.csv", index=False, encoding="utf-8-sig")
    created = created_at or datetime(2024, 6, 1, 8, 0, tzinfo=timezone.utc) + timedelta(hours=int(model_version) if model_version.isdigit() else 0)
    summary = {
        "model": {"name": model_name, "version": model_version,
                  "metrics": metrics if metrics is not None else {"vague": {"f1": 0.81, "auprc": 0.77}, "macro_f1": 0.74}},
        "created_at": created.isoformat(),
        "inputs": sorted({str(p) for p in frame["source_path"]}),
        "rows": len(frame),
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    return out_dir


# ---------------------------------------------------------------- HTTP helpers
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no csrf_token field in the page"
    return match.group(1)


def login(client, name: str, password: str = PASSWORD):
    """Log in through the form (GET /login for the token, then POST); returns the response."""
    page = client.get("/login")
    token = csrf_from(page.text)
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token, "next": "/queue"},
                       follow_redirects=False)


def api_token(client) -> str:
    return client.get("/api/me").json()["csrf_token"]


def decision_body(row: dict, *, base_version: int | None = None, note: str = "", **flags) -> dict:
    """A JSON decision: the row's current labels, with ``flags`` overriding."""
    labels = row["labels"]
    body = {f: int(flags.get(f, labels[f])) for f in FLAGS}
    body["metric_type"] = flags.get("metric_type", labels["metric_type"])
    body["suggested_metric_type"] = flags.get("suggested_metric_type", labels["suggested_metric_type"])
    body["base_version"] = row["version"] if base_version is None else base_version
    body["note"] = note
    return body


# ---------------------------------------------------------------- PostgreSQL
def postgres_url_or_skip():
    """The test PostgreSQL URL; skipped with a reason when unset — except under CI=true, where
    it fails, so CI can never skip the PostgreSQL run silently."""
    import pytest

    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    message = (f"{POSTGRES_ENV} is not set: set it to a throwaway PostgreSQL database "
               "(e.g. postgresql+psycopg://postgres@127.0.0.1:5433/budgetnlp_test) to run the PostgreSQL variant")
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {message}", pytrace=False)
    pytest.skip(message)


def postgres_schema_url(base_url: str, schema: str) -> str:
    """A URL whose connections use ``schema`` (search_path) — one schema per test, dropped after."""
    from sqlalchemy.engine import make_url

    url = make_url(base_url)
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


def create_postgres_schema(base_url: str, schema: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(base_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine.dispose()


def drop_postgres_schema(base_url: str, schema: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(base_url)
    with engine.begin() as conn:
        # a connection left open by a failed test must not hang the suite: fail after 30 s instead
        conn.exec_driver_sql("SET lock_timeout = '30s'")
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    engine.dispose()
