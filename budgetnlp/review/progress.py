"""Progress: counts per reviewer and department, Cohen's kappa per label, model versions."""

from __future__ import annotations

import json
from collections import defaultdict
from itertools import combinations

import sqlalchemy as sa

from . import db
from .common import LABEL_FIELDS, STATUSES, iso
from .decisions import standing


def cohen_kappa(pairs: list[tuple]) -> float | None:
    """Cohen's kappa of (rater A, rater B) label pairs; None when chance agreement is 1 (undefined)."""
    if not pairs:
        return None
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    count_a, count_b = defaultdict(int), defaultdict(int)
    for a, b in pairs:
        count_a[a] += 1
        count_b[b] += 1
    expected = sum(count_a[k] * count_b[k] for k in set(count_a) | set(count_b)) / (n * n)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def agreement(engine: sa.Engine) -> dict:
    """Per label, Cohen's kappa on rows that two or more reviewers judged (each reviewer's newest
    standing decision; every pair of reviewers on a row is one item, reviewers ordered by name),
    pooled and per reviewer pair."""
    t = db.indicator_rows
    latest: dict[str, dict[str, dict]] = defaultdict(dict)
    with engine.connect() as conn:
        double = list(conn.execute(sa.select(t.c.row_id).where(t.c.n_reviewers >= 2)).scalars())
        for start in range(0, len(double), 500):
            for row_id, lines in standing(conn, double[start : start + 500]).items():
                for line in lines:
                    latest[row_id][line.reviewer] = {k: getattr(line, k) for k in LABEL_FIELDS}
    pooled: dict[str, list] = defaultdict(list)
    per_pair: dict[tuple, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    rows = 0
    for by_reviewer in latest.values():
        if len(by_reviewer) < 2:
            continue
        rows += 1
        for a, b in combinations(sorted(by_reviewer), 2):
            for label in LABEL_FIELDS:
                pair = (by_reviewer[a][label], by_reviewer[b][label])
                pooled[label].append(pair)
                per_pair[(a, b)][label].append(pair)

    def summary(pairs_by_label):
        out = {}
        for label in LABEL_FIELDS:
            pairs = pairs_by_label.get(label, [])
            kappa = cohen_kappa(pairs)
            out[label] = {"n": len(pairs), "kappa": None if kappa is None else round(kappa, 4),
                          "agreement": round(sum(a == b for a, b in pairs) / len(pairs), 4) if pairs else None}
        return out

    return {"rows": rows, "labels": summary(pooled),
            "pairs": [{"reviewers": list(pair), "labels": summary(values)} for pair, values in sorted(per_pair.items())]}


def model_versions(engine: sa.Engine) -> list[dict]:
    """Registered models with their metrics and the rows each scores now (counted through the run
    that last scored each row: the run knows the model's name and version, whatever the rows'
    own model column says — `budgetnlp score` writes ``name@version`` there)."""
    t, r, runs = db.model_versions, db.indicator_rows, db.runs
    with engine.connect() as conn:
        counts = {(name, version): int(n) for name, version, n in conn.execute(
            sa.select(runs.c.model_name, runs.c.model_version, sa.func.count()).select_from(r.join(runs, runs.c.id == r.c.run_id))
            .group_by(runs.c.model_name, runs.c.model_version))}
        out = []
        for row in conn.execute(sa.select(t).order_by(t.c.registered_at, t.c.id)):
            out.append({
                "name": row.name, "version": row.version, "metrics": json.loads(row.metrics or "{}"),
                "card": row.card, "source": row.source, "path": row.path, "registered_at": iso(row.registered_at),
                "rows_scored": counts.get((row.name, row.version), 0),
            })
    return out


def flat_metrics(metrics: dict, prefix: str = "") -> list[tuple[str, object]]:
    """Nested metrics → [("vague.f1", 0.8), …] for display."""
    out = []
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out += flat_metrics(value, name + ".")
        elif isinstance(value, (int, float, str, bool)) or value is None:
            out.append((name, round(value, 4) if isinstance(value, float) else value))
    return out


def progress(engine: sa.Engine) -> dict:
    """Counts per reviewer (standing decisions) and per department, agreement, model versions."""
    t, d = db.indicator_rows, db.decisions
    undone = sa.select(d.c.undoes).where(d.c.undoes.is_not(None))
    with engine.connect() as conn:
        reviewers = [
            {"reviewer": r.reviewer, "decisions": int(r.n), "rows": int(r.rows), "last": iso(r.last)}
            for r in conn.execute(
                sa.select(d.c.reviewer, sa.func.count().label("n"), sa.func.count(sa.distinct(d.c.row_id)).label("rows"),
                          sa.func.max(d.c.decided_at).label("last"))
                .where(d.c.channel != "undo", d.c.id.not_in(undone)).group_by(d.c.reviewer).order_by(d.c.reviewer))
        ]
        departments = defaultdict(lambda: {s: 0 for s in STATUSES})
        for dep, status, n in conn.execute(sa.select(t.c.department, t.c.status, sa.func.count()).group_by(t.c.department, t.c.status)):
            departments[dep][status] = int(n)
    totals = {s: sum(c[s] for c in departments.values()) for s in STATUSES}
    deps = [{"department": dep or "—", **c, "total": sum(c.values()), "done": c["reviewed"] + c["conflict"]}
            for dep, c in sorted(departments.items())]
    return {"totals": {**totals, "total": sum(totals.values())}, "reviewers": reviewers, "departments": deps,
            "agreement": agreement(engine), "models": model_versions(engine)}
