"""Accounts, logins and sessions, all kept in the database so that every worker process agrees.

User names are normalized (NFKC, surrounding whitespace stripped) when an account is made and
at every login, so ``' chen'``, ``'chen\\t'`` and ``'\\u3000chen'`` are the one account ``chen``
— for the password check and for the throttle alike — and no two accounts may differ only that
way. The throttle counts failed logins in ``login_failures`` per name and per client address;
an attempt is recorded *before* its password is checked, so concurrent guesses on several
workers cannot slip past the limit together. Sessions live in ``sessions`` (the cookie carries a
random id, the table its hash): logout deletes the session; a password reset or disable deletes
every session of the account and is seen by the very next request, over HTTP Basic too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import timedelta

import sqlalchemy as sa

from .._text import nfkc
from . import db
from .common import PASSWORD_MIN, ROLES, aware, now
from .errors import Throttled, ValidationError

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_NAME = re.compile(r"^[^\s\x00-\x1f\x7f:/\\<>\"'&]{1,64}$")
#: failed logins allowed per user name, and per client address, in THROTTLE_WINDOW seconds
THROTTLE_NAME_LIMIT = 10
THROTTLE_CLIENT_LIMIT = 30
THROTTLE_WINDOW = 300.0
_DUMMY_HASH = None


# ---------------------------------------------------------------- passwords
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


# ---------------------------------------------------------------- names and accounts
def normalize_name(name: str | None) -> str:
    """The form a user name is stored and looked up in: NFKC, surrounding whitespace removed."""
    return nfkc(name or "").strip()


def check_user_name(name: str) -> str:
    name = normalize_name(name)
    if not _NAME.match(name):
        raise ValidationError(f"invalid user name {name!r}: 1–64 characters, no spaces, quotes, colons, slashes or <>&")
    return name


def _stamp(password_hash: str) -> str:
    return password_hash[-12:]


def _user_dict(row) -> dict:
    return {"id": row.id, "name": row.name, "role": row.role, "active": bool(row.active), "stamp": _stamp(row.password_hash)}


def _find(conn, name: str):
    """The account whose normalized name is ``name`` (older rows may be stored unnormalized)."""
    row = conn.execute(sa.select(db.users).where(db.users.c.name == name)).first()
    if row is None:
        row = next((r for r in conn.execute(sa.select(db.users)) if normalize_name(r.name) == name), None)
    return row


def add_user(engine: sa.Engine, name: str, password: str, role: str = "reviewer", *, update: bool = False) -> dict:
    """Create a user (or, with ``update``, reset an existing user's password and role, enable
    the account and end its sessions)."""
    name = check_user_name(name)
    if role not in ROLES:
        raise ValidationError(f"invalid role {role!r}: use one of {', '.join(ROLES)}")
    if len(password or "") < PASSWORD_MIN:
        raise ValidationError(f"password too short: at least {PASSWORD_MIN} characters")
    if len(password) > 1024:
        raise ValidationError("password too long: at most 1024 characters")
    hashed = hash_password(password)
    with engine.begin() as conn:
        existing = _find(conn, name)
        if existing is not None:
            if not update:
                same = "" if existing.name == name else f" (as {existing.name!r}: names that differ only in width or spaces are one)"
                raise ValidationError(f"user {name!r} exists already{same} (use --update to reset the password and role)")
            conn.execute(db.users.update().where(db.users.c.id == existing.id).values(password_hash=hashed, role=role, active=True))
            conn.execute(db.sessions.delete().where(db.sessions.c.user_id == existing.id))
            user_id = existing.id
        else:
            user_id = conn.execute(
                db.users.insert().values(name=name, role=role, password_hash=hashed, active=True, created_at=now())
            ).inserted_primary_key[0]
    return {"id": user_id, "name": name, "role": role}


def disable_user(engine: sa.Engine, name: str) -> None:
    """Refuse this account's logins and end its sessions at once (its decisions stay in the
    history; ``add_user(..., update=True)`` enables it again with a new password)."""
    with engine.begin() as conn:
        row = _find(conn, normalize_name(name))
        if row is None:
            raise ValidationError(f"no user named {name!r}")
        conn.execute(db.users.update().where(db.users.c.id == row.id).values(active=False))
        conn.execute(db.sessions.delete().where(db.sessions.c.user_id == row.id))


def get_user(engine: sa.Engine, user_id: int) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(db.users).where(db.users.c.id == user_id)).first()
    return _user_dict(row) if row is not None and row.active else None


def list_users(engine: sa.Engine) -> list[dict]:
    with engine.connect() as conn:
        return [_user_dict(r) for r in conn.execute(sa.select(db.users).order_by(db.users.c.name))]


# ---------------------------------------------------------------- logins and the throttle
def authenticate(engine: sa.Engine, name: str, password: str) -> dict | None:
    """The user when name and password match an active account, else None (same cost either
    way). No throttle: see :func:`login`."""
    global _DUMMY_HASH
    with engine.connect() as conn:
        row = _find(conn, normalize_name(name))
    if row is None or not row.active:
        _DUMMY_HASH = _DUMMY_HASH or hash_password("not-a-password")
        verify_password(password or "", _DUMMY_HASH)
        return None
    return _user_dict(row) if verify_password(password or "", row.password_hash) else None


def login(engine: sa.Engine, name: str, password: str, client: str = "") -> dict | None:
    """authenticate() behind the shared throttle: raises Throttled when the name or the client
    address has used up its failures in the window. The attempt is counted first and forgotten
    (with the name's earlier failures) only when it succeeds."""
    name, client = normalize_name(name)[:64], (client or "")[:64]
    start = now()
    since = start - timedelta(seconds=THROTTLE_WINDOW)
    f = db.login_failures
    with engine.begin() as conn:
        conn.execute(f.delete().where(f.c.at < since))
        attempt = conn.execute(f.insert().values(name=name, client=client, at=start)).inserted_primary_key[0]
    with engine.connect() as conn:
        # every committed attempt counts, this one included: of N concurrent guesses the k-th to
        # commit sees at least k, so no more than the limit are ever checked
        by_name = conn.execute(sa.select(sa.func.count()).where(f.c.name == name, f.c.at >= since)).scalar()
        by_client = conn.execute(sa.select(sa.func.count()).where(f.c.client == client, f.c.at >= since)).scalar()
    if by_name > THROTTLE_NAME_LIMIT or by_client > THROTTLE_CLIENT_LIMIT:
        raise Throttled("too many failed logins; try again later")
    user = authenticate(engine, name, password)
    if user is not None:
        with engine.begin() as conn:
            conn.execute(f.delete().where(sa.or_(f.c.id == attempt, f.c.name == name)))
    return user


# ---------------------------------------------------------------- sessions
def _hash_sid(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def start_session(engine: sa.Engine, user: dict, max_age: float) -> str:
    """A new session for ``user``; returns the id the cookie carries (only its hash is stored)."""
    session_id = secrets.token_urlsafe(32)
    stamp = now()
    with engine.begin() as conn:
        conn.execute(db.sessions.delete().where(db.sessions.c.expires_at < stamp))
        conn.execute(db.sessions.insert().values(id_hash=_hash_sid(session_id), user_id=user["id"], stamp=user["stamp"],
                                                 created_at=stamp, expires_at=stamp + timedelta(seconds=max_age)))
    return session_id


#: built once: every request runs it, and a statement reused is neither rebuilt nor re-keyed
_SESSION_USER = (sa.select(db.users, db.sessions.c.stamp.label("session_stamp"), db.sessions.c.expires_at)
                 .join(db.sessions, db.sessions.c.user_id == db.users.c.id)
                 .where(db.sessions.c.id_hash == sa.bindparam("id_hash")))


def session_user(engine: sa.Engine, session_id: str | None) -> dict | None:
    """The active user of a live session, else None: one lookup per request, so a logout,
    reset or disable ends it at once."""
    if not session_id or not isinstance(session_id, str) or len(session_id) > 100:
        return None
    with engine.connect() as conn:
        row = conn.execute(_SESSION_USER, {"id_hash": _hash_sid(session_id)}).first()
    if row is None or not row.active or row.session_stamp != _stamp(row.password_hash):
        return None
    if aware(row.expires_at) < now():
        return None
    return _user_dict(row)


def end_session(engine: sa.Engine, session_id: str | None) -> None:
    if session_id and isinstance(session_id, str):
        with engine.begin() as conn:
            conn.execute(db.sessions.delete().where(db.sessions.c.id_hash == _hash_sid(session_id)))


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
