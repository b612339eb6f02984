"""The SQLite bigram index for queue search: it only narrows candidates, so an indexed search
must find exactly what a LIKE scan finds — for Chinese words, single characters, digits,
symbols and mixed queries — and a database created before the index gets it on upgrade."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from budgetnlp.review import db, fulltext, service

from .review_fixtures import make_run

ALPHABET = "满意度资金完成率及时培训社会稳定ab12%≥％ _.-\x1féÉＡ"


def test_grams_and_queries():
    assert fulltext.document_grams("满意度≥90%") == "满意 意度 度 90 0"
    assert fulltext.document_grams("率") == "率"
    assert fulltext.match_expression("满意度") == '"满意 意度"'
    assert fulltext.match_expression("率") == '"率"*'
    assert fulltext.match_expression("≥90% 资金") == '"90" "资金"'
    assert fulltext.match_expression("≥%") is None  # no letter or digit: the search scans


def _found(conn, query_key: str, indexed: bool, scan: bool = True) -> set[str]:
    """The rows a search finds: by LIKE (``scan``), narrowed by the index (``indexed``), or by
    the index alone (``indexed and not scan``)."""
    s = db.row_search
    conditions = [s.c.text.like(service.like(query_key), escape="\\")] if scan else []
    if indexed and (candidates := fulltext.candidates(query_key)) is not None:
        conditions.append(candidates)
    return set(conn.execute(sa.select(s.c.row_id).where(*conditions)).scalars())


def _search_table(records: list[dict]) -> sa.Engine:
    """An in-memory row_search holding ``records`` (row_id, text), indexed."""
    engine = sa.create_engine("sqlite://", poolclass=sa.pool.StaticPool)
    db.row_search.create(engine)
    filler = {"project": "", "project_key": "", "status": "unreviewed", "year": None, "department": "",
              **{f"l_{f}": 0 for f in db.FLAG_COLUMNS}, "l_metric_type": "text", "risk": 0.0, "margin": 0.5}
    with engine.begin() as conn:
        assert fulltext.create(conn)
        conn.execute(db.row_search.insert(), [r | filler for r in records])
        fulltext.index_rows(conn, records)
    return engine


@settings(max_examples=60, deadline=None)
@given(texts=st.lists(st.text(ALPHABET, max_size=24), min_size=1, max_size=25), data=st.data())
def test_indexed_search_finds_exactly_what_a_scan_finds(texts, data):
    engine = _search_table([{"row_id": f"r{i}", "text": service.search_key(t)} for i, t in enumerate(texts)])
    source = data.draw(st.sampled_from(texts))
    start = data.draw(st.integers(0, len(source)))
    queries = [source[start : start + data.draw(st.integers(1, 4))], data.draw(st.text(ALPHABET, min_size=1, max_size=4))]
    with engine.connect() as conn:
        for query in queries:
            key = service.search_key(query)
            if key:
                assert _found(conn, key, indexed=True) == _found(conn, key, indexed=False), query


def test_where_the_index_decides():
    for key in ("满意度", "率", "资金", "ab12", "2024"):
        assert fulltext.decides(key), key
    for key in ("完成 率", "≥90", "资金%", "é", "90%", "a_b", "", "满意度\x1f资金"):
        assert not fulltext.decides(key), key


@settings(max_examples=80, deadline=None)
@given(texts=st.lists(st.text(ALPHABET + "度过金额", max_size=24), min_size=1, max_size=25), data=st.data())
def test_where_the_index_decides_it_alone_finds_exactly_what_a_scan_finds(texts, data):
    """The search leaves LIKE out for these queries: the index alone must then find exactly the
    rows LIKE finds (runs cut by punctuation, repeats, a query at a run's end, single characters)."""
    engine = _search_table([{"row_id": f"r{i}", "text": service.search_key(t)} for i, t in enumerate(texts)])
    source = data.draw(st.sampled_from(texts))
    start = data.draw(st.integers(0, len(source)))
    queries = [source[start : start + data.draw(st.integers(1, 4))], data.draw(st.text("满意度资金完成率过金额ab12", min_size=1, max_size=4))]
    with engine.connect() as conn:
        for query in queries:
            key = service.search_key(query)
            if fulltext.decides(key):
                assert _found(conn, key, indexed=True, scan=False) == _found(conn, key, indexed=False), query


def test_upgrade_indexes_rows_imported_before_the_index(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    db.migrate(engine, "0001")
    service.import_run(engine, make_run(tmp_path / "run", seed=1))  # no index yet: rows go in without postings
    with engine.connect() as conn:
        assert not fulltext.enabled(conn)
        scanned = service.queue(engine, service.QueueQuery(q="满意度", per_page=200))
    db.migrate(engine)
    with engine.connect() as conn:
        assert fulltext.enabled(conn)
        indexed_rows = conn.exec_driver_sql(f"SELECT count(*) FROM {fulltext.TABLE}_docsize").scalar()
        assert indexed_rows == conn.execute(sa.select(sa.func.count()).select_from(db.row_search)).scalar()
    indexed = service.queue(engine, service.QueueQuery(q="满意度", per_page=200))
    assert scanned["total"] > 0 and indexed["total"] == scanned["total"]
    assert [r["row_id"] for r in indexed["rows"]] == [r["row_id"] for r in scanned["rows"]]
    engine.dispose()


def test_without_the_index_search_scans_and_finds_the_same(tmp_path, monkeypatch):
    """An SQLite built without FTS5 gets no index (create says so) and searches by scanning."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'plain.sqlite3'}")
    db.migrate(engine)
    service.import_run(engine, make_run(tmp_path / "run", seed=2))
    indexed = service.queue(engine, service.QueueQuery(q="资金", per_page=200))
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE {fulltext.TABLE}")

        def no_fts5(statement, *args):
            raise sa.exc.OperationalError(statement, (), Exception("no such module: fts5"))

        monkeypatch.setattr(conn, "exec_driver_sql", no_fts5)
        assert fulltext.create(conn) is False
        monkeypatch.undo()
        assert not fulltext.enabled(conn)
    scanned = service.queue(engine, service.QueueQuery(q="资金", per_page=200))
    assert indexed["total"] > 0 and [r["row_id"] for r in scanned["rows"]] == [r["row_id"] for r in indexed["rows"]]
    assert scanned["counts"] == indexed["counts"]
    engine.dispose()
