"""Decisions: saving (one row, several, a filtered set in bulk) and undoing the last save.

Concurrency: every indicator row carries a ``version``. A save names the version it was based
on; the row is updated with a compare-and-set (``UPDATE … WHERE row_id = :id AND version =
:base``) and the history line is appended in the same transaction, so two reviewers saving the
same row never overwrite each other silently: the second gets :class:`Conflict` with the first
one's decision. The ``decisions`` history is append-only (the database refuses UPDATE/DELETE):
an undo is a line of its own (channel ``undo``, ``undoes`` = the withdrawn line), and a row's
state is always computed from the lines that stand.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa

from . import db
from .common import CHANNELS, FLAGS, INT_MAX, LABEL_FIELDS, METRIC_TYPES, NOTE_MAX, current_labels, iso, model_labels, now
from .errors import Conflict, NotFound, ValidationError
from .queue import QueueQuery, conditions, order

BULK_MAX = 500


@dataclass
class Decision:
    base_version: int
    flags: dict = field(default_factory=dict)
    metric_type: str = ""
    suggested_metric_type: str = ""
    note: str = ""

    def check(self) -> "Decision":
        if not isinstance(self.base_version, int) or not (0 <= self.base_version <= INT_MAX):
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

    @classmethod
    def of(cls, labels: dict, base_version: int, note: str = "") -> "Decision":
        return cls(base_version, {f: int(labels[f]) for f in FLAGS}, labels["metric_type"], labels["suggested_metric_type"], note)


def decision_out(row) -> dict:
    d = dict(row._mapping)
    d["decided_at"] = iso(d["decided_at"])
    d["labels"] = {k: d[k] for k in LABEL_FIELDS}
    return d


def standing(conn, row_ids: list[str]) -> dict[str, list]:
    """Per row, its history lines that stand (neither an undo nor undone), oldest first."""
    lines = list(conn.execute(_STANDING, {"row_ids": list(row_ids)}))
    undone = {line.undoes for line in lines if line.undoes is not None}
    out: dict[str, list] = defaultdict(list)
    for line in lines:
        if line.channel != "undo" and line.id not in undone:
            out[line.row_id].append(line)
    return out


_STANDING = sa.select(db.decisions).where(db.decisions.c.row_id.in_(sa.bindparam("row_ids", expanding=True))).order_by(
    db.decisions.c.id)


def _labels_of(line) -> dict:
    return {k: getattr(line, k) for k in LABEL_FIELDS}


def row_state(lines: list, model_row) -> dict:
    """The review columns of a row whose standing history is ``lines`` (dicts or rows with
    user_id, role, reviewer, decided_at, note and the labels): a conflict while the newest
    decisions of two reviewers disagree, unless an admin decided last."""
    if not lines:
        labels = model_labels(model_row._mapping if hasattr(model_row, "_mapping") else model_row)
        return {"status": "unreviewed", "n_reviewers": 0, "decided_by": None, "decided_at": None, "d_note": None,
                **{f"d_{k}": None for k in LABEL_FIELDS}, **{f"l_{f}": labels[f] for f in FLAGS},
                "l_metric_type": labels["metric_type"]}
    get = (lambda line, k: line[k]) if isinstance(lines[0], dict) else getattr
    latest = {get(line, "user_id"): tuple(get(line, k) for k in LABEL_FIELDS) for line in lines}
    last = lines[-1]
    labels = {k: get(last, k) for k in LABEL_FIELDS}
    conflict = len(set(latest.values())) > 1 and get(last, "role") != "admin"
    return {"status": "conflict" if conflict else "reviewed", "n_reviewers": len(latest), "decided_by": get(last, "reviewer"),
            "decided_at": get(last, "decided_at"), "d_note": get(last, "note"), **{f"d_{k}": v for k, v in labels.items()},
            **{f"l_{f}": labels[f] for f in FLAGS}, "l_metric_type": labels["metric_type"]}


def current_state(conn, row_id: str) -> dict | None:
    """A row's state now, as a Conflict reports it."""
    t = db.indicator_rows
    row = conn.execute(sa.select(t).where(t.c.row_id == row_id)).first()
    if row is None:
        return None
    row = dict(row._mapping)
    last = conn.execute(sa.select(db.decisions).where(db.decisions.c.row_id == row_id).order_by(db.decisions.c.id.desc()).limit(1)).first()
    return {
        "row_id": row_id, "version": row["version"], "status": row["status"], "decided_by": row["decided_by"],
        "decided_at": iso(row["decided_at"]), "labels": current_labels(row), "note": row["d_note"] or "",
        "decision": decision_out(last) if last is not None else None,
    }


_SEARCH_COLUMNS = ("status", *(f"l_{f}" for f in FLAGS), "l_metric_type")


def _write(conn, row_id: str, base_version: int, state: dict, line: dict) -> int | None:
    """Compare-and-set the row, append its history line, update its search copy; the new line's
    id, or None when the row's version moved meanwhile."""
    where = {"w_row_id": row_id, "w_base": base_version}
    if conn.execute(_UPDATE_ROW, {**where, "version": base_version + 1, **state}).rowcount != 1:
        return None
    decision_id = conn.execute(db.decisions.insert(), {"row_id": row_id, "base_version": base_version,
                                                       "version": base_version + 1, **line}).inserted_primary_key[0]
    conn.execute(_UPDATE_SEARCH, {**where, **{c: state[c] for c in _SEARCH_COLUMNS}})
    return decision_id


#: built once (the SET clause comes from the parameters' names): the compare-and-set of a row,
#: and its search copy
_UPDATE_ROW = db.indicator_rows.update().where(db.indicator_rows.c.row_id == sa.bindparam("w_row_id"),
                                               db.indicator_rows.c.version == sa.bindparam("w_base"))
_UPDATE_SEARCH = db.row_search.update().where(db.row_search.c.row_id == sa.bindparam("w_row_id"))


_t = db.indicator_rows
_SAVING = sa.select(_t.c.row_id, _t.c.version, _t.c.status, _t.c.model, *(_t.c[f] for f in FLAGS), _t.c.metric_type,
                    _t.c.suggested_metric_type).where(_t.c.row_id.in_(sa.bindparam("ids", expanding=True)))


def save_decisions(engine: sa.Engine, user: dict, items: list[tuple[str, Decision]], channel: str = "web") -> list[dict]:
    """Save decisions on one or more rows, all or nothing. Raises NotFound for an unknown row and
    Conflict (listing every stale row's current state) when any base version is out of date."""
    if not items:
        raise ValidationError("nothing to save")
    if len({row_id for row_id, _ in items}) != len(items):
        raise ValidationError("a row appears twice in one save")
    if channel not in CHANNELS or channel == "undo":
        raise ValidationError(f"invalid channel {channel!r}")
    for _, decision in items:
        decision.check()
    ids = [row_id for row_id, _ in items]
    stamp = now()
    with engine.connect() as conn:
        try:
            rows = {r.row_id: r for r in conn.execute(_SAVING, {"ids": ids})}
            missing = [row_id for row_id in ids if row_id not in rows]
            if missing:
                raise NotFound(f"no row {missing[0]!r}")
            stale = [row_id for row_id, decision in items if rows[row_id].version != decision.base_version]
            if stale:
                raise Conflict({row_id: current_state(conn, row_id) for row_id in stale})
            history = standing(conn, ids)
            saved, raced = [], []
            for row_id, decision in items:
                model_row = rows[row_id]
                line = {"user_id": user["id"], "reviewer": user["name"], "role": user["role"], "decided_at": stamp,
                        "note": decision.note, "model": model_row.model, "channel": channel,
                        "model_flags": "".join(str(int(getattr(model_row, f))) for f in FLAGS), **decision.labels()}
                state = row_state([*({c: getattr(x, c) for c in ("user_id", "role", "reviewer", "decided_at", "note",
                                                                   *LABEL_FIELDS)} for x in history[row_id]), line], model_row)
                decision_id = _write(conn, row_id, decision.base_version, state, line)
                if decision_id is None:
                    raced.append(row_id)
                    continue
                saved.append({"row_id": row_id, "version": decision.base_version + 1, "status": state["status"],
                              "previous_status": model_row.status,
                              "decision_id": decision_id, "decided_by": user["name"], "decided_at": iso(stamp)})
            if raced:
                conn.rollback()
                raise Conflict({row_id: current_state(conn, row_id) for row_id in raced})
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
    return saved


def save_decision(engine: sa.Engine, user: dict, row_id: str, decision: Decision, channel: str = "web") -> dict:
    """Save one decision (see save_decisions)."""
    return save_decisions(engine, user, [(row_id, decision)], channel)[0]


def undo_decision(engine: sa.Engine, user: dict, decision_id: int) -> dict:
    """Withdraw the user's own save while nobody has saved the row since: an undo line is
    appended and the row returns to the state its other standing lines give (unreviewed when
    none). Raises NotFound, ValidationError (not yours, already undone) or Conflict (saved since)."""
    if not isinstance(decision_id, int) or not (1 <= decision_id <= INT_MAX):
        raise ValidationError(f"invalid decision id {decision_id!r}")
    t, d = db.indicator_rows, db.decisions
    stamp = now()
    with engine.connect() as conn:
        try:
            target = conn.execute(sa.select(d).where(d.c.id == decision_id)).first()
            if target is None:
                raise NotFound(f"no decision {decision_id}")
            if target.user_id != user["id"] or target.channel == "undo":
                raise ValidationError("only your own saves can be undone")
            if conn.execute(sa.select(d.c.id).where(d.c.undoes == decision_id)).first() is not None:
                raise ValidationError(f"decision {decision_id} was undone already")
            row = conn.execute(sa.select(t).where(t.c.row_id == target.row_id)).first()
            if row.version != target.version:
                raise Conflict({target.row_id: current_state(conn, target.row_id)})
            lines = [x for x in standing(conn, [target.row_id])[target.row_id] if x.id != decision_id]
            state = row_state(lines, row)
            restored = {k: (state[f"d_{k}"] if lines else model_labels(row._mapping)[k]) for k in LABEL_FIELDS}
            line = {"user_id": user["id"], "reviewer": user["name"], "role": user["role"], "decided_at": stamp, "note": "",
                    "model": row.model, "channel": "undo", "undoes": decision_id,
                    "model_flags": "".join(str(int(getattr(row, f))) for f in FLAGS), **restored}
            undo_id = _write(conn, target.row_id, row.version, state, line)
            if undo_id is None:
                conn.rollback()
                raise Conflict({target.row_id: current_state(conn, target.row_id)})
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
    return {"row_id": target.row_id, "version": row.version + 1, "status": state["status"], "decision_id": undo_id,
            "undid": decision_id}


def bulk_decide(engine: sa.Engine, user: dict, query: QueueQuery, template: dict, expected: int, note: str = "") -> list[dict]:
    """One decision on every row of a filtered set (at most BULK_MAX), each recorded in the
    history like any save (channel ``bulk``). ``template`` maps each label to a value or to
    ``"model"`` (the row's prediction); ``expected`` is the count the reviewer confirmed: a set
    that has changed size since is refused."""
    query = query.check()
    unknown = set(template) - set(LABEL_FIELDS)
    if unknown:
        raise ValidationError(f"unknown labels {sorted(unknown)}")
    t = db.indicator_rows
    base = conditions(QueueQuery(**{**query.__dict__, "q": None}), user["id"]) if not query.q else None
    with engine.connect() as conn:
        if base is not None:
            statement = sa.select(t).where(*base).order_by(*order(query)).limit(BULK_MAX + 1)
        else:
            s = db.row_search
            matching = sa.select(s.c.row_id).where(*conditions(query, user["id"]))
            statement = sa.select(t).where(t.c.row_id.in_(matching)).order_by(t.c.risk.desc(), t.c.row_id.desc()).limit(BULK_MAX + 1)
        rows = [dict(r._mapping) for r in conn.execute(statement)]
    if len(rows) > BULK_MAX:
        raise ValidationError(f"the filtered set has more than {BULK_MAX} rows: narrow the filters first")
    if len(rows) != expected:
        raise ValidationError(f"the filtered set now has {len(rows)} rows, not the {expected} confirmed: check and try again")
    items = []
    for row in rows:
        labels = {k: (model_labels(row)[k] if template.get(k, "model") == "model" else template[k]) for k in LABEL_FIELDS}
        items.append((row["row_id"], Decision.of(labels, row["version"], note)))
    return save_decisions(engine, user, items, "bulk") if items else []
