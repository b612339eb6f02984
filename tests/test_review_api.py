"""The review app through its HTTP interface (FastAPI TestClient) and its commands.

Every test runs on a temporary SQLite file and, when BUDGETNLP_TEST_POSTGRES_URL names a
throwaway PostgreSQL database, on PostgreSQL too (one schema per test, dropped after). Without
that variable the PostgreSQL variant is skipped with the reason — except under CI=true, where it
fails, so CI never skips it silently.
"""

from __future__ import annotations

import json
import threading
import uuid
import xml.etree.ElementTree as ET

import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from budgetnlp.dataset import ANNOTATION_COLUMNS, build_dataset, join_annotations, load_annotations
from budgetnlp.labelstudio import LABELING_CONFIG, read_labelstudio_export
from budgetnlp.review import db, fulltext, service, users
from budgetnlp.review.app import create_app
from budgetnlp.review.cli import review_app
from budgetnlp.schema import FLAGS, METRIC_TYPES

from .review_fixtures import (
    PASSWORD,
    POSTGRES_ENV,
    ROOT,
    api_token,
    create_postgres_schema,
    csrf_from,
    decision_body,
    drop_postgres_schema,
    login,
    make_run,
    postgres_schema_url,
    postgres_url_or_skip,
    sample_rows,
    scored_frame,
)

runner = CliRunner()


# ---------------------------------------------------------------- fixtures
@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch):
    """Tests hash many passwords: a lower scrypt cost (the stored hash records its parameters)."""
    monkeypatch.setattr(users, "_SCRYPT", {"n": 2**10, "r": 8, "p": 1})


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'review.sqlite3'}"
        return
    base = postgres_url_or_skip()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    create_postgres_schema(base, schema)
    try:
        yield postgres_schema_url(base, schema)
    finally:
        drop_postgres_schema(base, schema)


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    return {
        "v1": make_run(base / "v1", seed=1, model_version="1"),
        "v2": make_run(base / "v2", seed=2, model_version="2", metrics={"macro_f1": 0.79}),
        "v0": make_run(base / "v0", seed=3, model_version="0"),
    }


@pytest.fixture
def app(database_url, runs):
    app = create_app(database_url, count_cache_ttl=0)
    engine = app.state.engine
    service.import_run(engine, runs["v1"])
    service.add_user(engine, "alice", PASSWORD)
    service.add_user(engine, "bob", PASSWORD)
    service.add_user(engine, "carol", PASSWORD, "admin")
    yield app
    engine.dispose()


@pytest.fixture
def engine(app):
    return app.state.engine


def client_for(app, name: str | None = None) -> TestClient:
    client = TestClient(app)
    if name:
        assert login(client, name).status_code == 303
    return client


@pytest.fixture
def alice(app):
    return client_for(app, "alice")


@pytest.fixture
def bob(app):
    return client_for(app, "bob")


def first_rows(client, n=1, **params):
    return client.get("/api/queue", params={"per_page": n, **params}).json()["rows"]


def row_state(client, row_id):
    return client.get(f"/api/rows/{row_id}").json()["row"]


def assert_search_copy_in_step(engine):
    """row_search keeps a copy of the queue columns: it must equal indicator_rows after any change."""
    r, s = db.indicator_rows, db.row_search
    columns = service.SEARCH_COPY
    with engine.connect() as conn:
        rows = {x.row_id: tuple(getattr(x, c) for c in columns) for x in conn.execute(sa.select(r.c.row_id, *(r.c[c] for c in columns)))}
        copy = {x.row_id: tuple(getattr(x, c) for c in columns) for x in conn.execute(sa.select(s.c.row_id, *(s.c[c] for c in columns)))}
    assert copy == rows


def save(client, row_id, body, token=None):
    headers = {"X-CSRF-Token": token if token is not None else api_token(client)}
    return client.post(f"/api/rows/{row_id}/decision", json=body, headers=headers)


# ---------------------------------------------------------------- import
def test_import_is_idempotent_and_a_newer_run_updates_predictions_only(app, engine, alice, runs):
    rows = first_rows(alice, 2)
    row_id = rows[0]["row_id"]
    row = row_state(alice, row_id)
    assert save(alice, row_id, decision_body(row, vague=1 - row["labels"]["vague"], note="看过")).status_code == 200
    decided = row_state(alice, row_id)

    again = service.import_run(engine, runs["v1"])
    assert again["new_run"] is False and again["inserted"] == 0
    assert alice.get("/api/queue").json()["counts"]["all"] == 278

    newer = service.import_run(engine, runs["v2"])
    assert newer["new_run"] and newer["inserted"] == 0 and newer["updated"] == 278
    after = row_state(alice, row_id)
    v2 = scored_frame(seed=2).set_index("row_id").loc[row_id]
    assert after["model"] == "budgetnlp-test 2"
    assert after["p_vague"] == pytest.approx(float(v2["p_vague"]))
    assert after["reasons"] == v2["reasons"]
    for key in ("version", "status", "d_vague", "d_metric_type", "d_note", "decided_by", "labels"):
        assert after[key] == decided[key], key
    # an older run imported later never overwrites newer predictions
    older = service.import_run(engine, runs["v0"])
    assert older["older"] == 278 and older["updated"] == 0
    assert row_state(alice, row_id)["model"] == "budgetnlp-test 2"
    assert alice.get("/api/queue").json()["counts"]["all"] == 278
    assert_search_copy_in_step(engine)


def test_import_names_what_is_wrong(engine, tmp_path):
    from budgetnlp.errors import InputError

    with pytest.raises(InputError, match="summary.json"):
        service.import_run(engine, tmp_path)
    bad = make_run(tmp_path / "bad", seed=5)
    frame = pd.read_parquet(bad / "scored.parquet").drop(columns=["p_vague"])
    frame.to_parquet(bad / "scored.parquet")
    with pytest.raises(InputError, match="p_vague"):
        service.import_run(engine, bad)


# ---------------------------------------------------------------- auth, sessions, CSRF
def _all_routes(routes):
    """Routes, with included routers expanded (newer FastAPI keeps them as one entry each)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _all_routes(inner.routes)
        else:
            yield route


def test_every_page_and_api_call_requires_login(app, engine):
    from fastapi.routing import APIRoute

    client = client_for(app)
    row_id = first_rows(client_for(app, "alice"))[0]["row_id"]
    key = service.get_row(engine, row_id)["project_key"]
    checked = 0
    for route in _all_routes(app.routes):
        if not isinstance(route, APIRoute) or route.path in ("/login", "/logout", "/favicon.ico"):
            continue
        path = route.path.replace("{row_id}", row_id).replace("{key}", key)
        for method in route.methods:
            response = client.request(method, path, follow_redirects=False)
            if path.startswith("/api/") or path == "/openapi.json":
                assert response.status_code == 401, (method, path)
            else:
                assert response.status_code == 303 and response.headers["location"].startswith("/login"), (method, path)
            checked += 1
    assert checked >= 20


def test_login_logout_and_wrong_password(app):
    client = client_for(app)
    page = client.get("/queue", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fqueue"
    wrong = login(client, "alice", "wrong password")
    assert wrong.status_code == 401 and "用户名或密码错误" in wrong.text
    assert login(client, "nobody").status_code == 401
    ok = login(client, "alice")
    assert ok.status_code == 303
    cookie = ok.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower() and "Max-Age=36000" in cookie
    assert client.get("/queue").status_code == 200
    token = csrf_from(client.get("/queue").text)
    assert client.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert client.get("/queue", follow_redirects=False).status_code == 303
    assert client.get("/api/me").status_code == 401


def test_open_redirect_is_refused(app):
    client = client_for(app)
    token = csrf_from(client.get("/login").text)
    response = client.post("/login", data={"name": "alice", "password": PASSWORD, "csrf_token": token, "next": "//evil.example/x"},
                           follow_redirects=False)
    assert response.headers["location"] == "/queue"


def test_session_expires_after_max_age(database_url, runs, monkeypatch):
    from datetime import timedelta

    app = create_app(database_url, session_max_age=60, count_cache_ttl=0)
    service.add_user(app.state.engine, "alice", PASSWORD)
    client = client_for(app, "alice")
    assert client.get("/api/me").status_code == 200
    later = users.now() + timedelta(seconds=61)
    monkeypatch.setattr(users, "now", lambda: later)
    assert client.get("/api/me").status_code == 401
    assert client.get("/queue", follow_redirects=False).status_code == 303
    app.state.engine.dispose()


def test_password_reset_ends_existing_sessions(app, database_url, engine):
    client = client_for(app, "alice")
    cookies = dict(client.cookies)
    service.add_user(engine, "alice", "a brand new password", update=True)
    fresh = create_app(database_url, count_cache_ttl=0)  # same secret (kept in the database), empty caches
    other = TestClient(fresh, cookies=cookies)
    assert other.get("/api/me").status_code == 401
    fresh.state.engine.dispose()


def test_disabled_account_is_locked_out(app, database_url, engine, tmp_path):
    client = client_for(app, "bob")
    cookies = dict(client.cookies)
    result = CliRunner().invoke(review_app, ["disable", "bob", "--db", database_url])
    assert result.exit_code == 0, result.output
    assert "bob\treviewer\tdisabled" in CliRunner().invoke(review_app, ["users", "--db", database_url]).output
    fresh = create_app(database_url, count_cache_ttl=0)  # empty user cache: the app's own lags ≤ 5 s
    assert TestClient(fresh, cookies=cookies).get("/api/me").status_code == 401
    assert login(TestClient(fresh), "bob").status_code != 303
    missing = CliRunner().invoke(review_app, ["disable", "nobody", "--db", database_url])
    assert missing.exit_code != 0 and "no user named 'nobody'" in str(missing.exception)
    service.add_user(engine, "bob", "another good password", update=True)  # enabled again
    assert service.authenticate(engine, "bob", "another good password") is not None
    fresh.state.engine.dispose()


def test_http_basic_for_machine_clients(app):
    client = client_for(app)
    assert client.get("/api/me", auth=("alice", PASSWORD)).json() == {"name": "alice", "role": "reviewer", "auth": "basic"}
    assert client.get("/api/queue", auth=("alice", "wrong")).status_code == 401
    assert client.get("/api/queue", headers={"Authorization": "Basic !!!"}).status_code == 401
    row = row_state(client_for(app, "bob"), first_rows(client_for(app, "bob"))[0]["row_id"])
    saved = client.post(f"/api/rows/{row['row_id']}/decision", json=decision_body(row), auth=("alice", PASSWORD))
    assert saved.status_code == 200 and saved.json()["decided_by"] == "alice"
    assert "basic" not in client.get("/api/me").headers.get("www-authenticate", "").lower()


def test_csrf_is_checked_on_every_post(app, alice):
    row_id = first_rows(alice)[0]["row_id"]
    row = row_state(alice, row_id)
    form = {"base_version": "0", "metric_type": "text", "suggested_metric_type": "text", "note": ""}
    assert alice.post(f"/rows/{row_id}", data=form, follow_redirects=False).status_code == 403
    assert alice.post(f"/rows/{row_id}", data={**form, "csrf_token": "forged"}, follow_redirects=False).status_code == 403
    assert alice.post(f"/rows/{row_id}/decision".replace("/rows", "/api/rows"), json=decision_body(row)).status_code == 403
    assert save(alice, row_id, decision_body(row), token="forged").status_code == 403
    assert alice.post(f"/projects/{row['project_key']}", data={"count": "0"}, follow_redirects=False).status_code == 403
    assert alice.post("/logout", follow_redirects=False).status_code == 403
    anonymous = client_for(app)
    anonymous.get("/login")
    assert anonymous.post("/login", data={"name": "alice", "password": PASSWORD}).status_code == 403
    assert row_state(alice, row_id)["version"] == 0
    token = csrf_from(alice.get(f"/rows/{row_id}").text)
    ok = alice.post(f"/rows/{row_id}", data={**form, "csrf_token": token}, follow_redirects=False)
    assert ok.status_code == 303 and row_state(alice, row_id)["version"] == 1


def test_security_headers(alice):
    response = alice.get("/queue")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"


# ---------------------------------------------------------------- decisions, versions, history
def test_stale_version_is_a_409_showing_the_other_decision(app, alice, bob):
    row_id = first_rows(alice)[0]["row_id"]
    seen_by_alice, seen_by_bob = row_state(alice, row_id), row_state(bob, row_id)
    first = save(alice, row_id, decision_body(seen_by_alice, vague=1, boilerplate=0, note="alice 判断"))
    assert first.status_code == 200 and first.json()["version"] == 1

    stale = save(bob, row_id, decision_body(seen_by_bob, vague=0, boilerplate=1))
    assert stale.status_code == 409
    current = stale.json()["current"][row_id]
    assert current["version"] == 1 and current["decided_by"] == "alice" and current["labels"]["vague"] == 1
    assert current["note"] == "alice 判断"

    # the same through the page: 409 with the conflict shown and bob's choices kept
    token = csrf_from(bob.get(f"/rows/{row_id}").text)
    form = {"csrf_token": token, "base_version": "0", "boilerplate": "1", "metric_type": "text",
            "suggested_metric_type": "grade", "note": "bob 的判断"}
    page = bob.post(f"/rows/{row_id}", data=form)
    assert page.status_code == 409
    assert "保存冲突" in page.text and "alice" in page.text and "bob 的判断" in page.text
    assert 'name="base_version" value="1"' in page.text

    again = save(bob, row_id, decision_body(row_state(bob, row_id), vague=0, boilerplate=1))
    assert again.status_code == 200 and again.json()["version"] == 2 and again.json()["status"] == "conflict"
    history = bob.get(f"/api/rows/{row_id}/history").json()
    assert [(h["reviewer"], h["base_version"], h["version"]) for h in history] == [("bob", 1, 2), ("alice", 0, 1)]
    # an admin's decision settles the disagreement
    carol = client_for(app, "carol")
    settled = save(carol, row_id, decision_body(row_state(carol, row_id)))
    assert settled.json()["status"] == "reviewed"


def test_concurrent_saves_on_one_row_never_overwrite(app, engine):
    row_id = first_rows(client_for(app, "alice"))[0]["row_id"]
    users = {u["name"]: u for u in service.list_users(engine)}
    results, errors = [], []

    def worker(name, vague):
        decision = service.Decision(base_version=0, flags={f: vague for f in FLAGS}, metric_type="text",
                                    suggested_metric_type="grade", note=name)
        try:
            results.append(service.save_decision(engine, users[name], row_id, decision))
        except service.Conflict:
            errors.append(name)

    threads = [threading.Thread(target=worker, args=(name, i % 2)) for i, name in enumerate(["alice", "bob", "carol"] * 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 1 and len(errors) == 8
    history = service.history(engine, row_id)
    assert len(history) == 1 and history[0]["reviewer"] == results[0]["decided_by"]
    assert service.get_row(engine, row_id)["version"] == 1


def test_history_is_append_only_in_the_database(app, engine, alice):
    row_id = first_rows(alice)[0]["row_id"]
    assert save(alice, row_id, decision_body(row_state(alice, row_id))).status_code == 200
    for statement in ("UPDATE decisions SET note = 'changed'", "DELETE FROM decisions"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            with engine.begin() as conn:
                conn.exec_driver_sql(statement)
    assert service.history(engine, row_id)[0]["note"] == ""


def test_inputs_are_validated(app, alice):
    row_id = first_rows(alice)[0]["row_id"]
    row = row_state(alice, row_id)
    good = decision_body(row)
    for bad in ({"note": "长" * 2001}, {"metric_type": "ratio"}, {"vague": 2}, {"base_version": -1}, {"extra": 1}):
        response = save(alice, row_id, {**good, **bad})
        assert response.status_code == 422, bad
    assert save(alice, row_id, {**good, "note": "长" * 2000}).status_code == 200
    assert save(alice, "no-such-row", good).status_code == 404
    token = csrf_from(alice.get(f"/rows/{row_id}").text)
    page = alice.post(f"/rows/{row_id}", data={"csrf_token": token, "base_version": "1", "metric_type": "ratio",
                                               "suggested_metric_type": "text"})
    assert page.status_code == 422 and "ratio" in page.text
    assert alice.get("/api/queue", params={"flag": "nonsense"}).status_code == 422
    assert alice.get("/queue", params={"year": "abc"}).status_code == 422
    assert alice.get("/queue", params={"q": "x" * 201}).status_code == 422
    assert alice.get("/rows/no-such-row").status_code == 404


def test_all_text_is_escaped(database_url, tmp_path):
    rows = sample_rows().head(3).copy()
    rows.loc[rows.index[0], "name"] = "<script>alert('x')</script>"
    rows.loc[rows.index[0], "project_name"] = '<img src=x onerror="alert(1)">'
    run = make_run(tmp_path / "evil", rows=rows)
    app = create_app(database_url, count_cache_ttl=0)
    service.import_run(app.state.engine, run)
    service.add_user(app.state.engine, "alice", PASSWORD)
    client = client_for(app, "alice")
    row_id = rows["row_id"].iloc[0]
    token = client.get("/api/me").json()["csrf_token"]
    body = decision_body(row_state(client, row_id), note="</textarea><script>alert(2)</script>")
    assert client.post(f"/api/rows/{row_id}/decision", json=body, headers={"X-CSRF-Token": token}).status_code == 200
    for path in ("/queue", f"/rows/{row_id}", f"/projects/{row_state(client, row_id)['project_key']}"):
        html = client.get(path).text
        assert "<script>alert" not in html and "<img src=x" not in html, path
        assert "&lt;script&gt;" in html or "&lt;img" in html, path
    app.state.engine.dispose()


# ---------------------------------------------------------------- queue
def test_queue_filters_counts_and_search(app, alice):
    frame = scored_frame(seed=1)
    department = frame["department"].iloc[0]
    cases = {
        (("department", department),): frame["department"] == department,
        (("year", 2020),): frame["year"] == 2020,
        (("flag", "vague"),): frame["vague"] == 1,
        (("metric_type", "percent"),): frame["metric_type"] == "percent",
        (("q", "满意度"),): frame[["name", "description", "value", "project_name"]].apply(lambda c: c.str.contains("满意度")).any(axis=1),
        (("project", "租赁费"),): frame["project_name"].str.contains("租赁费"),
        (("flag", "unmeasurable"), ("year", 2023)): (frame["unmeasurable"] == 1) & (frame["year"] == 2023),
    }
    for params, mask in cases.items():
        page = alice.get("/api/queue", params=dict(params) | {"per_page": 200}).json()
        assert page["total"] == int(mask.sum()), params
        assert {r["row_id"] for r in page["rows"]} == set(frame.loc[mask, "row_id"].head(200)) or page["total"] > 200, params
        assert alice.get("/queue", params=dict(params)).status_code == 200
    assert alice.get("/api/queue", params={"q": "_"}).json()["total"] == 0  # LIKE wildcards are escaped
    text = frame[["name", "description", "value", "project_name"]].agg("\x1f".join, axis=1)
    percent = int(text.str.contains("%").sum())
    assert alice.get("/api/queue", params={"q": "%"}).json()["total"] == percent
    assert alice.get("/api/queue", params={"q": "％"}).json()["total"] == percent  # NFKC: full-width matches
    with_q = alice.get("/api/queue", params={"q": "满意度", "flag": "vague", "status": "unreviewed", "per_page": 200}).json()
    expected = cases[(("q", "满意度"),)] & (frame["vague"] == 1)
    assert with_q["total"] == int(expected.sum())
    ordered = frame[expected].sort_values(["risk", "row_id"], ascending=[False, False])["row_id"].tolist()
    assert [r["row_id"] for r in with_q["rows"]] == ordered
    html = alice.get("/queue", params={"department": department}).text
    assert f'<strong id="total">{int((frame["department"] == department).sum())}</strong>' in html


def test_text_search_pages_with_cached_counts(engine):
    cache = service.CountCache(60)
    for sort in ("risk", "uncertainty"):
        query = service.QueueQuery(q="资金", sort=sort, per_page=7)
        first = service.queue(engine, query, 1, cache)  # counts computed in the same scan, then cached
        again = service.queue(engine, service.QueueQuery(q="资金", sort=sort, per_page=7), 1, cache)
        uncached = service.queue(engine, service.QueueQuery(q="资金", sort=sort, per_page=7), 1)
        assert [r["row_id"] for r in first["rows"]] == [r["row_id"] for r in again["rows"]] == [r["row_id"] for r in uncached["rows"]]
        assert first["counts"] == again["counts"] == uncached["counts"] and first["total"] > 7
        whole = service.queue(engine, service.QueueQuery(q="资金", sort=sort, per_page=200), 1)["rows"]
        second = service.queue(engine, service.QueueQuery(q="资金", sort=sort, per_page=7, page=2), 1, cache)["rows"]
        assert [r["row_id"] for r in second] == [r["row_id"] for r in whole[7:14]]


def test_queue_sorting_and_pagination(app, alice):
    frame = scored_frame(seed=1)
    by_risk = frame.sort_values(["risk", "row_id"], ascending=[False, False])["row_id"].tolist()
    pages = [alice.get("/api/queue", params={"page": p, "per_page": 50}).json() for p in range(1, 7)]
    assert pages[0]["pages"] == 6 and pages[0]["total"] == 278
    assert [r["row_id"] for page in pages for r in page["rows"]] == by_risk
    margin = frame[[f"p_{f}" for f in FLAGS]].sub(0.5).abs().min(axis=1)
    by_margin = frame.assign(m=margin).sort_values(["m", "row_id"])["row_id"].tolist()
    got = alice.get("/api/queue", params={"sort": "uncertainty", "per_page": 200}).json()["rows"]
    assert [r["row_id"] for r in got] == by_margin[:200]
    assert alice.get("/api/queue", params={"page": 99}).json()["rows"] == []


def test_status_filters_and_neighbours(app, alice, bob):
    ids = [r["row_id"] for r in first_rows(alice, 5)]
    for row_id in ids[:3]:
        assert save(alice, row_id, decision_body(row_state(alice, row_id))).status_code == 200
    assert save(bob, ids[0], decision_body(row_state(bob, ids[0]), vague=1 - row_state(bob, ids[0])["labels"]["vague"])).status_code == 200
    counts = alice.get("/api/queue").json()["counts"]
    assert counts == {"total": 278, "all": 278, "unreviewed": 275, "reviewed": 2, "conflict": 1}
    assert alice.get("/api/queue", params={"status": "conflict"}).json()["rows"][0]["row_id"] == ids[0]
    assert alice.get("/api/queue", params={"status": "mine"}).json()["total"] == 3
    assert bob.get("/api/queue", params={"status": "not_mine"}).json()["total"] == 277
    # j/k follow the queue order, also for a row that has left the filtered set
    nav = alice.get(f"/api/rows/{ids[1]}").json()["nav"]
    assert nav == {"prev": ids[0], "next": ids[2], "before": 1}
    nav = alice.get(f"/api/rows/{ids[1]}", params={"status": "unreviewed"}).json()["nav"]
    assert nav == {"prev": None, "next": ids[3], "before": 0}
    html = alice.get(f"/rows/{ids[1]}", params={"status": "unreviewed"}).text
    assert f'href="/rows/{ids[3]}?status=unreviewed"' in html
    # the same through a text search (which runs on the row_search copy)
    word = row_state(alice, ids[2])["name"]
    searched = [r["row_id"] for r in alice.get("/api/queue", params={"q": word, "per_page": 200}).json()["rows"]]
    assert ids[2] in searched
    i = searched.index(ids[2])
    nav = alice.get(f"/api/rows/{ids[2]}", params={"q": word}).json()["nav"]
    assert nav == {"prev": searched[i - 1] if i else None, "next": searched[i + 1] if i + 1 < len(searched) else None, "before": i}
    assert_search_copy_in_step(app.state.engine)


# ---------------------------------------------------------------- project page
def test_project_table_saves_several_rows_all_or_nothing(app, alice, bob, engine):
    row_id = first_rows(alice)[0]["row_id"]
    key = row_state(alice, row_id)["project_key"]
    rows = service.project_rows(engine, key)
    page = alice.get(f"/projects/{key}")
    assert page.status_code == 200

    def form(client, include_all=True, flip=None):
        data = {"csrf_token": csrf_from(client.get(f"/projects/{key}").text), "count": str(len(rows))}
        for i, r in enumerate(client.get(f"/api/projects/{key}").json()):  # as this reviewer sees them
            data[f"r{i}_row_id"] = r["row_id"]
            data[f"r{i}_base_version"] = str(r["version"])
            if include_all or i == 0:
                data[f"r{i}_include"] = "1"
            for f in FLAGS:
                if r["labels"][f] != (flip == f and i == 0):
                    data[f"r{i}_{f}"] = "1"
            data[f"r{i}_metric_type"] = r["labels"]["metric_type"]
            data[f"r{i}_suggested_metric_type"] = r["labels"]["suggested_metric_type"]
            data[f"r{i}_note"] = r["d_note"] or ""
        return data

    stale = form(bob)
    saved = alice.post(f"/projects/{key}", data=form(alice), follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == f"/projects/{key}"
    assert all(r["version"] == 1 and r["decided_by"] == "alice" for r in service.project_rows(engine, key))

    conflict = bob.post(f"/projects/{key}", data=stale)
    assert conflict.status_code == 409 and "整表未保存" in conflict.text
    untouched = bob.post(f"/projects/{key}", data=form(bob, include_all=False) | {"r0_include": ""}, follow_redirects=False)
    assert untouched.status_code == 422 and "未保存" in untouched.text  # nothing ticked, nothing changed: nothing saved
    assert all(r["version"] == 1 for r in service.project_rows(engine, key))
    assert all(r["version"] == 1 for r in service.project_rows(engine, key))
    only_first = bob.post(f"/projects/{key}", data=form(bob, include_all=False, flip="vague"), follow_redirects=False)
    assert only_first.status_code == 303
    versions = [r["version"] for r in service.project_rows(engine, key)]
    assert versions[0] == 2 and set(versions[1:]) <= {1}

    api = alice.post(f"/api/projects/{key}/decisions", headers={"X-CSRF-Token": api_token(alice)}, json={
        "decisions": [{"row_id": r["row_id"], **decision_body(r)} for r in service.project_rows(engine, key)]})
    assert api.status_code == 200 and len(api.json()) == len(rows)


# ---------------------------------------------------------------- progress, agreement
def test_progress_counts_and_cohen_kappa(app, alice, bob):
    from sklearn.metrics import cohen_kappa_score

    ids = [r["row_id"] for r in first_rows(alice, 12)]
    a_votes = [1, 1, 0, 0, 1, 0, 1, 0, 0, 1, 1, 0]
    b_votes = [1, 0, 0, 0, 1, 0, 1, 1, 0, 1, 0, 0]
    for row_id, a, b in zip(ids, a_votes, b_votes):
        assert save(alice, row_id, decision_body(row_state(alice, row_id), vague=a, boilerplate=0)).status_code == 200
        assert save(bob, row_id, decision_body(row_state(bob, row_id), vague=b, boilerplate=0)).status_code == 200
    progress = alice.get("/api/progress").json()
    assert {r["reviewer"]: r["rows"] for r in progress["reviewers"]} == {"alice": 12, "bob": 12}
    agreement = progress["agreement"]
    assert agreement["rows"] == 12
    assert agreement["labels"]["vague"]["kappa"] == pytest.approx(cohen_kappa_score(a_votes, b_votes), abs=1e-4)
    assert agreement["labels"]["boilerplate"]["kappa"] is None and agreement["labels"]["boilerplate"]["agreement"] == 1.0
    assert agreement["pairs"][0]["reviewers"] == ["alice", "bob"]
    departments = {d["department"]: d for d in progress["departments"]}
    assert sum(d["total"] for d in departments.values()) == 278
    assert sum(d["done"] for d in departments.values()) == 12
    html = alice.get("/progress").text
    assert "alice" in html and "kappa" in html


def test_cohen_kappa_edge_cases():
    assert service.cohen_kappa([]) is None
    assert service.cohen_kappa([(1, 1), (1, 1)]) is None
    assert service.cohen_kappa([(1, 1), (0, 0)]) == 1.0
    assert service.cohen_kappa([(1, 0), (0, 1)]) == -1.0


# ---------------------------------------------------------------- export, Label Studio, models, CLI
def decide_some(alice, bob, n=8):
    ids = [r["row_id"] for r in first_rows(alice, n)]
    for i, row_id in enumerate(ids):
        row = row_state(alice, row_id)
        assert save(alice, row_id, decision_body(row, vague=1, note=f"alice {i}")).status_code == 200
        if i % 2 == 0:
            assert save(bob, row_id, decision_body(row_state(bob, row_id), vague=0, unmeasurable=1, note=f"bob {i}")).status_code == 200
    return ids


def test_export_is_read_by_the_dataset_builder(app, alice, bob, database_url, tmp_path):
    ids = decide_some(alice, bob)
    out = tmp_path / "annotations" / "review-20240601.csv"
    result = runner.invoke(review_app, ["export", "-o", str(out), "--db", database_url])
    assert result.exit_code == 0, result.output
    exported = pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert list(exported.columns) == ANNOTATION_COLUMNS and len(exported) == len(ids)
    newest = exported.set_index("name")
    assert set(exported["decided_by"]) == {"alice", "bob"}
    assert (exported["doc"].str.endswith(".txt")).all() and not exported["doc"].str.contains("/").any()

    rows = sample_rows()
    annotations = load_annotations([out])
    joined = join_annotations(rows, annotations)
    decided = joined[joined["vague"].notna()].set_index("row_id")
    assert set(ids) <= set(decided.index)
    for i, row_id in enumerate(ids):
        line = decided.loc[row_id]
        if i % 2 == 0:
            assert (line["vague"], line["unmeasurable"], line["decided_by"]) == ("0", "1", "bob")
        else:
            assert (line["vague"], line["decided_by"]) == ("1", "alice")
    assert len(newest) == len(ids)

    everything = tmp_path / "all.csv"
    assert runner.invoke(review_app, ["export", "-o", str(everything), "--all", "--db", database_url]).exit_code == 0
    all_lines = pd.read_csv(everything, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert len(all_lines) == len(ids) + (len(ids) + 1) // 2
    # newest wins when the dataset builder reads every decision
    rejoined = join_annotations(rows, load_annotations([everything]))
    assert rejoined.set_index("row_id").loc[ids[0], "decided_by"] == "bob"
    api = alice.get("/api/export").text
    assert api.lstrip("\ufeff").startswith(",".join(ANNOTATION_COLUMNS[:3]))


def test_labelstudio_config_tasks_and_export_round_trip(app, alice, database_url, runs, tmp_path):
    config = runner.invoke(review_app, ["labelstudio-config"])
    assert config.exit_code == 0 and config.output == LABELING_CONFIG
    tree = ET.fromstring(LABELING_CONFIG)
    choices = {c.get("name"): [x.get("value") for x in c.findall("Choice")] for c in tree.iter("Choices")}
    assert all(choices[f] == ["1", "0"] for f in FLAGS)
    assert choices["metric_type"] == METRIC_TYPES and choices["suggested_metric_type"] == METRIC_TYPES

    tasks_path = tmp_path / "tasks.json"
    result = runner.invoke(review_app, ["export-labelstudio", "-o", str(tasks_path), "--db", database_url, "--limit", "20"])
    assert result.exit_code == 0, result.output
    tasks = json.loads(tasks_path.read_text(encoding="utf-8"))
    assert len(tasks) == 20
    first = tasks[0]
    assert {"row_id", "doc", "project_name", "name", "value", "text"} <= set(first["data"])
    predicted = {r["from_name"]: r["value"]["choices"][0] for r in first["predictions"][0]["result"]}
    assert set(predicted) == {*FLAGS, "metric_type", "suggested_metric_type"}
    assert first["predictions"][0]["model_version"] == "budgetnlp-test 1"
    from_run = tmp_path / "from_run.json"
    assert runner.invoke(review_app, ["export-labelstudio", "-o", str(from_run), "--run", str(runs["v1"])]).exit_code == 0
    assert len(json.loads(from_run.read_text(encoding="utf-8"))) == 278

    # simulate annotators in Label Studio: one sets every flag, one only a note (flags from the prediction)
    export = []
    for i, task in enumerate(tasks[:4]):
        result = [{"from_name": "note", "to_name": "text", "type": "textarea", "value": {"text": [f"ls note {i}"]}}]
        if i % 2 == 0:
            result += [{"from_name": f, "to_name": "text", "type": "choices", "value": {"choices": ["1"]}} for f in FLAGS]
            result.append({"from_name": "metric_type", "to_name": "text", "type": "choices", "value": {"choices": ["grade"]}})
        export.append({"id": 100 + i, "data": task["data"], "predictions": task["predictions"], "annotations": [
            {"result": result, "completed_by": {"email": "ls@example.org"}, "updated_at": f"2024-06-0{i + 1}T10:00:00Z",
             "was_cancelled": False},
            {"result": [], "completed_by": 3, "was_cancelled": True},
        ]})
    ls_path = tmp_path / "project-1-at-2024.json"
    ls_path.write_text(json.dumps(export, ensure_ascii=False), encoding="utf-8")
    frame = read_labelstudio_export(ls_path)
    assert list(frame.columns) == ANNOTATION_COLUMNS and len(frame) == 4
    assert frame.loc[0, "vague"] == "1" and frame.loc[0, "metric_type"] == "grade" and frame.loc[0, "vague_votes"] == "1"
    prediction_1 = {r["from_name"]: r["value"]["choices"][0] for r in tasks[1]["predictions"][0]["result"]}
    assert frame.loc[1, "vague"] == prediction_1["vague"] and frame.loc[1, "vague_votes"] == ""
    assert frame.loc[1, "note_A"] == "ls note 1" and frame.loc[0, "decided_by"] == "ls@example.org"
    joined = join_annotations(sample_rows(), load_annotations([ls_path]))
    assert joined["vague"].notna().sum() == 4

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"id": 7, "data": tasks[0]["data"], "annotations": [{"result": []}]}]), encoding="utf-8")
    from budgetnlp.errors import InputError

    with pytest.raises(InputError, match="task 7"):
        read_labelstudio_export(bad)


def test_register_model_lists_its_metrics(app, alice, database_url, tmp_path):
    model = tmp_path / "models" / "sk-2"
    model.mkdir(parents=True)
    (model / "metrics.json").write_text(json.dumps({"test": {"vague": {"f1": 0.8765}}, "macro_f1": 0.7777}), encoding="utf-8")
    (model / "meta.json").write_text(json.dumps({"name": "budgetnlp-sklearn", "version": "2024.06.02"}), encoding="utf-8")
    (model / "MODEL_CARD.md").write_text("# budgetnlp-sklearn\n\n训练数据哈希 abc123", encoding="utf-8")
    result = runner.invoke(review_app, ["register-model", str(model), "--db", database_url])
    assert result.exit_code == 0, result.output
    models = {m["name"] + " " + m["version"]: m for m in alice.get("/api/models").json()}
    assert "budgetnlp-sklearn 2024.06.02" in models and "budgetnlp-test 1" in models
    assert models["budgetnlp-sklearn 2024.06.02"]["metrics"]["macro_f1"] == 0.7777
    html = alice.get("/progress").text
    assert "2024.06.02" in html and "test.vague.f1" in html and "0.8765" in html and "训练数据哈希" in html
    # registering again updates, never duplicates; a folder without metrics.json is refused
    assert runner.invoke(review_app, ["register-model", str(model), "--db", database_url]).exit_code == 0
    assert len(alice.get("/api/models").json()) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    failed = runner.invoke(review_app, ["register-model", str(empty), "--db", database_url])
    assert failed.exit_code != 0 and "metrics.json" in str(failed.exception)


def test_cli_import_and_adduser(database_url, runs):
    imported = runner.invoke(review_app, ["import", str(runs["v1"]), "--db", database_url])
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.stdout.strip().splitlines()[-1])["inserted"] == 278
    again = runner.invoke(review_app, ["import", str(runs["v1"]), "--db", database_url])
    assert json.loads(again.stdout.strip().splitlines()[-1])["inserted"] == 0
    assert runner.invoke(review_app, ["adduser", "dora", "--role", "admin", "--password", "long enough", "--db", database_url]).exit_code == 0
    duplicate = runner.invoke(review_app, ["adduser", "dora", "--password", "long enough", "--db", database_url])
    assert duplicate.exit_code != 0 and "exists" in str(duplicate.exception)
    short = runner.invoke(review_app, ["adduser", "eve", "--password", "short", "--db", database_url])
    assert short.exit_code != 0 and "too short" in str(short.exception)
    prompted = runner.invoke(review_app, ["adduser", "fay", "--db", database_url], input="a good password\na good password\n")
    assert prompted.exit_code == 0, prompted.output
    listing = runner.invoke(review_app, ["users", "--db", database_url])
    assert "dora\tadmin" in listing.output and "fay\treviewer" in listing.output
    engine = db.make_engine(database_url)
    assert service.authenticate(engine, "fay", "a good password")["role"] == "reviewer"
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT password_hash FROM users WHERE name = 'fay'")).scalar()
    assert stored.startswith("scrypt$") and "a good password" not in stored
    engine.dispose()


def test_migrations_match_the_models(engine):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={
            "include_name": lambda name, kind, _parents: not (kind == "table" and fulltext.is_index_table(name))})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_openapi_and_docs_work_offline(alice):
    spec = alice.get("/openapi.json").json()
    assert "/api/rows/{row_id}/decision" in spec["paths"] and "DecisionIn" in spec["components"]["schemas"]
    html = alice.get("/docs").text
    assert "api-docs" in html and "cdn" not in html.lower()
    for page in ("/docs", "/queue", "/progress"):
        text = alice.get(page).text
        assert "http://" not in text and "https://" not in text, page
    assert alice.get("/static/app.js").status_code == 200 and alice.get("/static/app.css").status_code == 200


def test_postgres_variant_fails_under_ci_when_unconfigured(monkeypatch):
    monkeypatch.delenv(POSTGRES_ENV, raising=False)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        postgres_url_or_skip()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match=POSTGRES_ENV):
        postgres_url_or_skip()


# ---------------------------------------------------------------- the loop (the lead completes the training step)
@pytest.fixture
def sqlite_app(tmp_path, runs):
    url = f"sqlite:///{tmp_path / 'loop.sqlite3'}"
    app = create_app(url, count_cache_ttl=0)
    service.import_run(app.state.engine, runs["v1"])
    service.add_user(app.state.engine, "alice", PASSWORD)
    service.add_user(app.state.engine, "bob", PASSWORD)
    yield app, url
    app.state.engine.dispose()


def test_retrain_loop(sqlite_app, runs, tmp_path):
    """import a scoring run → two reviewers decide over HTTP → export → dataset → train →
    register the new model → its metrics shown in the app → its scoring run imported.

    Runs on SQLite only: every database operation in it is covered on PostgreSQL by the tests above."""
    app, database_url = sqlite_app
    engine = app.state.engine
    alice = client_for(app)  # a machine client with HTTP Basic
    bob = client_for(app, "bob")  # a browser-like session client with the CSRF header
    ids = [r["row_id"] for r in alice.get("/api/queue", params={"per_page": 30, "sort": "uncertainty"}, auth=("alice", PASSWORD)).json()["rows"]]
    token = api_token(bob)
    for i, row_id in enumerate(ids):
        row = alice.get(f"/api/rows/{row_id}", auth=("alice", PASSWORD)).json()["row"]
        body = decision_body(row, vague=i % 2, note="loop")
        assert alice.post(f"/api/rows/{row_id}/decision", json=body, auth=("alice", PASSWORD)).status_code == 200
        if i < 10:
            row = bob.get(f"/api/rows/{row_id}").json()["row"]
            assert bob.post(f"/api/rows/{row_id}/decision", json=decision_body(row, vague=1), headers={"X-CSRF-Token": token}).status_code == 200

    export = tmp_path / "annotations" / "review-20240601.csv"
    assert runner.invoke(review_app, ["export", "-o", str(export), "--db", database_url]).exit_code == 0
    gold = ROOT / "data" / "annotations" / "gold.csv"
    rows = sample_rows()
    joined = join_annotations(rows, load_annotations([gold, export]))
    by_id = joined.set_index("row_id")
    assert (by_id.loc[ids, "decided_at"] != "").all()  # the review decisions are newer than the gold lines
    assert (by_id.loc[ids[:10], "vague"] == "1").all() and (by_id.loc[ids[:10], "decided_by"] == "bob").all()
    dataset = build_dataset(rows, [gold, export])
    assert len(dataset) == 278 and (dataset.set_index("row_id").loc[ids[:10], "vague"] == 1).all()

    # retrain: `budgetnlp dataset build` and `budgetnlp train` take the export in
    from typer.testing import CliRunner as TyperRunner

    from budgetnlp.cli import app as budgetnlp_cli
    from budgetnlp.dataset import data_hash
    from budgetnlp.scoring import score

    data_dir, model_dir = tmp_path / "processed", tmp_path / "models" / "retrained"
    cli = TyperRunner()
    built = cli.invoke(budgetnlp_cli, ["dataset", "build", "--annotations", str(gold), "--annotations", str(export), "-o", str(data_dir)])
    assert built.exit_code == 0, built.output
    trained = cli.invoke(budgetnlp_cli, ["train", "--data", str(data_dir), "-o", str(model_dir)])
    assert trained.exit_code == 0, trained.output
    meta = json.loads((model_dir / "meta.json").read_text(encoding="utf-8"))
    assert meta["data_hash"] == data_hash(dataset) != data_hash(build_dataset(rows, [gold]))  # trained on the new labels
    macro_f1 = json.loads((model_dir / "metrics.json").read_text(encoding="utf-8"))["model"]["flags"]["macro_f1"]

    assert runner.invoke(review_app, ["register-model", str(model_dir), "--db", database_url]).exit_code == 0
    html = bob.get("/progress").text
    assert "retrained" in html and meta["version"] in html and f"{round(macro_f1, 4)}" in html

    # the new model's scoring run: it updates predictions, never decisions
    before = {row_id: service.get_row(engine, row_id) for row_id in ids}
    new_run = tmp_path / "run-2"
    score([ROOT / "data" / "samples"], new_run, str(model_dir), cache=False)
    assert runner.invoke(review_app, ["import", str(new_run), "--db", database_url]).exit_code == 0
    for row_id in ids:
        after = service.get_row(engine, row_id)
        assert after["model"] == f"retrained@{meta['version']}"
        assert (after["version"], after["labels"], after["decided_by"]) == (before[row_id]["version"], before[row_id]["labels"],
                                                                           before[row_id]["decided_by"])
