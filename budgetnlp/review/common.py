"""Names, limits and small value helpers shared by the review app's service modules."""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timezone

from .._text import nfkc
from ..schema import FLAG_LABELS, FLAGS, LABEL_FIELDS, METRIC_TYPE_LABELS, METRIC_TYPES  # noqa: F401 - re-exported for the service modules

ROLES = ("reviewer", "admin")
STATUSES = ("unreviewed", "reviewed", "conflict")
#: queue status filters: the three row states plus the current reviewer's own coverage
STATUS_FILTERS = (*STATUSES, "mine", "not_mine")
SORTS = ("risk", "uncertainty")
NOTE_MAX = 2000
PASSWORD_MIN = 8
PER_PAGE_MAX = 200
#: the largest page number, version or count any parameter may name (bounded before SQL sees it)
INT_MAX = 2**31 - 1
PAGE_MAX = 1_000_000
CHANNELS = ("web", "project", "api", "bulk", "undo")

STATUS_NAMES = {"unreviewed": "未审", "reviewed": "已审", "conflict": "分歧", "mine": "我审过的", "not_mine": "我未审的"}
ROLE_NAMES = {"reviewer": "审核员", "admin": "管理员"}
CHANNEL_NAMES = {"web": "单行", "project": "整表", "api": "API", "bulk": "批量", "undo": "撤销"}


def now() -> datetime:
    return datetime.now(timezone.utc)


def aware(value):
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def iso(value) -> str:
    value = aware(value)
    return value.isoformat() if isinstance(value, datetime) else (value or "")


def parse_time(value) -> datetime | None:
    if isinstance(value, datetime):
        return aware(value)
    try:
        return aware(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except (TypeError, ValueError):
        return None


def text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, (list, tuple)):
        return "\n".join(text(v) for v in value)
    if hasattr(value, "tolist") and not isinstance(value, str):  # numpy arrays from parquet
        return text(value.tolist())
    return str(value)


def number(value, default=None):
    try:
        out = float(value)
    except (TypeError, ValueError):
        return default
    return default if math.isnan(out) or math.isinf(out) else out


def search_key(value: object) -> str:
    """Text as stored for searching and as searched: NFKC (full-width ％ ＝ digits → ASCII), lower case."""
    return nfkc(value).lower()


def project_key(doc_id: str, project_code: str, project_name: str) -> str:
    return hashlib.sha1(f"{doc_id}\x1f{project_code}\x1f{project_name}".encode("utf-8")).hexdigest()[:16]


def model_labels(row: dict) -> dict:
    """The model's labels of a row (what a blind reviewer's form starts from)."""
    return {**{f: int(row[f]) for f in FLAGS}, "metric_type": row["metric_type"],
            "suggested_metric_type": row["suggested_metric_type"]}


def current_labels(row: dict) -> dict:
    """The row's current labels: the newest decision where there is one, else the model's."""
    out = {f: int(row[f"l_{f}"]) for f in FLAGS}
    out["metric_type"] = row["l_metric_type"]
    if "suggested_metric_type" in row:
        decided = row.get("decided_by") and row.get("d_suggested_metric_type")
        out["suggested_metric_type"] = row["d_suggested_metric_type"] if decided else row["suggested_metric_type"]
    return out


def uncertainty(row: dict) -> tuple[float, str]:
    """How unsure the model is about its least certain flag (1 − 2·margin: 1 = a coin toss, 0 =
    certain) and which flag that is — the queue shows it so that higher reads as more uncertain."""
    flag, margin = FLAGS[0], abs(float(row[_P_KEYS[0][1]]) - 0.5)
    for f, key in _P_KEYS[1:]:  # min(FLAGS, key=…) written out: 50 rows a queue page
        m = abs(float(row[key]) - 0.5)
        if m < margin:
            flag, margin = f, m
    return round(1.0 - 2.0 * margin, 4), flag


_P_KEYS = [(f, f"p_{f}") for f in FLAGS]
