"""The review queue: filters, two orders (risk, uncertainty), pages, counts, a row's neighbours
and position in the queue, and the filter menus.

A text search runs on the narrow ``row_search`` copy (one pass filters, counts and sorts, and
the SQLite bigram index picks candidates first); everything else walks the covering indexes of
``indicator_rows``. Both orders are plain index scans: risk DESC, row_id DESC — or margin ASC,
row_id ASC.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import sqlalchemy as sa

from . import db, fulltext
from .common import FLAGS, METRIC_TYPES, PAGE_MAX, PER_PAGE_MAX, SORTS, STATUS_FILTERS, STATUSES, current_labels, search_key, uncertainty
from .errors import ValidationError
from .visibility import blind, own_rows, sees_others


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
    reveal: bool = False  # "review the reviewed": show others' decisions

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
            raise ValidationError(f"invalid year {self.year}: between 1900 and 2200")
        if not (1 <= int(self.page or 1) <= PAGE_MAX):
            raise ValidationError(f"invalid page {self.page}: between 1 and {PAGE_MAX}")
        if not (1 <= int(self.per_page or 50) <= PER_PAGE_MAX):
            raise ValidationError(f"invalid per_page {self.per_page}: between 1 and {PER_PAGE_MAX}")
        self.page, self.per_page, self.reveal = int(self.page or 1), int(self.per_page or 50), bool(self.reveal)
        return self

    def params(self, **override) -> dict:
        """The non-default filters as query parameters (for links that keep the queue's state)."""
        values = {"sort": self.sort, "year": self.year, "department": self.department, "project": self.project,
                  "flag": self.flag, "metric_type": self.metric_type, "status": self.status, "q": self.q,
                  "page": self.page, "per_page": self.per_page, "reveal": 1 if self.reveal else None} | override
        defaults = {"sort": "risk", "page": 1, "per_page": 50}
        return {k: v for k, v in values.items() if v not in (None, "") and defaults.get(k) != v}

    def filter_key(self, user_id) -> tuple:
        return (self.year, self.department, self.project, self.flag, self.metric_type, self.status, self.q,
                user_id if self.status in ("mine", "not_mine") else None)


def like(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _base(query: QueueQuery):
    return db.row_search if query.q else db.indicator_rows


def conditions(query: QueueQuery, user_id: int | None, *, with_status: bool = True, scan_text: bool = True) -> list:
    """The filters as conditions (``scan_text=False``: without the search's LIKE, fulltext.decides)."""
    t = _base(query)
    out = []
    if query.year is not None:
        out.append(t.c.year == int(query.year))
    if query.department:
        out.append(t.c.department == query.department)
    if query.project:
        pattern = like(search_key(query.project))
        if t is db.row_search:
            out.append(sa.or_(t.c.project_key == query.project, t.c.project.like(pattern, escape="\\")))
        else:
            s = db.row_search
            matching = sa.select(s.c.row_id).where(s.c.project.like(pattern, escape="\\"))
            out.append(sa.or_(t.c.project_key == query.project, t.c.row_id.in_(matching)))
    if query.flag:
        out.append(t.c[f"l_{query.flag}"] == 1)
    if query.metric_type:
        out.append(t.c.l_metric_type == query.metric_type)
    if query.q and scan_text:
        out.append(t.c.text.like(like(search_key(query.q)), escape="\\"))
    if with_status and query.status:
        out.append(_status_condition(query, user_id, t))
    return out


def _status_condition(query: QueueQuery, user_id, t):
    if query.status in STATUSES:
        return t.c.status == query.status
    mine = sa.exists().where(db.decisions.c.row_id == t.c.row_id, db.decisions.c.user_id == (user_id or -1))
    return mine if query.status == "mine" else ~mine


def order(query: QueueQuery, reverse: bool = False, key=None, row_id=None) -> list:
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
    """The rows a text search matches, as a CTE materialized once (row_id, status, sort key)."""
    s = db.row_search
    key = s.c.margin if query.sort == "uncertainty" else s.c.risk
    searched = search_key(query.q)
    candidates = fulltext.candidates(searched) if fulltext.enabled(conn) else None
    where = conditions(query, user_id, with_status=with_status, scan_text=candidates is None or not fulltext.decides(searched))
    if candidates is not None:
        where.append(candidates)
    return sa.select(s.c.row_id, s.c.status, key.label("k")).where(*where).cte("m").prefix_with("MATERIALIZED")


QUEUE_COLUMNS = [
    "row_id", "department", "year", "project_key", "project_name", "level1", "level2", "name", "description", "value",
    *FLAGS, *(f"p_{f}" for f in FLAGS), "metric_type", "suggested_metric_type", "risk", "margin", "status", "version",
    *(f"l_{f}" for f in FLAGS), "l_metric_type", "decided_by", "n_reviewers",
]


#: a page's rows by id (built once: a statement reused is neither rebuilt nor re-keyed per request)
_PAGE_ROWS = sa.select(*(db.indicator_rows.c[c] for c in QUEUE_COLUMNS)).where(
    db.indicator_rows.c.row_id.in_(sa.bindparam("ids", expanding=True)))


#: the whole table's counts per status in one statement (one snapshot): the rows, counted from
#: the b-tree (2 ms for 100,000 rows where grouping them by status walks them all, 13 ms), less
#: the rows reviewed or in conflict, each found by the status index (the rows not yet reviewed
#: are the many until late in a project)
_ALL_COUNTS = sa.select(
    sa.select(sa.func.count()).select_from(db.indicator_rows).scalar_subquery(),
    *(sa.select(sa.func.count()).select_from(db.indicator_rows).where(db.indicator_rows.c.status == s).scalar_subquery()
      for s in STATUSES[1:]))


class CountCache:
    """Per-process cache of queue counts, per filter, for ``ttl`` seconds (0 disables it).

    Counting a filtered set of 100,000 rows costs more than fetching a page, so other reviewers'
    saves may show up to ``ttl`` seconds late; a reviewer's own save never does: ``newer_than``
    (the time of their last save) refuses counts computed before it."""

    def __init__(self, ttl: float = 2.0, size: int = 256):
        self.ttl, self.size, self._data, self._lock = ttl, size, {}, threading.Lock()

    def peek(self, key, newer_than: float | None = None):
        """The cached value if fresh (and computed after ``newer_than``), else None."""
        if self.ttl <= 0:
            return None
        with self._lock:
            hit = self._data.get(key)
        stamp = time.time()
        if hit and stamp - hit[0] < self.ttl and (newer_than is None or hit[0] > newer_than):
            return hit[1]
        return None

    def get(self, key, compute, newer_than: float | None = None):
        """The cached value, else ``compute()`` (then stored)."""
        hit = self.peek(key, newer_than)
        if hit is not None:
            return hit
        stamp = time.time()
        value = compute()
        self._store(key, value, stamp)
        return value

    def put(self, key, value) -> None:
        self._store(key, value, time.time())

    def _store(self, key, value, stamp) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._data) >= self.size:
                self._data.clear()
            self._data[key] = (stamp, value)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


def note_own_saves(session, saved) -> None:
    """Remember in the session when its reviewer last saved (``saved_at``) and last moved a row
    to another status (``moved_at``), for :func:`fresh_after`. ``saved``: the save results (a
    dict or a list); one without ``previous_status`` (undo, bulk) counts as a move."""
    stamp = time.time()
    session["saved_at"] = stamp
    items = saved if isinstance(saved, list) else [saved]
    if any(not isinstance(s, dict) or s.get("previous_status") != s.get("status") for s in items):
        session["moved_at"] = stamp


def fresh_after(query: QueueQuery, session) -> float | None:
    """The time after which cached counts for ``query`` must have been computed so that they
    include this reviewer's own saves. Counts group by status: a save that left its row's
    status alone changes them only under a filter on the labels or on the reviewer's own
    decisions, so most saves need not cost a recount of 100,000 rows."""
    if query.flag or query.metric_type or query.status in ("mine", "not_mine"):
        return session.get("saved_at")
    return session.get("moved_at")


def queue_counts(engine: sa.Engine, query: QueueQuery, user_id: int | None = None) -> dict:
    """Rows matching the filters (without the status filter) per status, and the total with it."""
    t = _base(query)
    if not (query.year is not None or query.department or query.project or query.flag or query.metric_type or query.q):
        with engine.connect() as conn:  # no filter but the status: see _ALL_COUNTS
            every, *others = conn.execute(_ALL_COUNTS).one()
            by_status = {"unreviewed": every - sum(others), **dict(zip(STATUSES[1:], others))}
            total = conn.execute(sa.select(sa.func.count()).select_from(t).where(*conditions(query, user_id))).scalar() \
                if query.status in ("mine", "not_mine") else by_status[query.status] if query.status else every
        return {"total": int(total), "all": int(every), **{s: int(by_status[s]) for s in STATUSES}}
    status = t.c.status
    if query.department:
        # an expression, not the bare column: else SQLite walks ix_rows_counts in status order and
        # looks up each row's department (20 ms where the department's covering index takes 0.6 ms)
        status = sa.func.coalesce(t.c.status, "")
    counting = sa.select(status, sa.func.count()).where(*conditions(query, user_id, with_status=False)).group_by(status)
    with engine.connect() as conn:
        by_status = dict(conn.execute(counting).all())
        if query.status in ("mine", "not_mine"):
            total = conn.execute(sa.select(sa.func.count()).select_from(t).where(*conditions(query, user_id))).scalar()
        elif query.status:
            total = by_status.get(query.status, 0)
        else:
            total = sum(by_status.values())
    counts = {s: int(by_status.get(s, 0)) for s in STATUSES}
    return {"total": int(total), "all": sum(counts.values()), **counts}


def queue(engine: sa.Engine, query: QueueQuery, user: dict | int | None = None, cache: CountCache | None = None,
          *, newer_than: float | None = None) -> dict:
    """One page of the queue with counts (``newer_than``: see CountCache). Rows another
    reviewer decided show the model's labels to a reviewer who has not (blind review)."""
    query = query.check()
    user = user if isinstance(user, dict) or user is None else {"id": user, "role": "reviewer"}
    user_id = user["id"] if user else None
    t = db.indicator_rows
    cache = cache or CountCache(0)
    offset = (query.page - 1) * query.per_page
    cache_key = ("counts", query.filter_key(user_id))
    with engine.connect() as conn:
        if query.q:  # one pass over row_search gives the page and, unless cached, the counts
            counts, ids = _search_page(conn, query, user_id, offset, cache.peek(cache_key, newer_than))
            cache.put(cache_key, counts)
        else:
            counts = cache.get(cache_key, lambda: queue_counts(engine, query, user_id), newer_than)
            page = _statement(("page", query.sort, query.filter_key(user_id)), lambda: sa.select(t.c.row_id).where(
                *conditions(query, user_id)).order_by(*order(query)).limit(sa.bindparam("lim")).offset(sa.bindparam("off")))
            ids = list(conn.execute(page, {"lim": query.per_page, "off": offset}).scalars())
        found = {r[0]: dict(zip(QUEUE_COLUMNS, r)) for r in conn.execute(_PAGE_ROWS, {"ids": ids}).all()} if ids else {}
        decided = [i for i in ids if i in found and found[i]["decided_by"]]
        own = own_rows(conn, user_id, decided) if decided and not sees_others(user, False, query.reveal) else set(decided)
    rows = []
    for row_id in ids:
        if row_id not in found:
            continue
        row = found[row_id]
        row["labels"] = current_labels(row)
        if row["decided_by"] and row_id not in own:
            row = blind(row)
        row["uncertainty"], row["uncertain_flag"] = uncertainty(row)
        rows.append(row)
    pages = max(1, math.ceil(counts["total"] / query.per_page))
    return {"rows": rows, "counts": counts, "total": counts["total"], "page": query.page, "per_page": query.per_page,
            "pages": pages}


def _search_page(conn, query: QueueQuery, user_id, offset: int, counts: dict | None) -> tuple[dict, list[str]]:
    """A text search's page of ids (and its counts when not given) from one materialized scan."""
    m = _search_matches(conn, query, user_id, with_status=False)
    chosen = _status_condition(query, user_id, m) if query.status else sa.true()
    by = order(query, key=m.c.k, row_id=m.c.row_id)
    # the page first (a top-N sort), then its rows numbered: numbering every match sorted them all
    page = sa.select(m.c.row_id, m.c.k).where(chosen).order_by(*by).limit(query.per_page).offset(offset).subquery()
    position = sa.func.row_number().over(order_by=order(query, key=page.c.k, row_id=page.c.row_id))
    parts = [sa.select(sa.literal("row").label("kind"), page.c.row_id.label("a"), position.label("n"))]
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
    """The previous and next row ids in the queue's order and the row's position (keyset: works
    when the row itself has since left the filtered set, e.g. after being reviewed)."""
    with engine.connect() as conn:
        return neighbours_on(conn, query.check(), row_id, user_id)


#: rows ahead of a row counted at most (a count walks that many index entries at worst)
POSITION_CAP = 2000


def neighbours_on(conn, query: QueueQuery, row_id: str, user_id, key=None) -> dict:
    """{"prev", "next", "before"}: ``before`` counts the filtered rows ahead of this one, up to
    POSITION_CAP."""
    t = _base(query)
    key_column = t.c.margin if query.sort == "uncertainty" else t.c.risk
    if key is None:
        key = conn.execute(sa.select(key_column).where(t.c.row_id == row_id)).scalar()
    if key is None:
        return {"prev": None, "next": None, "before": 0}
    if query.q:  # one materialized scan of the matches serves both directions and the position
        m = _search_matches(conn, query, user_id, with_status=True)
        after, before = _keyset(query, m.c.k, m.c.row_id, key, row_id)
        parts = []
        for kind, condition, reverse in (("next", after, False), ("prev", before, True)):
            one = (sa.select(m.c.row_id).where(condition).order_by(*order(query, reverse, key=m.c.k, row_id=m.c.row_id))
                   .limit(1).subquery())
            parts.append(sa.select(sa.literal(kind).label("kind"), one.c.row_id.label("v")))
        parts.append(sa.select(sa.literal("before"), sa.cast(sa.func.count(), sa.String)).select_from(m).where(before))
        found = dict(conn.execute(sa.union_all(*parts)).all())
        return {"prev": found.get("prev"), "next": found.get("next"), "before": int(found.get("before") or 0)}
    nxt_, prev_, ahead_ = _statement(("nav", query.sort, query.filter_key(user_id), POSITION_CAP), lambda: _nav_statements(query, user_id))
    values = {"k": key, "rid": row_id}
    nxt = conn.execute(nxt_, values).scalar()
    prev = conn.execute(prev_, values).scalar()
    ahead = conn.execute(ahead_, values).scalar() if prev else 0  # up to POSITION_CAP: deeper rows show as "beyond"
    return {"prev": prev, "next": nxt, "before": int(ahead)}


def _nav_statements(query: QueueQuery, user_id) -> tuple:
    """The next row, the previous row and the count of rows ahead of (k, rid) under ``query``."""
    t = db.indicator_rows
    where = conditions(query, user_id)
    key_column = t.c.margin if query.sort == "uncertainty" else t.c.risk
    after, before = _keyset(query, key_column, t.c.row_id, sa.bindparam("k", type_=sa.Float), sa.bindparam("rid", type_=sa.String))
    return (sa.select(t.c.row_id).where(*where, after).order_by(*order(query)).limit(1),
            sa.select(t.c.row_id).where(*where, before).order_by(*order(query, reverse=True)).limit(1),
            sa.select(sa.func.count()).select_from(sa.select(t.c.row_id).where(*where, before).limit(POSITION_CAP).subquery()))


_STATEMENTS: dict = {}


def _statement(key, build):
    """The statement built by ``build()`` for ``key`` (the filters with their values; the values
    that vary per call are bound parameters), kept per process: one reused is neither rebuilt
    nor re-keyed for SQLAlchemy's compiled cache on every request."""
    statement = _STATEMENTS.get(key)
    if statement is None:
        if len(_STATEMENTS) >= 1000:
            _STATEMENTS.clear()
        statement = _STATEMENTS[key] = build()
    return statement


def facets(engine: sa.Engine) -> dict:
    """Distinct years and departments, for the filter menus."""
    t = db.indicator_rows
    with engine.connect() as conn:
        years = list(conn.execute(sa.select(t.c.year).where(t.c.year.is_not(None)).distinct().order_by(t.c.year.desc())).scalars())
        departments = [d for d in conn.execute(sa.select(t.c.department).distinct().order_by(t.c.department)).scalars() if d]
    return {"years": years, "departments": departments}
