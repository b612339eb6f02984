"""Indexed text search for the review queue on SQLite: an FTS5 table over character bigrams.

Chinese has no spaces, and reviewers search for two- and three-character words (资金, 满意度),
which FTS5's word and trigram tokenizers cannot find. So each run of letters and digits in a
row's search text (``service.search_key``: NFKC, lower case) is stored as its overlapping
bigrams plus its last character — 满意度 → ``满意 意度 度`` — and a query becomes a phrase of its
bigrams (``"满意 意度"``), or a prefix query for a single character (``"率"*``). The index only
narrows the candidates: the exact ``LIKE`` test on ``row_search.text`` still decides, so
punctuation and symbols (≥, %) in a query match exactly as before.

Where the index alone decides (:func:`decides`: one run of Chinese characters, ASCII letters or
digits — what reviewers type), the LIKE test is left out.

``row_fts`` is contentless (``content=''``): it keeps the postings, keyed by ``row_search``'s
rowid, not a second copy of the text. Rows' text never changes after import and rows are never
deleted, so the index only ever grows with ``index_rows``. PostgreSQL, or an SQLite built
without FTS5, has no ``row_fts``: the search there scans ``row_search`` with ``LIKE``.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

TABLE = "row_fts"
_RUN = re.compile(r"[^\W_]+")


def _runs(text: str) -> list[str]:
    return _RUN.findall(text)


def document_grams(text: str) -> str:
    """The tokens stored for a row's search text."""
    out = []
    for run in _runs(text):
        out.extend(run[i : i + 2] for i in range(len(run) - 1))
        out.append(run[-1])
    return " ".join(out)


def match_expression(query: str) -> str | None:
    """The FTS5 query for a search key; None when it holds no letter or digit (scan instead)."""
    terms = []
    for run in _runs(query):
        if len(run) == 1:
            terms.append(f'"{run}"*')
        else:
            terms.append('"' + " ".join(run[i : i + 2] for i in range(len(run) - 1)) + '"')
    return " ".join(terms) or None


def decides(query_key: str) -> bool:
    """Whether the index alone finds exactly the rows whose text contains ``query_key``, so the
    LIKE test can be left out (it reads every candidate's text: 15–40% of a search's SQL). So
    for one run of Chinese characters, ASCII letters or digits: its bigrams are adjacent tokens
    only inside one run of a row's text (a run ends in a one-character token), a single
    character is the first character of a bigram or a run's last token, and the tokenizer folds
    nothing in these characters that search_key has not already folded. Not so for several runs
    (the index finds them anywhere in the row, LIKE in that order with what is between), for
    symbols (not indexed) or for letters with accents (the tokenizer drops the accents)."""
    return bool(query_key) and _RUN.fullmatch(query_key) is not None and all(
        "\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf" or (c.isascii() and c.isalnum() and not c.isupper())
        for c in query_key)


def create(conn) -> bool:
    """Create the (empty) index on an SQLite connection; False when FTS5 is not compiled in."""
    if conn.dialect.name != "sqlite":
        return False
    try:
        conn.exec_driver_sql(f"CREATE VIRTUAL TABLE IF NOT EXISTS {TABLE} USING fts5(grams, content='')")
    except sa.exc.OperationalError:  # "no such module: fts5"
        return False
    return True


def enabled(conn) -> bool:
    """Whether this database has the index (asked each time: ~0.1 ms, and never stale)."""
    return conn.dialect.name == "sqlite" and conn.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)).first() is not None


def index_rows(conn, records: list[dict]) -> None:
    """Add rows just inserted into row_search (``row_id`` and ``text`` of each) to the index."""
    if records and enabled(conn):
        conn.exec_driver_sql(f"INSERT INTO {TABLE} (rowid, grams) VALUES ((SELECT rowid FROM row_search WHERE row_id = ?), ?)",
                             [(r["row_id"], document_grams(r["text"])) for r in records])


def index_all(conn) -> None:
    """Index every row of row_search (the migration that adds the index)."""
    last = 0
    while True:
        found = conn.exec_driver_sql("SELECT rowid, text FROM row_search WHERE rowid > ? ORDER BY rowid LIMIT 5000",
                                     (last,)).all()
        if not found:
            return
        conn.exec_driver_sql(f"INSERT INTO {TABLE} (rowid, grams) VALUES (?, ?)",
                             [(rowid, document_grams(text)) for rowid, text in found])
        last = found[-1][0]


def is_index_table(name: str) -> bool:
    """The index and its FTS5 shadow tables (row_fts_data, _idx, _docsize, _config): not in the models."""
    return name == TABLE or name.startswith(TABLE + "_")


def candidates(query_key: str):
    """A condition on row_search limiting it to the index's candidates for ``query_key``, or None."""
    expression = match_expression(query_key)
    if expression is None:
        return None
    matching = sa.select(sa.literal_column("rowid")).select_from(sa.table(TABLE)).where(
        sa.text(f"{TABLE} MATCH :fts_query").bindparams(fts_query=expression))
    return sa.literal_column("row_search.rowid").in_(matching)
