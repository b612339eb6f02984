"""Rows → feature matrix: text (jieba tokens per field, character n-grams), the parsed value,
the normalized category, the rules' votes and corpus statistics.

``RowFeatures.compute`` does the per-row work once (parsing, rules, tokens); the fitted
``FeatureBuilder`` turns it into a sparse matrix whose column names say where each came from
("n:满意度" word of the name field, "c3:成效明" character trigram, "rule:fake_quantification=1").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer

from ._text import squash
from .corpus import CorpusStats, records_of
from .rules import ABSTAIN, RuleResult, apply_rules, rules_for
from .schema import FLAGS
from .tokenize import field_tokens

_RULES_BY_FLAG = {flag: [lf.name for lf in rules_for(flag)] for flag in FLAGS}


@dataclass
class RowFeatures:
    """Per-row intermediate results shared by features, explanations and the scored output."""

    rules: RuleResult
    tokens: list[list[str]]
    chars: list[str]
    dense: list[dict]
    suggested_by_rules: list[str]
    records: list[dict]
    views: list  # corpus.RowView per row (the rules' own, rules.views), reused for the explanations and rewrite suggestions

    @classmethod
    def compute(cls, rows: pd.DataFrame, corpus: CorpusStats) -> "RowFeatures":
        records = records_of(rows)
        rules = apply_rules(rows, corpus, records)
        vote_names = list(rules.votes.columns)
        votes = rules.votes.to_numpy()
        flag_index = {flag: [vote_names.index(n) for n in names] for flag, names in _RULES_BY_FLAG.items()}
        summaries = {
            flag: ((votes[:, idx] == 1).sum(axis=1).astype(float), (votes[:, idx] == 0).sum(axis=1).astype(float))
            for flag, idx in flag_index.items()
        }
        tokens, chars, dense = [], [], []
        for i, (record, parsed, view, suggestion) in enumerate(zip(records, rules.parsed, rules.views, rules.suggested)):
            tokens.append(field_tokens({**record, "level2": record.get("level2_norm") or record.get("level2")}))
            chars.append(f"{view.name}｜{view.value}")
            features = {
                "op": parsed.op or "none",
                "unit": parsed.unit or "none",
                "metric_type": parsed.metric_type,
                "issue": parsed.issue,
                "level1": squash(record.get("level1_norm") or record.get("level1")) or "none",
                "level2": view.level2 or "none",
                "rule_suggests": suggestion,
                "has_number": float(parsed.number is not None or parsed.low is not None),
                "has_deadline": float(parsed.deadline is not None),
                "log_repeats": float(np.log1p(view.repeats - 1)),
                "log_repeat_docs": float(np.log1p(view.repeat_docs - 1)),
                "overlap_project": _overlap(view.name + view.value, view.project),
                "overlap_context": _overlap(view.name + view.description + view.value, view.context),
            }
            for j in np.flatnonzero(votes[i] != ABSTAIN):
                features[f"rule:{vote_names[j]}"] = 1.0
            for flag, (positive, negative) in summaries.items():
                features[f"votes:{flag}:positive"] = positive[i]
                features[f"votes:{flag}:negative"] = negative[i]
                features[f"votes:{flag}:margin"] = positive[i] - negative[i]
            dense.append(features)
        return cls(rules, tokens, chars, dense, rules.suggested, records, rules.views)


def _overlap(text: str, context: str) -> float:
    """Share of the text's character bigrams that also occur in the context."""
    grams = {text[i : i + 2] for i in range(len(text) - 1)}
    if not grams or not context:
        return 0.0
    other = {context[i : i + 2] for i in range(len(context) - 1)}
    return len(grams & other) / len(grams)


def _identity(tokens):
    return tokens


class FeatureBuilder:
    """Fitted vocabulary for the three feature blocks (word TF-IDF, char TF-IDF, dense one-hots)."""

    def __init__(self, char_ngrams=(1, 3), min_df: int = 1) -> None:
        self.words = TfidfVectorizer(analyzer=_identity, min_df=min_df, sublinear_tf=True)
        self.chars = TfidfVectorizer(analyzer="char", ngram_range=tuple(char_ngrams), min_df=min_df, sublinear_tf=True)
        self.dense = DictVectorizer()

    def fit(self, features: RowFeatures) -> "FeatureBuilder":
        self.words.fit(features.tokens)
        self.chars.fit(features.chars)
        self.dense.fit(features.dense)
        return self

    def transform(self, features: RowFeatures) -> sparse.csr_matrix:
        return sparse.hstack(
            [
                self.words.transform(features.tokens),
                self.chars.transform(features.chars),
                self._dense_matrix(features.dense),
            ],
            format="csr",
        )

    def _dense_matrix(self, dicts: list[dict]) -> sparse.csr_matrix:
        """``self.dense.transform(dicts)`` for the values ``compute`` makes (strings and floats),
        without DictVectorizer's per-value abstract type checks (a third of the matrix's time)."""
        vocabulary, separator = self.dense.vocabulary_, self.dense.separator
        indices, values, indptr = [], [], [0]
        for features in dicts:
            for key, value in features.items():
                if type(value) is str:
                    key, value = f"{key}{separator}{value}", 1.0
                column = vocabulary.get(key)
                if column is not None:
                    indices.append(column)
                    values.append(value)
            indptr.append(len(indices))
        matrix = sparse.csr_matrix((np.array(values, dtype=self.dense.dtype), np.array(indices, dtype=np.int32), indptr),
                                   shape=(len(dicts), len(vocabulary)))
        matrix.sort_indices()
        return matrix

    def flag_columns(self, flag: str, with_text: bool, inputs=("votes",)) -> np.ndarray:
        """Columns a flag's classifier uses. ``inputs``: "votes" (that flag's rule-vote summary,
        whose polarity carries over to unseen sources), "rules" (that flag's single rules fired),
        "dense" (the parsed value, category, repetition and overlap features); plus the text
        blocks if asked."""
        own_rules = {f"rule:{name}" for name in _RULES_BY_FLAG[flag]}
        wanted = []
        for i, name in enumerate(self.feature_names()[self.n_text:], start=self.n_text):
            if name.startswith("votes:"):
                keep = "votes" in inputs and name.startswith(f"votes:{flag}:")
            elif name.startswith("rule:"):
                keep = "rules" in inputs and name in own_rules
            else:
                keep = "dense" in inputs
            if keep:
                wanted.append(i)
        if with_text:
            wanted = list(range(self.n_text)) + wanted
        return np.array(wanted)

    def type_columns(self) -> np.ndarray:
        """Columns of the metric-type models: everything but the flag vote summaries."""
        return np.array([i for i, n in enumerate(self.feature_names()) if not n.startswith("votes:")])

    def feature_names(self) -> list[str]:
        words = list(self.words.get_feature_names_out())
        chars = [f"c:{g}" for g in self.chars.get_feature_names_out()]
        return words + chars + list(self.dense.get_feature_names_out())

    @property
    def n_text(self) -> int:
        """How many leading columns are text (words and characters): explanations name these."""
        return len(self.words.vocabulary_) + len(self.chars.vocabulary_)



