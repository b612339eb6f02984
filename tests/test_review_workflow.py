"""Issue 13 on SQLite and PostgreSQL: blind double review, accept-and-next with its position,
undo, the project page saving only touched rows, bulk labelling, the progress and queue fixes,
accounts (normalized names, the shared throttle, immediate revocation, server-side sessions),
bounded integers and spreadsheet-safe CSV exports."""

from __future__ import annotations

import base64
import subprocess
import sys

import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from budgetnlp.dataset import load_annotations
from budgetnlp.io import neutralize_cell, restore_cell
from budgetnlp.review import db, service, users
from budgetnlp.review.app import create_app
from budgetnlp.schema import FLAGS

from .review_fixtures import PASSWORD, ROOT, api_token, csrf_from, decision_body, login, make_run, sample_rows
from .test_review_api import (  # noqa: F401 - fixtures
    _cheap_password_hashing, alice, app, bob, client_for, database_url, engine, first_rows, row_state, runs, save,
)


def model_labels(row):
    return {**{f: row[f] for f in FLAGS}, "metric_type": row["metric_type"], "suggested_metric_type": row["suggested_metric_type"]}


# ---------------------------------------------------------------- blind double review
def test_second_reviewer_sees_the_model_not_the_first_decision(app, alice, bob):
    row_id = first_rows(alice)[0]["row_id"]
    row = row_state(alice, row_id)
    flipped = {f: 1 - row[f] for f in FLAGS}
    assert save(alice, row_id, decision_body(row, note="alice 的秘密备注", **flipped)).status_code == 200

    seen = bob.get(f"/api/rows/{row_id}").json()
    assert seen["row"]["labels"] == model_labels(seen["row"]) and seen["row"]["labels_from"] == "model"
    assert seen["row"]["decided_by"] == "" and seen["row"]["d_note"] == "" and seen["history"] == []
    assert seen["hidden_history"] == 1 and seen["row"]["version"] == 1  # a save must still name the version
    assert bob.get(f"/api/rows/{row_id}/history").json() == []
    html = bob.get(f"/rows/{row_id}").text
    assert "alice 的秘密备注" not in html and "alice" not in html.split("</header>", 1)[1] and "模型预测" in html
    queue_row = next(r for r in bob.get("/api/queue", params={"per_page": 200}).json()["rows"] if r["row_id"] == row_id)
    assert queue_row["labels"] == model_labels(queue_row) and queue_row["decided_by"] == ""

    # "review the reviewed", an admin, and the first reviewer herself see the decision
    assert bob.get(f"/api/rows/{row_id}", params={"reveal": 1}).json()["row"]["decided_by"] == "alice"
    assert client_for(app, "carol").get(f"/api/rows/{row_id}").json()["row"]["d_note"] == "alice 的秘密备注"
    assert alice.get(f"/api/rows/{row_id}").json()["row"]["labels"] == {**row["labels"], **flipped}
    # once bob has saved his own, alice's shows
    assert save(bob, row_id, decision_body(seen["row"])).json()["status"] == "conflict"
    after = bob.get(f"/api/rows/{row_id}").json()
    assert [h["reviewer"] for h in after["history"]] == ["bob", "alice"] and after["hidden_history"] == 0


# ---------------------------------------------------------------- accept-and-next, position, undo
def test_enter_saves_and_moves_to_the_next_row_with_its_position(app, alice):
    ids = [r["row_id"] for r in first_rows(alice, 4, status="unreviewed")]
    page = alice.get(f"/rows/{ids[0]}", params={"status": "unreviewed"})
    assert "第 1 / 278 条，其后还有 277 条" in page.text
    token = csrf_from(page.text)
    row = row_state(alice, ids[0])
    form = {"csrf_token": token, "base_version": "0", "metric_type": row["labels"]["metric_type"],
            "suggested_metric_type": row["labels"]["suggested_metric_type"]}
    moved = alice.post(f"/rows/{ids[0]}?status=unreviewed", data=form, follow_redirects=False)  # Enter: no action named
    assert moved.status_code == 303 and moved.headers["location"] == f"/rows/{ids[1]}?status=unreviewed"
    landed = alice.get(moved.headers["location"]).text
    assert "上一条已保存（版本 1）" in landed and "第 1 / 277 条" in landed and 'id="undo"' in landed
    stay = alice.post(f"/rows/{ids[1]}?status=unreviewed", data={**form, "action": "save"}, follow_redirects=False)
    assert stay.headers["location"] == f"/rows/{ids[1]}?status=unreviewed"
    third = alice.get(f"/rows/{ids[3]}").text  # unfiltered queue: two rows ahead of it are the saved ones
    assert "第 4 / 278 条" in third


def test_position_deep_in_a_queue_is_counted_up_to_a_cap(app, alice, monkeypatch):
    from budgetnlp.review import queue

    ids = [r["row_id"] for r in first_rows(alice, 10)]
    monkeypatch.setattr(queue, "POSITION_CAP", 3)
    assert "第 3 / 278 条" in alice.get(f"/rows/{ids[2]}").text
    assert "第 3 条以后 / 共 278 条" in alice.get(f"/rows/{ids[9]}").text
    assert alice.get(f"/api/rows/{ids[9]}").json()["nav"]["before"] == 3


def test_undo_restores_the_row_and_keeps_the_history(app, engine, alice, bob):
    row_id = first_rows(alice)[0]["row_id"]
    before = service.get_row(engine, row_id)
    first = save(bob, row_id, decision_body(row_state(bob, row_id), vague=1, note="bob")).json()
    mine = save(alice, row_id, decision_body(row_state(alice, row_id), vague=0, boilerplate=1, note="alice")).json()
    assert mine["status"] == "conflict"
    headers = {"X-CSRF-Token": api_token(bob)}
    assert bob.post("/api/undo", json={"decision_id": mine["decision_id"]}, headers=headers).status_code == 422  # not his
    undone = alice.post("/api/undo", json={"decision_id": mine["decision_id"]}, headers={"X-CSRF-Token": api_token(alice)})
    assert undone.status_code == 200 and undone.json()["status"] == "reviewed"
    row = service.get_row(engine, row_id)
    assert row["decided_by"] == "bob" and row["labels"]["vague"] == 1 and row["version"] == 3 and row["n_reviewers"] == 1
    again = alice.post("/api/undo", json={"decision_id": mine["decision_id"]}, headers={"X-CSRF-Token": api_token(alice)})
    assert again.status_code == 422
    # bob's save is no longer the row's last change: undoing it is refused as a conflict
    token = csrf_from(bob.get(f"/rows/{row_id}").text)
    assert bob.post("/undo", data={"csrf_token": token, "decision_id": str(first["decision_id"])}).status_code == 409
    # on a row nobody else touched, the page's undo (its form, as the u key sends it) restores the model's labels
    other = first_rows(bob, 2)[1]["row_id"]
    untouched = service.get_row(engine, other)
    mark = save(bob, other, decision_body(row_state(bob, other), vague=1 - untouched["vague"])).json()
    assert bob.post("/undo", data={"csrf_token": token, "decision_id": str(mark["decision_id"])},
                    follow_redirects=False).status_code == 303
    row = service.get_row(engine, other)
    assert (row["status"], row["decided_by"], row["n_reviewers"]) == ("unreviewed", None, 0)
    assert row["labels"] == untouched["labels"] and row["version"] == 2
    assert [h["channel"] for h in service.history(engine, other)] == ["undo", "api"]
    exported = service.export_frame(engine, all_decisions=True)
    assert len(exported) == 1 and exported["decided_by"].tolist() == ["bob"]  # undone saves and undo lines left out
    assert before["version"] == 0
    # a save since the one to undo: refused as a conflict
    mine = save(alice, row_id, decision_body(row_state(alice, row_id))).json()
    save(bob, row_id, decision_body(row_state(bob, row_id)))
    late = alice.post("/api/undo", json={"decision_id": mine["decision_id"]}, headers={"X-CSRF-Token": api_token(alice)})
    assert late.status_code == 409


# ---------------------------------------------------------------- project page, bulk, progress, queue
def test_bulk_labelling_records_every_row(app, engine, alice, monkeypatch):
    from budgetnlp.review import decisions

    frame = sample_rows()
    department = frame["department"].value_counts().index[-1]
    params = {"department": department, "flag": "vague"}
    total = alice.get("/api/queue", params=params).json()["total"]
    assert 0 < total <= service.BULK_MAX
    headers = {"X-CSRF-Token": api_token(alice)}
    wrong = alice.post("/api/bulk", params=params, json={"expected": total + 1, "vague": 1}, headers=headers)
    assert wrong.status_code == 422
    with monkeypatch.context() as patch:
        patch.setattr(decisions, "BULK_MAX", 50)
        too_many = alice.post("/api/bulk", json={"expected": 278, "vague": 1}, headers=headers)
    assert too_many.status_code == 422 and "more than 50" in too_many.text
    done = alice.post("/api/bulk", params=params, json={"expected": total, "vague": 1, "unmeasurable": 0, "note": "批量"},
                      headers=headers)
    assert done.status_code == 200 and len(done.json()) == total
    for saved in done.json():
        row = service.get_row(engine, saved["row_id"])
        assert row["labels"]["vague"] == 1 and row["labels"]["unmeasurable"] == 0 and row["d_note"] == "批量"
        assert row["labels"]["boilerplate"] == row["boilerplate"]  # "model": the prediction kept
        assert [h["channel"] for h in service.history(engine, saved["row_id"])] == ["bulk"]
    token = csrf_from(alice.get("/queue", params=params).text)
    page = alice.post("/bulk?" + "&".join(f"{k}={v}" for k, v in params.items()),
                      data={"csrf_token": token, "expected": str(total), "vague": "0"}, follow_redirects=False)
    assert page.status_code == 303
    assert all(service.get_row(engine, s["row_id"])["labels"]["vague"] == 0 for s in done.json())


def test_progress_counts_rows_of_a_model_named_name_at_version(database_url, tmp_path):
    run = make_run(tmp_path / "run", model_name="default", model_version="e20f83287ce2")
    frame = pd.read_parquet(run / "scored.parquet").assign(model="default@e20f83287ce2")  # as `budgetnlp score` writes it
    frame.to_parquet(run / "scored.parquet", index=False)
    app = create_app(database_url, count_cache_ttl=0)
    service.import_run(app.state.engine, run)
    service.add_user(app.state.engine, "alice", PASSWORD)
    models = client_for(app, "alice").get("/api/models").json()
    assert [(m["name"], m["version"], m["rows_scored"]) for m in models] == [("default", "e20f83287ce2", 278)]
    app.state.engine.dispose()


def test_queue_shows_uncertainty_highlights_and_fresh_counts(database_url, runs):
    app = create_app(database_url, count_cache_ttl=600)  # counts cached long: only the reviewer's own save refreshes them
    service.import_run(app.state.engine, runs["v1"])
    service.add_user(app.state.engine, "alice", PASSWORD)
    alice = client_for(app, "alice")
    page = alice.get("/api/queue", params={"sort": "uncertainty", "per_page": 5}).json()
    for row in page["rows"]:
        closest = min(FLAGS, key=lambda f: abs(row[f"p_{f}"] - 0.5))
        assert row["uncertain_flag"] == closest and row["uncertainty"] == pytest.approx(1 - 2 * row["margin"], abs=1e-4)
    assert [r["uncertainty"] for r in page["rows"]] == sorted((r["uncertainty"] for r in page["rows"]), reverse=True)
    html = alice.get("/queue", params={"q": "满意度"}).text
    assert "<mark>满意度</mark>" in html and "不确定度" in html
    assert alice.get("/queue").text.count("未审 278") == 1
    row_id = first_rows(alice)[0]["row_id"]
    token = csrf_from(alice.get(f"/rows/{row_id}").text)
    row = row_state(alice, row_id)
    alice.post(f"/rows/{row_id}", data={"csrf_token": token, "base_version": "0", "metric_type": row["labels"]["metric_type"],
                                        "suggested_metric_type": row["labels"]["suggested_metric_type"]})
    assert "未审 277" in alice.get("/queue").text and "已审 1" in alice.get("/queue").text
    second = first_rows(alice, 2)[1]["row_id"]
    assert save(alice, second, decision_body(row_state(alice, second))).status_code == 200  # over the JSON API
    assert alice.get("/api/queue").json()["counts"]["reviewed"] == 2
    app.state.engine.dispose()


@pytest.mark.parametrize("channel", ["api", "page"])
def test_a_save_that_keeps_the_status_reuses_counts_but_label_filters_stay_fresh(database_url, runs, monkeypatch, channel):
    """Fresh counts after one's own save without a recount of the whole queue on every save."""
    from budgetnlp.review import queue

    app = create_app(database_url, count_cache_ttl=600)
    service.import_run(app.state.engine, runs["v1"])
    service.add_user(app.state.engine, "alice", PASSWORD)
    alice = client_for(app, "alice")
    row_id = first_rows(alice)[0]["row_id"]
    assert save(alice, row_id, decision_body(row_state(alice, row_id))).status_code == 200  # unreviewed → reviewed
    assert alice.get("/api/queue").json()["counts"]["reviewed"] == 1
    flagged = alice.get("/api/queue", params={"flag": "vague"}).json()["total"]
    recounts = []
    real = queue.queue_counts
    monkeypatch.setattr(queue, "queue_counts", lambda *a, **k: recounts.append(a[1]) or real(*a, **k))
    state = row_state(alice, row_id)
    flip = 1 - state["labels"]["vague"]
    if channel == "api":
        assert save(alice, row_id, decision_body(state, vague=flip)).status_code == 200
    else:
        form = {"csrf_token": csrf_from(alice.get(f"/rows/{row_id}").text), "base_version": str(state["version"]),
                "metric_type": state["labels"]["metric_type"], "suggested_metric_type": state["labels"]["suggested_metric_type"],
                "action": "save", **{f: "1" for f in FLAGS if (flip if f == "vague" else state["labels"][f])}}
        recounts.clear()
        assert alice.post(f"/rows/{row_id}", data=form, follow_redirects=False).status_code == 303
    assert row_state(alice, row_id)["status"] == "reviewed"  # still one reviewer: the status stays
    assert alice.get("/api/queue").json()["counts"]["reviewed"] == 1 and recounts == []  # cached counts still hold
    assert alice.get("/queue").status_code == 200 and recounts == []
    # a filter on the labels the save changed is counted afresh
    assert alice.get("/api/queue", params={"flag": "vague"}).json()["total"] == flagged + (1 if flip else -1)
    assert [q.flag for q in recounts] == ["vague"]
    # a save that moves a row to another status refreshes every count again
    other = first_rows(alice, 2, status="unreviewed")[1]["row_id"]
    assert save(alice, other, decision_body(row_state(alice, other))).status_code == 200
    assert alice.get("/api/queue").json()["counts"]["reviewed"] == 2
    app.state.engine.dispose()


def test_location_docs_and_favicon(app, alice):
    row_id = first_rows(alice)[0]["row_id"]
    location = row_state(alice, row_id)["location"]
    assert location.startswith("table ")
    html = alice.get(f"/rows/{row_id}").text
    assert "第 " in html and " 表，第 " in html and location not in html
    spec = alice.get("/openapi.json").json()
    summaries = [op["summary"] for ops in spec["paths"].values() for op in ops.values()]
    assert summaries and all(any("\u4e00" <= ch <= "\u9fff" for ch in s) for s in summaries)
    icon = client_for(app).get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg")
    assert 'rel="icon"' in html


# ---------------------------------------------------------------- accounts and sessions
def basic(name, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()}


def test_user_names_are_normalized(app, engine):
    service.add_user(engine, "chen", PASSWORD)
    for variant in (" chen", "chen\t", "\u3000chen", "ｃｈｅｎ"):
        with pytest.raises(service.ValidationError, match="exists"):
            service.add_user(engine, variant, PASSWORD)
        assert login(client_for(app), variant).status_code == 303, variant
        assert client_for(app).get("/api/me", headers=basic(variant, PASSWORD)).json()["name"] == "chen"


def test_padded_names_share_one_throttle(app, engine):
    service.add_user(engine, "chen", PASSWORD)
    variants = [" chen", "chen\t", "\u3000chen", "chen ", "\u3000chen\u3000"]
    for i in range(users.THROTTLE_NAME_LIMIT):
        client = client_for(app)
        if i % 2:
            assert client.get("/api/me", headers=basic(variants[i % 5], "wrong guess")).status_code == 401
        else:
            assert login(client, variants[i % 5], "wrong guess").status_code == 401
    assert login(client_for(app), "chen").status_code == 429  # the right password no longer gets in
    assert client_for(app).get("/api/me", headers=basic("\u3000chen", PASSWORD)).status_code == 429


def test_throttle_is_shared_by_worker_processes_and_counts_per_address(app, database_url, engine):
    other = create_app(database_url, count_cache_ttl=0, migrate=False)  # a second worker: its own memory, the same database
    half = users.THROTTLE_NAME_LIMIT // 2
    for target in [app] * half + [other] * half:
        assert login(client_for(target), "alice", "wrong guess").status_code == 401
    assert login(client_for(other), "alice").status_code == 429 and login(client_for(app), "alice").status_code == 429
    assert login(client_for(app), "bob").status_code == 303  # another name still logs in
    with engine.begin() as conn:
        conn.execute(db.login_failures.delete())
    for i in range(users.THROTTLE_CLIENT_LIMIT):  # one address guessing many names
        assert login(client_for(app), f"nobody{i}", "wrong guess").status_code == 401
    assert login(client_for(app), "bob").status_code == 429
    other.state.engine.dispose()


def test_concurrent_guesses_on_two_workers_stop_at_the_limit(app, database_url):
    import threading

    other = create_app(database_url, count_cache_ttl=0, migrate=False)
    statuses, lock = [], threading.Lock()

    def guess(target, i):
        status = TestClient(target).get("/api/me", headers=basic("alice", f"wrong guess {i}")).status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=guess, args=(app if i % 2 else other, i)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(set(statuses)) == [401, 429] and statuses.count(401) <= users.THROTTLE_NAME_LIMIT
    assert TestClient(app).get("/api/me", headers=basic("alice", PASSWORD)).status_code == 429
    other.state.engine.dispose()


def test_reset_disable_and_logout_take_effect_at_once(app, engine):
    machine = client_for(app)
    assert machine.get("/api/me", headers=basic("alice", PASSWORD)).status_code == 200
    browser = client_for(app, "alice")
    service.add_user(engine, "alice", "a brand new password", update=True)
    assert machine.get("/api/me", headers=basic("alice", PASSWORD)).status_code == 401  # same process, no cache lag
    assert browser.get("/api/me").status_code == 401
    assert machine.get("/api/me", headers=basic("alice", "a brand new password")).status_code == 200

    bob = client_for(app, "bob")
    copied = TestClient(app, cookies=dict(bob.cookies))
    assert copied.get("/api/me").status_code == 200
    service.disable_user(engine, "bob")
    assert bob.get("/api/me").status_code == 401 and copied.get("/api/me").status_code == 401
    assert machine.get("/api/me", headers=basic("bob", PASSWORD)).status_code == 401

    carol = client_for(app, "carol")
    stolen = TestClient(app, cookies=dict(carol.cookies))
    token = csrf_from(carol.get("/queue").text)
    assert carol.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert stolen.get("/api/me").status_code == 401 and stolen.get("/queue", follow_redirects=False).status_code == 303
    with engine.connect() as conn:
        stored = list(conn.execute(sa.select(db.sessions.c.id_hash)).scalars())
    assert all(len(h) == 64 for h in stored)  # only hashes of session ids are kept


HUGE = "9223372036854775807"


def test_every_integer_parameter_is_bounded(alice):
    row_id = first_rows(alice)[0]["row_id"]
    row = row_state(alice, row_id)
    for path, params in [("/queue", {"page": HUGE}), ("/queue", {"per_page": HUGE}), ("/queue", {"year": HUGE}),
                         ("/queue", {"page": "-" + HUGE}), ("/api/queue", {"page": HUGE}), ("/api/queue", {"year": HUGE}),
                         ("/api/queue", {"per_page": "0"}), (f"/rows/{row_id}", {"page": HUGE}),
                         (f"/api/rows/{row_id}", {"per_page": HUGE}), ("/api/history", {"limit": HUGE})]:
        assert alice.get(path, params=params).status_code == 422, (path, params)
    assert save(alice, row_id, {**decision_body(row), "base_version": int(HUGE)}).status_code == 422
    token = csrf_from(alice.get(f"/rows/{row_id}").text)
    form = {"csrf_token": token, "base_version": HUGE, "metric_type": "text", "suggested_metric_type": "text"}
    assert alice.post(f"/rows/{row_id}", data=form).status_code == 422
    assert alice.post("/undo", data={"csrf_token": token, "decision_id": HUGE}).status_code == 422
    assert alice.post("/api/undo", json={"decision_id": int(HUGE)}, headers={"X-CSRF-Token": api_token(alice)}).status_code == 422
    key = row["project_key"]
    assert alice.post(f"/projects/{key}", data={"csrf_token": token, "count": HUGE}).status_code == 422


# ---------------------------------------------------------------- spreadsheet-safe CSV
@given(st.text(alphabet="=+-@'\t\r a1人", max_size=8))
def test_neutralize_is_exactly_undone(value):
    cell = neutralize_cell(value)
    assert restore_cell(cell) == value
    assert not cell or cell[0] not in "=+-@\t\r"


def test_exports_neutralize_formulas_and_the_dataset_restores_them(app, alice, database_url, tmp_path):
    from typer.testing import CliRunner

    from budgetnlp.review.cli import review_app

    row_id = first_rows(alice)[0]["row_id"]
    note = '=HYPERLINK("http://example.invalid","x")'
    assert save(alice, row_id, decision_body(row_state(alice, row_id), note=note)).status_code == 200
    second = first_rows(alice, 2)[1]["row_id"]
    assert save(alice, second, decision_body(row_state(alice, second), note="=78人")).status_code == 200
    text = alice.get("/api/export").text
    assert "'=HYPERLINK" in text and "'=78人" in text and ",=" not in text
    out = tmp_path / "annotations" / "review.csv"
    assert CliRunner().invoke(review_app, ["export", "-o", str(out), "--db", database_url]).exit_code == 0
    raw = pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert not raw.apply(lambda c: c.str.match(r"^[=+\-@]")).any().any()
    back = load_annotations([out]).set_index("note_A")
    assert note in back.index and "=78人" in back.index  # exact text again for the dataset builder


def test_scored_csv_is_neutralized_and_read_back(tmp_path):
    import pyarrow as pa

    from budgetnlp.runfolder import read_run
    from budgetnlp.scoring import _Writers

    run = make_run(tmp_path / "run")
    frame = pd.read_parquet(run / "scored.parquet")
    frame.loc[0, "value"] = "=78人"
    frame.loc[1, "name"] = "@SUM(A1)"
    table = pa.Table.from_pandas(frame, preserve_index=False)
    writers = _Writers(run, table.schema)
    writers.write(table)
    writers.close()
    raw = (run / "scored.csv").read_text(encoding="utf-8-sig")
    assert "'=78人" in raw and "'@SUM(A1)" in raw
    (run / "scored.parquet").unlink()  # the CSV alone: the run folder's reader restores the cells
    _summary, back, _key = read_run(run)
    assert back.loc[0, "value"] == "=78人" and back.loc[1, "name"] == "@SUM(A1)"


def test_create_app_without_the_extra_names_the_install():
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('fastapi', 'starlette'):\n"
        "            raise ImportError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "try:\n"
        "    from budgetnlp.review import create_app\n"
        "except ImportError as exc:\n"
        "    print('IMPORTERROR', exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert "IMPORTERROR" in out.stdout and "pip install 'budgetnlp[review]'" in out.stdout, out.stdout + out.stderr
