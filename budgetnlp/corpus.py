"""Rows and the corpus as the rules see them: one row's view, its parsed value, the repetition counts.

``records_of`` turns a row table into records, ``parse_row_value`` parses a record's value with its
row context, ``row_view`` builds what a rule sees of one row, and ``CorpusStats`` counts how many
projects and documents share each (name, value). These describe rows, not rules: ``rules.py``
depends on this module, never the reverse.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._text import nfkc, squash
from .normalize import NormalizedValue, parse_value
from .schema import normalize_level1


@dataclass(frozen=True)
class RowView:
    """What a rule sees of one row: squashed NFKC cells, the parsed value, context and corpus counts."""

    name: str
    description: str
    value: str
    level2: str
    #: the name and value as written (whitespace trimmed), quoted in reasons; the fields above are for matching
    shown_name: str
    shown_value: str
    project: str
    context: str
    budget: float | None
    year: int | None
    spend_plan: str
    parsed: NormalizedValue
    #: projects / documents with the same (name, value) in the training corpus plus the scored batch
    repeats: int
    repeat_docs: int
    #: the canonical 一级指标 (schema.normalize_level1 read with its level 2)
    level1: str = ""
    #: the squashed names of the other 数量 (output count) rows of the same project: what the project
    #: delivers, in its own words (基建工程委托业务项目数量), whatever the project is called
    outputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class CorpusStats:
    """How many projects and documents share each (name, value): the repetition evidence.

    Where the counts come from (LABELS.md: the same row across many unrelated projects is a
    boilerplate sign): at training, the training corpus (``fit_model``'s corpus rows, saved as the
    model's corpus.parquet). At scoring, the training counts plus the run's: ``budgetnlp score``
    (``repetition="run"``, the default) counts every input of the run in a first pass — each
    input's ``from_rows``, added up in the main process (exact: the inputs hold different
    documents; a repeated file is scored once) — and scores each input with the run's counts for
    its own keys, so a row pasted across many documents of one run is evidence even when training
    never saw it. With ``--repetition document``: the training counts plus the document's own rows
    (one pass). A document both trained on and scored is counted once: its rows add nothing to the
    run's counts (scoring.py). Keys are the squashed (name, value); projects are (document,
    project code, project name) — ``project_key``; documents are doc_id/source_path.
    """

    projects: dict[tuple[str, str], int]
    documents: dict[tuple[str, str], int]

    @classmethod
    def from_rows(cls, rows: pd.DataFrame) -> "CorpusStats":
        projects: dict[tuple[str, str], set] = defaultdict(set)
        documents: dict[tuple[str, str], set] = defaultdict(set)
        for record in records_of(rows):
            key = (squash(record.get("name")), squash(record.get("value")))
            project = project_key(record)
            projects[key].add(project)
            documents[key].add(project[0])
        return cls({k: len(s) for k, s in projects.items()}, {k: len(s) for k, s in documents.items()})

    def merged(self, other: "CorpusStats") -> "CorpusStats":
        """Counts of both corpora added (they must hold different documents)."""
        return CorpusStats(
            {k: self.projects.get(k, 0) + other.projects.get(k, 0) for k in self.projects.keys() | other.projects.keys()},
            {k: self.documents.get(k, 0) + other.documents.get(k, 0) for k in self.documents.keys() | other.documents.keys()},
        )


def records_of(rows: pd.DataFrame) -> list[dict]:
    """``rows.to_dict("records")``, built from whole columns: pandas' own boxes each value of an
    Arrow-backed string column one by one, a tenth of the time spent on a document's rules."""
    columns = [str(c) for c in rows.columns]
    if not columns:
        return [{} for _ in range(len(rows))]
    values = []
    for c in rows.columns:
        column = rows[c].tolist()
        if isinstance(rows[c].dtype, pd.api.extensions.ExtensionDtype):  # masked NA → None, as to_dict gives
            column = [None if v is pd.NA else v for v in column]
        values.append(column)
    return [dict(zip(columns, row)) for row in zip(*values)]


def _clean(value: object) -> object:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA else value


def project_key(record: dict) -> tuple[str, str, str]:
    """A project: (document, project code, project name) — as counted in ``CorpusStats``."""
    doc = record.get("doc_id") or record.get("source_path") or ""
    return (str(doc), squash(record.get("project_code")), squash(record.get("project_name")))


def project_outputs(records: list[dict]) -> list[tuple[str, ...]]:
    """For each record, the squashed names of the other output count rows (level 2 数量…) of its
    project, in table order: the row's own name is left out, so a count row never vouches for itself."""
    counted: dict[tuple[str, str, str], list[tuple[int, str]]] = defaultdict(list)
    for i, record in enumerate(records):
        if "数量" in squash(record.get("level2_norm") or record.get("level2")):
            counted[project_key(record)].append((i, squash(record.get("name"))))
    return [tuple(name for j, name in counted.get(project_key(record), ()) if j != i and name)
            for i, record in enumerate(records)]


def row_view(record: dict, parsed: NormalizedValue, corpus: CorpusStats, outputs: tuple[str, ...] = ()) -> RowView:
    key = (squash(record.get("name")), squash(record.get("value")))
    budget = _clean(record.get("project_budget"))
    year = _clean(record.get("year"))
    return RowView(
        name=key[0],
        description=squash(record.get("description")),
        value=key[1],
        shown_name=str(_clean(record.get("name")) or "").strip(),
        shown_value=str(_clean(record.get("value")) or "").strip(),
        level2=squash(record.get("level2_norm") or record.get("level2")),
        project=squash(record.get("project_name")),
        context=squash(f"{record.get('project_name') or ''}{record.get('fund_use') or ''}{record.get('project_goals') or ''}"),
        budget=float(budget) if budget not in (None, "") else None,
        year=int(year) if year not in (None, "") else None,
        spend_plan=nfkc(_clean(record.get("spend_plan")) or ""),
        parsed=parsed,
        repeats=corpus.projects.get(key, 1),
        repeat_docs=corpus.documents.get(key, 1),
        level1=_level1_of(record),
        outputs=outputs,
    )


def _level1_of(record: dict) -> str:
    level1 = _clean(record.get("level1"))
    if level1 not in (None, ""):
        return normalize_level1(level1, _clean(record.get("level2")) or "")
    return squash(record.get("level1_norm"))


def parse_row_value(record: dict) -> NormalizedValue:
    year = _clean(record.get("year"))
    return parse_value(
        _clean(record.get("value")) or "",
        name=_clean(record.get("name")),
        level2=_clean(record.get("level2_norm")) or _clean(record.get("level2")),
        year=int(year) if year not in (None, "") else None,
    )
