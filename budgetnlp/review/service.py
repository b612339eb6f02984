"""The review app's work as plain functions over an SQLAlchemy engine.

Routes in ``app.py`` and commands in ``cli.py`` only parse input and call these. Every function
opens and closes its own transaction.

Concurrency: every indicator row carries a ``version``. A save names the version it was based on;
the row is updated with a compare-and-set (``UPDATE … WHERE row_id = :id AND version = :base``)
and the history line is appended in the same transaction, so two reviewers saving the same row
never overwrite each other silently: the second gets :class:`Conflict` with the first one's
decision. The ``decisions`` history is append-only (the database refuses UPDATE/DELETE).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import secrets
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import combinations
from pathlib import Path

import sqlalchemy as sa

from .._text import nfkc
from ..errors import BudgetNLPError, InputError
from ..schema import FLAGS, METRIC_TYPES, ROW_COLUMNS, SCORED_COLUMNS
from . import db, fulltext

ROLES = ("reviewer", "admin")
STATUSES = ("unreviewed", "reviewed", "conflict")
#: queue status filters: the three row states plus the current reviewer's own coverage
STATUS_FILTERS = (*STATUSES, "mine", "not_mine")
SORTS = ("risk", "uncertainty")
NOTE_MAX = 2000
PASSWORD_MIN = 8
PER_PAGE_MAX = 200
LABEL_FIELDS = (*FLAGS, "metric_type", "suggested_metric_type")

FLAG_NAMES = {"vague": "模糊", "boilerplate": "套话/模板", "category_mismatch": "类别错配", "unmeasurable": "不可衡量"}
METRIC_TYPE_NAMES = {
    "percent": "百分比", "count": "数量", "amount": "金额", "time": "时间",
    "boolean": "是/否", "grade": "等级", "text": "文字", "empty": "空",
}
STATUS_NAMES = {"unreviewed": "未审", "reviewed": "已审", "conflict": "分歧", "mine": "我审过的", "not_mine": "我未审的"}
ROLE_NAMES = {"reviewer": "审核员", "admin": "管理员"}


# ---------------------------------------------------------------- errors
class ReviewError(BudgetNLPError):
    """Base of the review service's errors."""


class NotFound(ReviewError):
    """No such row, project or user."""


class ValidationError(ReviewError):
    """Input that fails the checks (the web layer answers 422)."""


class Conflict(ReviewError):
    """A save based on a version that is no longer current (the web layer answers 409).

    ``current`` holds, per row id, the row's state now: version, status, and the decision that
    made it (reviewer, time, labels, note)."""

    def __init__(self, current: dict[str, dict]):
        self.current = current
        who = ", ".join(f"{row_id} (版本 {state['version']}, {state.get('decided_by') or '—'})" for row_id, state in current.items())
        super().__init__(f"已被他人修改: {who}")


# ---------------------------------------------------------------- small helpers
def now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(value):
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def iso(value) -> str:
    value = _aware(value)
    return value.isoformat() if isinstance(value, datetime) else (value or "")


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, (list, tuple)):
        return "\n".join(_text(v) for v in value)
    if hasattr(value, "tolist") and not isinstance(value, str):  # numpy arrays from parquet
        return _text(value.tolist())
    return str(value)


def _float(value, default=None):
    try:
        out = float(value)
    except (TypeError, ValueError):
        return default
    return default if math.isnan(out) or math.isinf(out) else out


def _int01(value) -> int:
    number = _float(value, 0.0)
    return 1 if number >= 0.5 else 0


def _year(value):
    number = _float(value)
    return int(number) if number is not None else None


def project_key(doc_id: str, project_code: str, project_name: str) -> str:
    return hashlib.sha1(f"{doc_id}\x1f{project_code}\x1f{project_name}".encode("utf-8")).hexdigest()[:16]


# ---------------------------------------------------------------- passwords and users
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    """scrypt with a per-user 16-byte salt: ``scrypt$n$r$p$salt$hash`` (base64)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, maxmem=64 * 1024 * 1024, **_SCRYPT)
    b64 = lambda b: base64.b64encode(b).decode("ascii")  # noqa: E731
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${b64(salt)}${b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Recompute and compare in constant time; malformed hashes never match."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
            dklen=len(expected), maxmem=64 * 1024 * 1024,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


_DUMMY_HASH = None
_NAME = re.compile(r"^[^\s\x00-\x1f\x7f:/\\<>\"'&]{1,64}$")


def check_user_name(name: str) -> str:
    name = (name or "").strip()
    if not _NAME.match(name):
        raise ValidationError(f"invalid user name {name!r}: 1–64 characters, no spaces, quotes, colons, slashes or <>&")
    return name


def add_user(engine: sa.Engine, name: str, password: str, role: str = "reviewer", *, update: bool = False) -> dict:
    """Create a user (or, with ``update``, reset an existing user's password and role)."""
    name = check_user_name(name)
    if role not in ROLES:
        raise ValidationError(f"invalid role {role!r}: use one of {', '.join(ROLES)}")
    if len(password or "") < PASSWORD_MIN:
        raise ValidationError(f"password too short: at least {PASSWORD_MIN} characters")
    if len(password) > 1024:
        raise ValidationError("password too long: at most 1024 characters")
    hashed = hash_password(password)
    with engine.begin() as conn:
        existing = conn.execute(sa.select(db.users.c.id).where(db.users.c.name == name)).scalar()
        if existing is not None:
            if not update:
                raise ValidationError(f"user {name!r} exists already (use --update to reset the password and role)")
            conn.execute(db.users.update().where(db.users.c.id == existing).values(password_hash=hashed, role=role, active=True))
            user_id = existing
        else:
            user_id = conn.execute(
                db.users.insert().values(name=name, role=role, password_hash=hashed, active=True, created_at=now())
            ).inserted_primary_key[0]
    return {"id": user_id, "name": name, "role": role}


def disable_user(engine: sa.Engine, name: str) -> None:
    """Refuse this account's logins and end its sessions (its decisions stay in the history;
    ``add_user(..., update=True)`` enables it again with a new password)."""
    with engine.begin() as conn:
        if conn.execute(db.users.update().where(db.users.c.name == name).values(active=False)).rowcount == 0:
            raise ValidationError(f"no user named {name!r}")


def _user_dict(row) -> dict:
    return {"id": row.id, "name": row.name, "role": row.role, "active": bool(row.active), "stamp": row.password_hash[-12:]}


def authenticate(engine: sa.Engine, name: str, password: str) -> dict | None:
    """The user when name and password match an active account, else None (same cost either way)."""
    global _DUMMY_HASH
    with engine.connect() as conn:
        row = conn.execute(sa.select(db.users).where(db.users.c.name == (name or "").strip())).first()
    if row is None or not row.active:
        _DUMMY_HASH = _DUMMY_HASH or hash_password("not-a-password")
        verify_password(password or "", _DUMMY_HASH)
        return None
    return _user_dict(row) if verify_password(password or "", row.password_hash) else None


def get_user(engine: sa.Engine, user_id: int) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(db.users).where(db.users.c.id == user_id)).first()
    return _user_dict(row) if row is not None and row.active else None


def list_users(engine: sa.Engine) -> list[dict]:
    with engine.connect() as conn:
        return [_user_dict(r) for r in conn.execute(sa.select(db.users).order_by(db.users.c.name))]


def session_secret(engine: sa.Engine) -> str:
    """The cookie-signing secret kept in the database (created on first use)."""
    with engine.connect() as conn:
        value = conn.execute(sa.select(db.settings.c.value).where(db.settings.c.key == "session_secret")).scalar()
    if value:
        return value
    try:
        with engine.begin() as conn:
            conn.execute(db.settings.insert().values(key="session_secret", value=secrets.token_urlsafe(48)))
    except sa.exc.IntegrityError:  # another worker created it first
        pass
    with engine.connect() as conn:
        return conn.execute(sa.select(db.settings.c.value).where(db.settings.c.key == "session_secret")).scalar()


# ---------------------------------------------------------------- scoring runs
SCORED_FILES = ("scored.parquet", "scored.csv")


def read_run(out_dir: str | Path):
    """A scoring run folder → (summary dict, scored frame, run key). Raises InputError naming the file."""
    import pandas as pd

    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise InputError(out_dir, "no such scoring run folder (written by `budgetnlp score`)")
    summary_path = out_dir / "summary.json"
    if not summary_path.is_file():
        raise InputError(summary_path, "missing: a scoring run folder needs summary.json")
    try:
        summary_bytes = summary_path.read_bytes()
        summary = json.loads(summary_bytes.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(summary_path, f"not valid JSON ({exc})") from None
    model = summary.get("model") if isinstance(summary, dict) else None
    if not isinstance(model, dict) or not model.get("name") or not model.get("version"):
        raise InputError(summary_path, 'needs {"model": {"name": …, "version": …}}')
    created = _parse_time(summary.get("created_at"))
    if created is None:
        raise InputError(summary_path, f"created_at is not an ISO timestamp: {summary.get('created_at')!r}")
    scored_path = next((out_dir / f for f in SCORED_FILES if (out_dir / f).is_file()), None)
    if scored_path is None:
        raise InputError(out_dir, "missing scored.parquet (or scored.csv)")
    try:
        if scored_path.suffix == ".parquet":
            frame = pd.read_parquet(scored_path)
        else:
            frame = pd.read_csv(scored_path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (ValueError, OSError) as exc:
        raise InputError(scored_path, f"unreadable ({exc})") from None
    required = ["row_id", "name", "value", *FLAGS, *(f"p_{f}" for f in FLAGS)]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(scored_path, f"missing columns {', '.join(missing)}")
    ids = frame["row_id"].astype(str)
    if (ids.str.len() == 0).any():
        raise InputError(scored_path, f"empty row_id on line {int((ids.str.len() == 0).to_numpy().argmax()) + 2}")
    key = hashlib.sha256(summary_bytes + hashlib.sha256(scored_path.read_bytes()).digest()).hexdigest()
    summary["created_at"] = created
    return summary, frame, key


def _parse_time(value) -> datetime | None:
    if isinstance(value, datetime):
        return _aware(value)
    try:
        return _aware(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except (TypeError, ValueError):
        return None


_KNOWN = set(ROW_COLUMNS) | set(SCORED_COLUMNS) | {"suggestion"}


def _row_record(record: dict, position: int, run_id: int, model_label: str) -> dict:
    p = {f: min(1.0, max(0.0, _float(record.get(f"p_{f}"), 0.0))) for f in FLAGS}
    metric = _text(record.get("metric_type")) or "text"
    suggested = _text(record.get("suggested_metric_type")) or metric
    extra = {k: _text(v) for k, v in record.items() if k not in _KNOWN and _text(v)}
    doc_id, code, name = _text(record.get("doc_id")), _text(record.get("project_code")), _text(record.get("project_name"))
    source = _text(record.get("source_path"))
    return {
        "row_id": _text(record["row_id"]),
        "doc_id": doc_id,
        "source_path": source,
        "doc": Path(source).name if source else doc_id,
        "department": _text(record.get("department")),
        "year": _year(record.get("year")),
        "project_key": project_key(doc_id, code, name),
        "project_code": code,
        "project_name": name,
        "project_budget": _float(record.get("project_budget")),
        **{c: _text(record.get(c)) for c in ("fund_use", "project_goals", "level1", "level2", "level1_norm", "level2_norm",
                                             "name", "description", "value", "basis", "location")},
        "position": position,
        "extra": json.dumps(extra, ensure_ascii=False),
        **{f: _int01(record.get(f)) for f in FLAGS},
        **{f"p_{f}": p[f] for f in FLAGS},
        "metric_type": metric if metric in METRIC_TYPES else "text",
        "suggested_metric_type": suggested if suggested in METRIC_TYPES else "text",
        "value_op": _text(record.get("value_op")),
        "value_number": _float(record.get("value_number")),
        "value_low": _float(record.get("value_low")),
        "value_high": _float(record.get("value_high")),
        "value_unit": _text(record.get("value_unit")),
        "value_deadline": _text(record.get("value_deadline")),
        "value_issue": _text(record.get("value_issue")),
        "risk": _float(record.get("risk"), 0.0),
        "margin": min(abs(p[f] - 0.5) for f in FLAGS),
        "reasons": _text(record.get("reasons")),
        "suggestion": _text(record.get("suggestion")),
        "model": _text(record.get("model")) or model_label,
        "run_id": run_id,
    }


def _with_labels(row: dict) -> dict:
    """A new row's current labels are the model's."""
    row.update({f"l_{f}": row[f] for f in FLAGS}, l_metric_type=row["metric_type"])
    return row


#: indicator_rows columns copied into row_search so that a text search filters, counts and sorts in one pass
SEARCH_COPY = ["status", "year", "department", *(f"l_{f}" for f in FLAGS), "l_metric_type", "risk", "margin", "project_key"]


def _search_record(row: dict) -> dict:
    return {
        "row_id": row["row_id"],
        "text": search_key("\x1f".join(row[c] for c in ("name", "description", "value", "project_name"))),
        "project": search_key(f"{row['project_name']}\x1f{row['project_code']}"),
        **{c: row.get(c, "unreviewed" if c == "status" else None) for c in SEARCH_COPY},
    }


def _insert_rows(conn, rows: list[dict]) -> None:
    """Insert new rows (with their current labels set) into indicator_rows, row_search and the text index."""
    conn.execute(db.indicator_rows.insert(), rows)
    searchable = [_search_record(r) for r in rows]
    conn.execute(db.row_search.insert(), searchable)
    fulltext.index_rows(conn, searchable)


def _sync_search(conn, condition) -> None:
    """Copy the queue columns of the rows matching ``condition`` (on row_search) from indicator_rows."""
    r, s = db.indicator_rows, db.row_search
    conn.execute(s.update().where(condition).values(
        {c: sa.select(r.c[c]).where(r.c.row_id == s.c.row_id).scalar_subquery() for c in SEARCH_COPY}))


REVIEW_COLUMNS = ("version", "status", *(f"d_{f}" for f in FLAGS), "d_metric_type", "d_suggested_metric_type", "d_note",
                  "decided_by", "decided_at", "n_reviewers", *(f"l_{f}" for f in FLAGS), "l_metric_type")
PREDICTION_COLUMNS = [c.name for c in db.indicator_rows.columns if c.name != "row_id" and c.name not in REVIEW_COLUMNS]


def import_run(engine: sa.Engine, out_dir: str | Path, *, progress=None) -> dict:
    """Load a scoring run. New rows are inserted; rows already there get this run's predictions
    when this run is at least as new (summary created_at) as the run that scored them — never
    touching version, status or decisions. Importing the same run twice changes nothing."""
    summary, frame, key = read_run(out_dir)
    model = summary["model"]
    created = summary["created_at"]
    model_label = f"{model['name']} {model['version']}"
    result = {"run_id": None, "new_run": False, "rows": len(frame), "inserted": 0, "updated": 0, "unchanged": 0, "older": 0,
              "model": model_label}
    with engine.begin() as conn:
        run_id = conn.execute(sa.select(db.runs.c.id).where(db.runs.c.run_key == key)).scalar()
        if run_id is not None:
            result.update(run_id=run_id, unchanged=len(frame))
            return result
        run_id = conn.execute(
            db.runs.insert().values(
                run_key=key, model_name=str(model["name"]), model_version=str(model["version"]), created_at=created,
                imported_at=now(), source=str(Path(out_dir).resolve()), rows=len(frame),
                summary=json.dumps({k: v for k, v in summary.items() if k != "created_at"} | {"created_at": iso(created)},
                                   ensure_ascii=False, default=str),
            )
        ).inserted_primary_key[0]
        result.update(run_id=run_id, new_run=True)
        _register_model_version(conn, str(model["name"]), str(model["version"]), model.get("metrics") or {}, "", "run",
                                str(Path(out_dir).resolve()))
        existing = {
            r.row_id: _aware(r.created_at)
            for r in conn.execute(
                sa.select(db.indicator_rows.c.row_id, db.runs.c.created_at).join(db.runs, db.runs.c.id == db.indicator_rows.c.run_id)
            )
        }
        inserts, updates, seen = [], [], set()
        for position, record in enumerate(frame.to_dict("records")):
            row = _row_record(record, position, run_id, model_label)
            if row["row_id"] in seen:
                continue
            seen.add(row["row_id"])
            previous = existing.get(row["row_id"], "absent")
            if previous == "absent":
                inserts.append(row)
            elif previous is None or created >= previous:
                updates.append(row)
            else:
                result["older"] += 1
        for start in range(0, len(inserts), 5000):
            _insert_rows(conn, [_with_labels(r) for r in inserts[start : start + 5000]])
            if progress:
                progress(min(start + 5000, len(inserts)))
        if updates:
            table = db.indicator_rows
            # an unreviewed row's current labels follow the model; a reviewed row's stay the reviewer's
            follow = {f"l_{c}": sa.case((table.c.version == 0, sa.bindparam(f"b_{c}")), else_=table.c[f"l_{c}"])
                      for c in (*FLAGS, "metric_type")}
            statement = table.update().where(table.c.row_id == sa.bindparam("b_row_id")).values(
                {c: sa.bindparam(f"b_{c}") for c in PREDICTION_COLUMNS} | follow
            )
            for start in range(0, len(updates), 5000):
                conn.execute(statement, [{f"b_{k}": v for k, v in u.items()} for u in updates[start : start + 5000]])
            _sync_search(conn, db.row_search.c.row_id.in_(sa.select(table.c.row_id).where(table.c.run_id == run_id)))
        result["inserted"], result["updated"] = len(inserts), len(updates)
        result["unchanged"] = len(frame) - len(inserts) - len(updates) - result["older"]
        if len(inserts) >= 1000:  # fresh planner statistics, so queue queries keep to their covering indexes
            for table in ("indicator_rows", "row_search"):
                conn.exec_driver_sql(f"ANALYZE {table}")
    return result


def bulk_insert_rows(engine: sa.Engine, records: list[dict], *, model_name="bench", model_version="0") -> int:
    """Insert many scored-row records at once (used by evaluation/bench_review.py)."""
    with engine.begin() as conn:
        run_id = conn.execute(
            db.runs.insert().values(
                run_key=secrets.token_hex(16), model_name=model_name, model_version=model_version, created_at=now(),
                imported_at=now(), source="bulk", rows=len(records), summary="{}",
            )
        ).inserted_primary_key[0]
        label = f"{model_name} {model_version}"
        rows = [_with_labels(_row_record(r, i, run_id, label)) for i, r in enumerate(records)]
        for start in range(0, len(rows), 10000):
            _insert_rows(conn, rows[start : start + 10000])
        for table in ("indicator_rows", "row_search"):
            conn.exec_driver_sql(f"ANALYZE {table}")
    return len(records)


# ---------------------------------------------------------------- model versions
def _register_model_version(conn, name, version, metrics, card, source, path) -> None:
    t = db.model_versions
    existing = conn.execute(sa.select(t.c.id, t.c.metrics, t.c.card).where(t.c.name == name, t.c.version == version)).first()
    metrics_text = json.dumps(metrics, ensure_ascii=False, default=str)
    if existing is None:
        conn.execute(t.insert().values(name=name, version=version, metrics=metrics_text, card=card, source=source, path=path,
                                       registered_at=now()))
    elif (metrics and metrics_text != existing.metrics) or (card and card != existing.card):
        conn.execute(t.update().where(t.c.id == existing.id).values(
            metrics=metrics_text if metrics else existing.metrics, card=card or existing.card, source=source, path=path))


MODEL_CARDS = ("model_card.md", "MODEL_CARD.md", "README.md", "card.md")


def read_model_folder(model_dir: str | Path, name: str | None = None, version: str | None = None) -> dict:
    """MODEL_DIR/metrics.json (+ model card, config) → name, version, metrics, card.

    Name and version come from the arguments, else meta.json, else metrics.json ("model": {"name", "version"} or
    top-level "name"/"version"/"model_name"/"model_version"), else config.json/config.yaml, else the
    folder name and a hash of metrics.json."""
    model_dir = Path(model_dir)
    metrics_path = model_dir / "metrics.json"
    if not metrics_path.is_file():
        raise InputError(metrics_path, "missing: a model folder needs metrics.json (written by `budgetnlp train`)")
    try:
        metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(metrics_path, f"not valid JSON ({exc})") from None
    if not isinstance(metrics, dict):
        raise InputError(metrics_path, "must hold a JSON object")
    config: dict = {}
    for config_name in ("config.json", "config.yaml", "config.yml"):
        path = model_dir / config_name
        if path.is_file():
            try:
                if path.suffix == ".json":
                    config = json.loads(path.read_text(encoding="utf-8"))
                else:
                    import yaml

                    config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except Exception as exc:  # noqa: BLE001 - any parse error is an input error
                raise InputError(path, f"unreadable ({exc})") from None
            break
    meta: dict = {}
    if (model_dir / "meta.json").is_file():  # what `budgetnlp train` writes: name and version live here
        try:
            meta = json.loads((model_dir / "meta.json").read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(model_dir / "meta.json", f"not valid JSON ({exc})") from None
    sources = [meta, metrics.get("model") if isinstance(metrics.get("model"), dict) else {}, metrics,
               config.get("model") if isinstance(config.get("model"), dict) else {}, config]

    def pick(*keys):
        for source in sources:
            for k in keys:
                if isinstance(source, dict) and source.get(k) not in (None, "") and not isinstance(source.get(k), dict):
                    return str(source[k])
        return None

    name = name or pick("name", "model_name") or model_dir.resolve().name
    version = version or pick("version", "model_version") or hashlib.sha256(metrics_path.read_bytes()).hexdigest()[:8]
    card = ""
    for card_name in MODEL_CARDS:
        if (model_dir / card_name).is_file():
            card = (model_dir / card_name).read_text(encoding="utf-8", errors="replace")
            break
    return {"name": name, "version": version, "metrics": metrics, "card": card, "path": str(model_dir.resolve())}


def register_model(engine: sa.Engine, model_dir: str | Path, name: str | None = None, version: str | None = None) -> dict:
    """Record a trained model's metrics and card so the progress page lists it (re-registering updates)."""
    info = read_model_folder(model_dir, name, version)
    with engine.begin() as conn:
        _register_model_version(conn, info["name"], info["version"], info["metrics"], info["card"], "register", info["path"])
    return info


def model_versions(engine: sa.Engine) -> list[dict]:
    t, r = db.model_versions, db.indicator_rows
    with engine.connect() as conn:
        counts = dict(conn.execute(sa.select(r.c.model, sa.func.count()).group_by(r.c.model)).all())
        out = []
        for row in conn.execute(sa.select(t).order_by(t.c.registered_at, t.c.id)):
            label = f"{row.name} {row.version}"
            out.append({
                "name": row.name, "version": row.version, "metrics": json.loads(row.metrics or "{}"),
                "card": row.card, "source": row.source, "path": row.path, "registered_at": iso(row.registered_at),
                "rows_scored": int(counts.get(label, 0)),
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


# ---------------------------------------------------------------- the queue
@dataclass
class QueueQuery:
    sort: str = "risk"
    year: int | None = None
    department: str | None = None
    project: str | None = None
    flag: str | None = None
    metric_type: str | None = None
    status: str | None = None
    q: str | None = None
    page: int = 1
    per_page: int = 50

    def check(self) -> "QueueQuery":
        def clean(value, limit=200):
            value = (value or "").strip()
            if len(value) > limit:
                raise ValidationError(f"filter too long (at most {limit} characters)")
            return value or None

        self.department, self.project, self.q = clean(self.department), clean(self.project), clean(self.q)
        if self.sort not in SORTS:
            raise ValidationError(f"invalid sort {self.sort!r}: use one of {', '.join(SORTS)}")
        for value, allowed, what in ((self.flag, FLAGS, "flag"), (self.metric_type, METRIC_TYPES, "metric type"),
                                     (self.status, STATUS_FILTERS, "status")):
            if value and value not in allowed:
                raise ValidationError(f"invalid {what} {value!r}: use one of {', '.join(allowed)}")
        self.flag, self.metric_type, self.status = self.flag or None, self.metric_type or None, self.status or None
        if self.year is not None and not (1900 <= int(self.year) <= 2200):
            raise ValidationError(f"invalid year {self.year}")
        self.page = max(1, int(self.page or 1))
        self.per_page = min(PER_PAGE_MAX, max(1, int(self.per_page or 50)))
        return self

    def params(self, **override) -> dict:
        """The non-default filters as query parameters (for links that keep the queue's state)."""
        values = {"sort": self.sort, "year": self.year, "department": self.department, "project": self.project,
                  "flag": self.flag, "metric_type": self.metric_type, "status": self.status, "q": self.q,
                  "page": self.page, "per_page": self.per_page} | override
        defaults = {"sort": "risk", "page": 1, "per_page": 50}
        return {k: v for k, v in values.items() if v not in (None, "") and defaults.get(k) != v}

    def filter_key(self, user_id) -> tuple:
        return (self.year, self.department, self.project, self.flag, self.metric_type, self.status, self.q,
                user_id if self.status in ("mine", "not_mine") else None)


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_key(text: object) -> str:
    """Text as stored for searching and as searched: NFKC (full-width ％ ＝ digits → ASCII), lower case."""
    return nfkc(text).lower()


def _base(query: QueueQuery):
    """The table a queue query runs on: a text search scans the narrow row_search copy (one pass
    filters, counts and sorts); everything else walks the covering indexes of indicator_rows."""
    return db.row_search if query.q else db.indicator_rows


def _conditions(query: QueueQuery, user_id: int | None, *, with_status: bool = True) -> list:
    t = _base(query)
    conditions = []
    if query.year is not None:
        conditions.append(t.c.year == int(query.year))
    if query.department:
        conditions.append(t.c.department == query.department)
    if query.project:
        pattern = _like(search_key(query.project))
        if t is db.row_search:
            conditions.append(sa.or_(t.c.project_key == query.project, t.c.project.like(pattern, escape="\\")))
        else:
            s = db.row_search
            matching = sa.select(s.c.row_id).where(s.c.project.like(pattern, escape="\\"))
            conditions.append(sa.or_(t.c.project_key == query.project, t.c.row_id.in_(matching)))
    if query.flag:
        conditions.append(t.c[f"l_{query.flag}"] == 1)
    if query.metric_type:
        conditions.append(t.c.l_metric_type == query.metric_type)
    if query.q:
        conditions.append(t.c.text.like(_like(search_key(query.q)), escape="\\"))
    if with_status and query.status:
        conditions.append(_status_condition(query, user_id, t))
    return conditions


def _status_condition(query: QueueQuery, user_id, t):
    if query.status in STATUSES:
        return t.c.status == query.status
    mine = sa.exists().where(db.decisions.c.row_id == t.c.row_id, db.decisions.c.user_id == (user_id or -1))
    return mine if query.status == "mine" else ~mine


def _order(query: QueueQuery, reverse: bool = False, key=None, row_id=None) -> list:
    """ORDER BY for the queue: risk DESC, row_id DESC — or margin ASC, row_id ASC (uncertainty)."""
    t = _base(query)
    key = key if key is not None else (t.c.margin if query.sort == "uncertainty" else t.c.risk)
    row_id = row_id if row_id is not None else t.c.row_id
    ascending = (query.sort == "uncertainty") != reverse
    return [key.asc(), row_id.asc()] if ascending else [key.desc(), row_id.desc()]


def _keyset(query: QueueQuery, key_column, id_column, key, row_id) -> tuple:
    """Conditions for the rows after and before (key, row_id) in the queue's order."""
    up = sa.and_(key_column >= key, sa.or_(key_column > key, id_column > row_id))
    down = sa.and_(key_column <= key, sa.or_(key_column < key, id_column < row_id))
    return (up, down) if query.sort == "uncertainty" else (down, up)


def _search_matches(conn, query: QueueQuery, user_id, *, with_status: bool):
    """The rows a text search matches, as a CTE materialized once (row_id, status, sort key).
    Where the database has the bigram index, it picks the candidates and LIKE checks them."""
    s = db.row_search
    key = s.c.margin if query.sort == "uncertainty" else s.c.risk
    conditions = _conditions(query, user_id, with_status=with_status)
    if fulltext.enabled(conn) and (candidates := fulltext.candidates(search_key(query.q))) is not None:
        conditions.append(candidates)
    return sa.select(s.c.row_id, s.c.status, key.label("k")).where(*conditions).cte("m").prefix_with("MATERIALIZED")


QUEUE_COLUMNS = [
    "row_id", "department", "year", "project_key", "project_name", "level1", "level2", "name", "description", "value",
    *FLAGS, *(f"p_{f}" for f in FLAGS), "metric_type", "suggested_metric_type", "risk", "margin", "status", "version",
    *(f"l_{f}" for f in FLAGS), "l_metric_type", "decided_by", "n_reviewers",
]


def _labels(row: dict) -> dict:
    """The row's current labels: the newest decision where there is one, else the model's."""
    out = {f: int(row[f"l_{f}"]) for f in FLAGS}
    out["metric_type"] = row["l_metric_type"]
    if "suggested_metric_type" in row:
        decided = row.get("version", 0) > 0 and row.get("d_suggested_metric_type")
        out["suggested_metric_type"] = row["d_suggested_metric_type"] if decided else row["suggested_metric_type"]
    return out


class CountCache:
    """Per-process cache of queue counts, per filter, for ``ttl`` seconds (0 disables it).

    Counting a filtered set of 100,000 rows costs more than fetching a page, and the counts a
    reviewer sees need not be exact to the second: they may lag saves by up to ``ttl`` seconds
    (saves do not clear the cache — under many reviewers it would never hold)."""

    def __init__(self, ttl: float = 2.0, size: int = 256):
        self.ttl, self.size = ttl, size
        self._data: dict = {}
        self._lock = threading.Lock()

    def get(self, key, compute):
        """The cached value, else ``compute()`` (then stored)."""
        if self.ttl <= 0:
            return compute()
        stamp = time.monotonic()
        with self._lock:
            hit = self._data.get(key)
            if hit and stamp - hit[0] < self.ttl:
                return hit[1]
        value = compute()
        with self._lock:
            if len(self._data) >= self.size:
                self._data.clear()
            self._data[key] = (stamp, value)
        return value

    def peek(self, key):
        """The cached value if fresh, else None."""
        if self.ttl <= 0:
            return None
        with self._lock:
            hit = self._data.get(key)
        return hit[1] if hit and time.monotonic() - hit[0] < self.ttl else None

    def put(self, key, value) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._data) >= self.size:
                self._data.clear()
            self._data[key] = (time.monotonic(), value)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


def queue_counts(engine: sa.Engine, query: QueueQuery, user_id: int | None = None) -> dict:
    """Rows matching the filters (without the status filter) per status, and the total with it."""
    t = _base(query)
    status = t.c.status
    if query.department:
        # grouping by an expression, not the bare column: else SQLite walks ix_rows_counts in
        # status order (no sort for the GROUP BY) and looks up each row's department — 20 ms
        # where the department's covering index takes 0.6 ms (status is never NULL)
        status = sa.func.coalesce(t.c.status, "")
    counting = sa.select(status, sa.func.count()).where(*_conditions(query, user_id, with_status=False)).group_by(status)
    with engine.connect() as conn:
        by_status = dict(conn.execute(counting).all())
        if query.status in ("mine", "not_mine"):
            total = conn.execute(sa.select(sa.func.count()).select_from(t).where(*_conditions(query, user_id))).scalar()
        elif query.status:
            total = by_status.get(query.status, 0)
        else:
            total = sum(by_status.values())
    counts = {s: int(by_status.get(s, 0)) for s in STATUSES}
    return {"total": int(total), "all": sum(counts.values()), **counts}


def queue(engine: sa.Engine, query: QueueQuery, user_id: int | None = None, cache: CountCache | None = None) -> dict:
    """One page of the queue with counts. Sorted by risk (highest first) or by uncertainty (the
    smallest distance of any flag's probability from 0.5 first); ties by row id (descending for
    risk, ascending for uncertainty: both orders are plain index scans)."""
    query = query.check()
    t = db.indicator_rows
    cache = cache or CountCache(0)
    offset = (query.page - 1) * query.per_page
    cache_key = ("counts", query.filter_key(user_id))
    with engine.connect() as conn:
        if query.q:  # one pass over row_search gives the page and, unless cached, the counts
            counts, ids = _search_page(conn, query, user_id, offset, cache.peek(cache_key))
            cache.put(cache_key, counts)
        else:  # the page's ids from a covering sort index; the counts (cached) from another index
            counts = cache.get(cache_key, lambda: queue_counts(engine, query, user_id))
            ids = [r for (r,) in conn.execute(sa.select(t.c.row_id).where(*_conditions(query, user_id)).order_by(*_order(query))
                                              .limit(query.per_page).offset(offset))]
        found = {r.row_id: dict(r._mapping) for r in conn.execute(sa.select(*(t.c[c] for c in QUEUE_COLUMNS)).where(t.c.row_id.in_(ids)))} if ids else {}
    rows = [found[i] for i in ids if i in found]
    for row in rows:
        row["labels"] = _labels(row)
    pages = max(1, math.ceil(counts["total"] / query.per_page))
    return {"rows": rows, "counts": counts, "total": counts["total"], "page": query.page, "per_page": query.per_page,
            "pages": pages}


def _search_page(conn, query: QueueQuery, user_id, offset: int, counts: dict | None) -> tuple[dict, list[str]]:
    """A text search's page of ids (and its counts when not given) from one materialized scan."""
    m = _search_matches(conn, query, user_id, with_status=False)
    chosen = _status_condition(query, user_id, m) if query.status else sa.true()
    order = _order(query, key=m.c.k, row_id=m.c.row_id)
    page = (sa.select(m.c.row_id, sa.func.row_number().over(order_by=order).label("position")).where(chosen)
            .order_by(*order).limit(query.per_page).offset(offset).subquery())
    parts = [sa.select(sa.literal("row").label("kind"), page.c.row_id.label("a"), page.c.position.label("n"))]
    if counts is None:
        parts += [
            sa.select(sa.literal("status"), m.c.status, sa.func.count()).group_by(m.c.status),
            sa.select(sa.literal("total"), sa.literal(""), sa.func.count()).select_from(m).where(chosen),
        ]
    ranked, by_status, total = [], {}, 0
    for kind, a, n in conn.execute(sa.union_all(*parts) if len(parts) > 1 else parts[0]):
        if kind == "row":
            ranked.append((int(n), a))
        elif kind == "status":
            by_status[a] = int(n)
        else:
            total = int(n)
    if counts is None:
        tallies = {st: by_status.get(st, 0) for st in STATUSES}
        counts = {"total": total, "all": sum(tallies.values()), **tallies}
    return counts, [row_id for _position, row_id in sorted(ranked)]  # UNION ALL promises no order


def neighbours(engine: sa.Engine, query: QueueQuery, row_id: str, user_id: int | None = None) -> dict:
    """The previous and next row ids in the queue's order (keyset: works when the row itself has
    since left the filtered set, e.g. after being reviewed)."""
    with engine.connect() as conn:
        return _neighbours(conn, query.check(), row_id, user_id)


def _neighbours(conn, query: QueueQuery, row_id: str, user_id, key=None) -> dict:
    t = _base(query)
    key_column = t.c.margin if query.sort == "uncertainty" else t.c.risk
    if key is None:
        key = conn.execute(sa.select(key_column).where(t.c.row_id == row_id)).scalar()
    if key is None:
        return {"prev": None, "next": None}
    if query.q:  # one materialized scan of the matches serves both directions
        m = _search_matches(conn, query, user_id, with_status=True)
        after, before = _keyset(query, m.c.k, m.c.row_id, key, row_id)
        parts = []
        for kind, condition, reverse in (("next", after, False), ("prev", before, True)):
            one = (sa.select(m.c.row_id).where(condition).order_by(*_order(query, reverse, key=m.c.k, row_id=m.c.row_id))
                   .limit(1).subquery())
            parts.append(sa.select(sa.literal(kind).label("kind"), one.c.row_id))
        found = dict(conn.execute(sa.union_all(*parts)).all())
        return {"prev": found.get("prev"), "next": found.get("next")}
    conditions = _conditions(query, user_id)
    after, before = _keyset(query, key_column, t.c.row_id, key, row_id)
    nxt = conn.execute(sa.select(t.c.row_id).where(*conditions, after).order_by(*_order(query)).limit(1)).scalar()
    prev = conn.execute(sa.select(t.c.row_id).where(*conditions, before).order_by(*_order(query, reverse=True)).limit(1)).scalar()
    return {"prev": prev, "next": nxt}


def facets(engine: sa.Engine) -> dict:
    """Distinct years and departments, for the filter menus."""
    t = db.indicator_rows
    with engine.connect() as conn:
        years = [y for (y,) in conn.execute(sa.select(t.c.year).where(t.c.year.is_not(None)).distinct().order_by(t.c.year.desc()))]
        departments = [d for (d,) in conn.execute(sa.select(t.c.department).distinct().order_by(t.c.department)) if d]
    return {"years": years, "departments": departments}


# ---------------------------------------------------------------- a row and its project
def _row_out(row: dict) -> dict:
    row = dict(row)
    row["labels"] = _labels(row)
    row["reasons_list"] = [r for r in (row.get("reasons") or "").split("\n") if r.strip()]
    row["extra"] = json.loads(row.get("extra") or "{}")
    row["decided_at"] = iso(row.get("decided_at"))
    return row


def row_view(engine: sa.Engine, row_id: str, query: QueueQuery, user_id: int | None = None) -> dict:
    """What the row page shows, read on one connection: the row, its project's rows, its history,
    and its neighbours in the queue's order."""
    query = query.check()
    t, d = db.indicator_rows, db.decisions
    with engine.connect() as conn:
        key = conn.execute(sa.select(t.c.project_key).where(t.c.row_id == row_id)).scalar()
        if key is None:
            raise NotFound(f"no row {row_id!r}")
        project = [_row_out(dict(r._mapping)) for r in conn.execute(
            sa.select(t).where(t.c.project_key == key).order_by(t.c.position, t.c.row_id))]
        row = next(r for r in project if r["row_id"] == row_id)
        history = [_decision_out(r) for r in conn.execute(sa.select(d).where(d.c.row_id == row_id).order_by(d.c.id.desc()).limit(200))]
        nav = _neighbours(conn, query, row_id, user_id, row["margin"] if query.sort == "uncertainty" else row["risk"])
    return {"row": row, "project": project, "history": history, "nav": nav}


def get_row(engine: sa.Engine, row_id: str) -> dict:
    t = db.indicator_rows
    with engine.connect() as conn:
        row = conn.execute(sa.select(t).where(t.c.row_id == row_id)).first()
    if row is None:
        raise NotFound(f"no row {row_id!r}")
    return _row_out(dict(row._mapping))


def project_rows(engine: sa.Engine, key: str) -> list[dict]:
    t = db.indicator_rows
    with engine.connect() as conn:
        rows = [_row_out(dict(r._mapping)) for r in conn.execute(sa.select(t).where(t.c.project_key == key).order_by(t.c.position, t.c.row_id))]
    if not rows:
        raise NotFound(f"no project {key!r}")
    return rows


def _decision_out(row) -> dict:
    d = dict(row._mapping)
    d["decided_at"] = iso(d["decided_at"])
    d["labels"] = {k: d[k] for k in LABEL_FIELDS}
    return d


def history(engine: sa.Engine, row_id: str | None = None, *, limit: int = 200) -> list[dict]:
    """Decisions, newest first (for one row, or all)."""
    t = db.decisions
    statement = sa.select(t).order_by(t.c.id.desc()).limit(limit)
    if row_id is not None:
        statement = statement.where(t.c.row_id == row_id)
    with engine.connect() as conn:
        return [_decision_out(r) for r in conn.execute(statement)]


# ---------------------------------------------------------------- decisions
@dataclass
class Decision:
    base_version: int
    flags: dict = field(default_factory=dict)
    metric_type: str = ""
    suggested_metric_type: str = ""
    note: str = ""

    def check(self) -> "Decision":
        if not isinstance(self.base_version, int) or self.base_version < 0:
            raise ValidationError(f"invalid base_version {self.base_version!r}")
        unknown = set(self.flags) - set(FLAGS)
        if unknown:
            raise ValidationError(f"unknown flags {sorted(unknown)}")
        for flag in FLAGS:
            if self.flags.get(flag) not in (0, 1):
                raise ValidationError(f"flag {flag} must be 0 or 1, got {self.flags.get(flag)!r}")
        for name in ("metric_type", "suggested_metric_type"):
            if getattr(self, name) not in METRIC_TYPES:
                raise ValidationError(f"invalid {name} {getattr(self, name)!r}: use one of {', '.join(METRIC_TYPES)}")
        self.note = (self.note or "").replace("\r\n", "\n").strip()
        if len(self.note) > NOTE_MAX:
            raise ValidationError(f"note too long: {len(self.note)} characters, at most {NOTE_MAX}")
        return self

    def labels(self) -> dict:
        return {**{f: int(self.flags[f]) for f in FLAGS}, "metric_type": self.metric_type,
                "suggested_metric_type": self.suggested_metric_type}


def _current_state(conn, row_id: str) -> dict | None:
    t = db.indicator_rows
    row = conn.execute(sa.select(t).where(t.c.row_id == row_id)).first()
    if row is None:
        return None
    row = dict(row._mapping)
    last = conn.execute(sa.select(db.decisions).where(db.decisions.c.row_id == row_id).order_by(db.decisions.c.id.desc()).limit(1)).first()
    return {
        "row_id": row_id, "version": row["version"], "status": row["status"], "decided_by": row["decided_by"],
        "decided_at": iso(row["decided_at"]), "labels": _labels(row), "note": row["d_note"] or "",
        "decision": _decision_out(last) if last is not None else None,
    }


def _status_after(history: dict[int, dict], user: dict, labels: dict) -> tuple[str, int]:
    """Status and reviewer count once ``user`` decides ``labels``: a conflict while the newest
    decisions of two reviewers disagree, unless an admin decided last."""
    latest = {**history, user["id"]: labels}
    disagree = len({tuple(v[k] for k in LABEL_FIELDS) for v in latest.values()}) > 1
    return ("conflict" if disagree and user["role"] != "admin" else "reviewed"), len(latest)


def save_decisions(engine: sa.Engine, user: dict, items: list[tuple[str, Decision]], channel: str = "web") -> list[dict]:
    """Save decisions on one or more rows, all or nothing. Raises NotFound for an unknown row and
    Conflict (listing every stale row's current state) when any base version is out of date.

    The rows and their history are read first, outside the write lock; the writes then
    compare-and-set each row on the version that was read (``WHERE version = base_version``), so
    a save that slipped in between makes the update miss, and everything is rolled back as a
    conflict. The write transaction is three statements per row: the row, its history line, its
    search copy."""
    if not items:
        raise ValidationError("nothing to save")
    if len({row_id for row_id, _ in items}) != len(items):
        raise ValidationError("a row appears twice in one save")
    if channel not in ("web", "project", "api"):
        raise ValidationError(f"invalid channel {channel!r}")
    for _, decision in items:
        decision.check()
    t, d, s = db.indicator_rows, db.decisions, db.row_search
    ids = [row_id for row_id, _ in items]
    stamp = now()
    with engine.connect() as conn:
        try:
            rows = {r.row_id: r for r in conn.execute(
                sa.select(t.c.row_id, t.c.version, t.c.model, *(t.c[f] for f in FLAGS)).where(t.c.row_id.in_(ids)))}
            missing = [row_id for row_id in ids if row_id not in rows]
            if missing:
                raise NotFound(f"no row {missing[0]!r}")
            stale = [row_id for row_id, decision in items if rows[row_id].version != decision.base_version]
            if stale:
                raise Conflict({row_id: _current_state(conn, row_id) for row_id in stale})
            history: dict[str, dict[int, dict]] = defaultdict(dict)
            for line in conn.execute(sa.select(d.c.row_id, d.c.user_id, *(d.c[k] for k in LABEL_FIELDS))
                                     .where(d.c.row_id.in_(ids)).order_by(d.c.id)):
                history[line.row_id][line.user_id] = {k: getattr(line, k) for k in LABEL_FIELDS}
            saved, raced = [], []
            for row_id, decision in items:
                labels = decision.labels()
                status, reviewers = _status_after(history[row_id], user, labels)
                current = {**{f"l_{f}": labels[f] for f in FLAGS}, "l_metric_type": labels["metric_type"], "status": status}
                updated = conn.execute(
                    t.update().where(t.c.row_id == row_id, t.c.version == decision.base_version).values(
                        version=decision.base_version + 1, decided_by=user["name"], decided_at=stamp, d_note=decision.note,
                        n_reviewers=reviewers, **{f"d_{k}": v for k, v in labels.items()}, **current,
                    )
                ).rowcount
                if updated != 1:
                    raced.append(row_id)
                    continue
                model_row = rows[row_id]
                decision_id = conn.execute(d.insert().values(
                    row_id=row_id, user_id=user["id"], reviewer=user["name"], role=user["role"], decided_at=stamp,
                    base_version=decision.base_version, version=decision.base_version + 1, note=decision.note,
                    model=model_row.model, model_flags="".join(str(int(getattr(model_row, f))) for f in FLAGS),
                    channel=channel, **labels,
                )).inserted_primary_key[0]
                conn.execute(s.update().where(s.c.row_id == row_id).values(**current))
                saved.append({"row_id": row_id, "version": decision.base_version + 1, "status": status,
                              "decision_id": decision_id, "decided_by": user["name"], "decided_at": iso(stamp)})
            if raced:
                conn.rollback()
                raise Conflict({row_id: _current_state(conn, row_id) for row_id in raced})
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
    return saved


def save_decision(engine: sa.Engine, user: dict, row_id: str, decision: Decision, channel: str = "web") -> dict:
    """Save one decision (see save_decisions)."""
    return save_decisions(engine, user, [(row_id, decision)], channel)[0]


# ---------------------------------------------------------------- export
def _export_line(row: dict, labels: dict, note: str, decided_by: str, decided_at) -> dict:
    from ..dataset import ANNOTATION_COLUMNS

    line = {c: "" for c in ANNOTATION_COLUMNS}
    line.update(
        doc=row["doc"], department=row["department"], year="" if row["year"] is None else str(row["year"]),
        project_code=row["project_code"], project=row["project_name"],
        **{c: row[c] for c in ("level1", "level2", "name", "description", "value", "basis")},
        note_A=note or "", decided_by=decided_by or "", decided_at=iso(decided_at),
    )
    for label in LABEL_FIELDS:
        line[label] = str(labels[label])
        line[f"{label}_votes"] = str(labels[label])
    return line


def export_frame(engine: sa.Engine, *, all_decisions: bool = False):
    """Decisions in the gold-annotation format (dataset.ANNOTATION_COLUMNS).

    Default: the newest decision per row (what the dataset builder keeps anyway). With
    ``all_decisions``: every line of the history, oldest first (each reviewer's every save)."""
    import pandas as pd

    from ..dataset import ANNOTATION_COLUMNS

    t, d = db.indicator_rows, db.decisions
    lines = []
    with engine.connect() as conn:
        if all_decisions:
            statement = sa.select(t, *(d.c[c].label(f"h_{c}") for c in (*LABEL_FIELDS, "note", "reviewer", "decided_at"))).join(
                d, d.c.row_id == t.c.row_id).order_by(d.c.id)
            for r in conn.execute(statement):
                m = r._mapping
                labels = {k: m[f"h_{k}"] for k in LABEL_FIELDS}
                lines.append(_export_line(m, labels, m["h_note"], m["h_reviewer"], m["h_decided_at"]))
        else:
            for r in conn.execute(sa.select(t).where(t.c.version > 0).order_by(t.c.decided_at, t.c.row_id)):
                m = dict(r._mapping)
                lines.append(_export_line(m, _labels(m), m["d_note"], m["decided_by"], m["decided_at"]))
    return pd.DataFrame(lines, columns=ANNOTATION_COLUMNS)


def write_export(engine: sa.Engine, path: str | Path, *, all_decisions: bool = False) -> tuple[Path, int]:
    """Write the export as CSV (UTF-8 with BOM, like gold.csv readers expect)."""
    path = Path(path)
    if path.suffix.lower() != ".csv":
        raise InputError(path, "export is written as .csv")
    frame = export_frame(engine, all_decisions=all_decisions)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, encoding="utf-8-sig")
    return path, len(frame)


def labelstudio_tasks(engine: sa.Engine, *, only_unreviewed: bool = False, limit: int | None = None) -> list[dict]:
    """Rows as Label Studio tasks with the model's predictions (see budgetnlp.labelstudio)."""
    from ..labelstudio import task_from_row

    t = db.indicator_rows
    statement = sa.select(t).order_by(*_order(QueueQuery()))
    if only_unreviewed:
        statement = statement.where(t.c.status == "unreviewed")
    if limit:
        statement = statement.limit(limit)
    with engine.connect() as conn:
        return [task_from_row(dict(r._mapping)) for r in conn.execute(statement)]


# ---------------------------------------------------------------- progress and agreement
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
    decision; every pair of reviewers on a row is one item, reviewers ordered by name), pooled and
    per reviewer pair."""
    d, t = db.decisions, db.indicator_rows
    latest: dict[str, dict[str, dict]] = defaultdict(dict)
    with engine.connect() as conn:
        double = sa.select(t.c.row_id).where(t.c.n_reviewers >= 2)
        for line in conn.execute(sa.select(d).where(d.c.row_id.in_(double)).order_by(d.c.id)):
            latest[line.row_id][line.reviewer] = {k: getattr(line, k) for k in LABEL_FIELDS}
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


def progress(engine: sa.Engine) -> dict:
    """Counts per reviewer and per department, agreement, model versions."""
    t, d = db.indicator_rows, db.decisions
    with engine.connect() as conn:
        reviewers = [
            {"reviewer": r.reviewer, "decisions": int(r.n), "rows": int(r.rows), "last": iso(r.last)}
            for r in conn.execute(
                sa.select(d.c.reviewer, sa.func.count().label("n"), sa.func.count(sa.distinct(d.c.row_id)).label("rows"),
                          sa.func.max(d.c.decided_at).label("last")).group_by(d.c.reviewer).order_by(d.c.reviewer)
            )
        ]
        departments = defaultdict(lambda: {s: 0 for s in STATUSES})
        for dep, status, n in conn.execute(sa.select(t.c.department, t.c.status, sa.func.count()).group_by(t.c.department, t.c.status)):
            departments[dep][status] = int(n)
        totals = {s: 0 for s in STATUSES}
        for counts in departments.values():
            for s in STATUSES:
                totals[s] += counts[s]
    deps = [{"department": dep or "—", **c, "total": sum(c.values()), "done": c["reviewed"] + c["conflict"]}
            for dep, c in sorted(departments.items())]
    return {"totals": {**totals, "total": sum(totals.values())}, "reviewers": reviewers, "departments": deps,
            "agreement": agreement(engine), "models": model_versions(engine)}
