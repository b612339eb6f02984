"""The review app's work as plain functions, one import for the commands, the benchmark and the
tests. Each capability lives in its own module — users, ingest, queue, rows, decisions, exports,
progress — and this module only gathers their public names."""

from __future__ import annotations

from .common import (  # noqa: F401
    FLAG_LABELS, LABEL_FIELDS, METRIC_TYPE_LABELS, NOTE_MAX, PER_PAGE_MAX, ROLE_NAMES, ROLES, SORTS, STATUS_FILTERS,
    STATUS_NAMES, STATUSES, iso, now, project_key, search_key,
)
from .decisions import BULK_MAX, Decision, bulk_decide, save_decision, save_decisions, undo_decision  # noqa: F401
from .errors import Conflict, NotFound, ReviewError, Throttled, ValidationError  # noqa: F401
from .exports import csv_text, export_frame, labelstudio_tasks, write_export  # noqa: F401
from .ingest import SEARCH_COPY, bulk_insert_rows, import_run, read_model_folder, register_model  # noqa: F401
from .progress import agreement, cohen_kappa, flat_metrics, model_versions, progress  # noqa: F401
from .queue import CountCache, QueueQuery, facets, like, neighbours, queue, queue_counts  # noqa: F401
from .rows import get_row, history, project_rows, row_view, visible_history  # noqa: F401
from .users import (  # noqa: F401
    add_user, authenticate, check_user_name, disable_user, get_user, hash_password, list_users, login, normalize_name,
    session_secret, verify_password,
)
from ..runfolder import read_run  # noqa: F401,E402
