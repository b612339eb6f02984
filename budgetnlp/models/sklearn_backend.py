"""The default backend: calibrated logistic regressions over budgetnlp's features.

- one calibrated classifier per flag, its decision threshold chosen by document-grouped
  cross-validation;
- multiclass models for suggested_metric_type and metric_type (the parser's metric type
  stands unless this model is at least ``metric_type_override`` sure of another);
- a self-supervised category model (text → level2_norm, no gold needed) whose out-of-fold
  probabilities give confident-learning features: the self-confidence of the stated category
  and whether it falls below that category's threshold (the mean self-confidence of the rows
  filed under it), as in Northcutt et al.'s confident learning.
"""

from __future__ import annotations

import warnings
import weakref

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from threadpoolctl import threadpool_limits

from .._text import squash
from ..config import TrainConfig, config_from_dict
from ..features import FeatureBuilder, RowFeatures
from ..schema import FLAGS


def _category_text(rows: pd.DataFrame) -> list[str]:
    return [
        f"{squash(n)}｜{squash(d)}｜{squash(v)}"
        for n, d, v in zip(rows.get("name", ""), rows.get("description", ""), rows.get("value", ""))
    ]


def _folds(y: np.ndarray, groups: np.ndarray | None, n: int, seed: int):
    """Grouped folds when there are several groups, else stratified ones; None when y cannot be split."""
    counts = np.bincount(pd.factorize(y)[0])
    if len(counts) < 2:
        return None
    if groups is not None and len(set(groups)) >= 2:
        k = min(n, len(set(groups)))
        return list(GroupKFold(n_splits=k).split(np.zeros(len(y)), y, groups))
    k = min(n, counts.min())
    if k < 2:
        return None
    return list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))


def _group_weights(groups: np.ndarray | None, power: float) -> np.ndarray | None:
    """Row weights giving a group of n rows a total weight ∝ n**power (1: every row counts the
    same; 0: every group counts the same), mean 1. A few large template-heavy documents would
    otherwise set the base rate every unseen source is judged against."""
    if groups is None or power == 1.0:
        return None
    codes, counts = np.unique(groups, return_inverse=True, return_counts=True)[1:]
    weights = counts[codes].astype(float) ** (power - 1.0)
    return weights / weights.mean()


class SklearnBackend:
    """Fitted feature vocabulary + per-flag calibrated classifiers + type models + category model."""

    name = "sklearn"

    def __init__(self, config: TrainConfig) -> None:
        if not isinstance(config, TrainConfig):
            raise TypeError(f"SklearnBackend takes a TrainConfig, not {type(config).__name__}")
        self.config = config

    # the persistence boundary: the model file holds the config as a plain dict (no budgetnlp
    # type to trust, none whose fields may change), rebuilt into a checked TrainConfig on load;
    # a model folder's config.yaml then replaces it (models._load_folder)
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        if isinstance(state.get("config"), TrainConfig):
            state["config"] = state["config"].to_dict()
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        if isinstance(state.get("config"), dict):
            state["config"] = config_from_dict(state["config"], "the model file's config", unknown="ignore")
        self.__dict__.update(state)

    # ------------------------------------------------------------ training
    def _flag_estimator(self, y: np.ndarray, groups: np.ndarray | None):
        """A logistic regression calibrated on grouped folds (whole documents/sources held out,
        so the calibration sees unfamiliar sources as new rows will be); stratified folds only
        when the groups cannot give every fold both classes."""
        c = self.config
        base = LogisticRegression(C=c.c, class_weight=None if c.class_weight == "none" else "balanced",
                                  max_iter=c.flag_max_iter, solver=c.flag_solver)
        folds = _folds(y, groups, c.calibration_folds, c.seed)
        if not c.calibration_grouped or (folds is not None and not all(len(set(y[train])) == 2 for train, _ in folds)):
            folds = _folds(y, None, c.calibration_folds, c.seed)
        if folds is None:
            return base
        return CalibratedClassifierCV(base, method=c.calibration, cv=folds)

    def _fit_category_model(self, rows: pd.DataFrame, groups: np.ndarray | None = None) -> np.ndarray:
        """Fit text → level2_norm on every row; return each row's out-of-fold self-confidence,
        over grouped folds when groups are given (a source's own rows would make the category
        look surer than it will on an unseen source)."""
        labels = rows["level2_norm"].fillna("").astype(str).to_numpy()
        text = _category_text(rows)
        c = self.config
        model = make_pipeline(
            TfidfVectorizer(analyzer="char", ngram_range=tuple(c.category_ngrams), sublinear_tf=True),
            LogisticRegression(C=c.category_c, max_iter=c.category_max_iter),
        )
        self.category_classes_: list[str] = []
        self.category_thresholds_: dict[str, float] = {}
        if len(set(labels)) < 2:
            self.category_model_ = None
            return np.ones(len(rows))
        model.fit(text, labels)
        self.category_model_ = model
        self.category_classes_ = list(model.classes_)
        folds = _folds(labels, groups if c.category_grouped else None, c.category_folds, c.seed)
        if folds is not None and not all(len(set(labels[train])) >= 2 for train, _ in folds):
            folds = _folds(labels, None, c.category_folds, c.seed)  # too few groups: some fold knows one category
        if folds is None:
            proba = model.predict_proba(text)
        else:
            with warnings.catch_warnings():  # a grouped fold may lack a rare category: its probability is 0 there
                warnings.filterwarnings("ignore", message="Number of classes in training fold", category=RuntimeWarning)
                proba = cross_val_predict(model, text, labels, cv=folds, method="predict_proba")
        index = {label: i for i, label in enumerate(self.category_classes_)}
        self_conf = np.array([proba[i, index[label]] for i, label in enumerate(labels)])
        for label in self.category_classes_:
            self.category_thresholds_[label] = float(self_conf[labels == label].mean())
        return self_conf

    def _category_features(self, rows: pd.DataFrame, self_conf: np.ndarray | None = None) -> sparse.csr_matrix:
        labels = rows["level2_norm"].fillna("").astype(str).to_numpy() if "level2_norm" in rows else np.array([""] * len(rows))
        if self_conf is None:
            if self.category_model_ is None:
                self_conf = np.ones(len(rows))
            else:
                proba = self.category_model_.predict_proba(_category_text(rows))
                index = {label: i for i, label in enumerate(self.category_classes_)}
                self_conf = np.array([proba[i, index[l]] if l in index else 0.0 for i, l in enumerate(labels)])
        issue = np.array([conf < self.category_thresholds_.get(l, 0.0) for conf, l in zip(self_conf, labels)], dtype=float)
        return sparse.csr_matrix(np.column_stack([self_conf, issue]))

    def fit(self, frame: pd.DataFrame, features: RowFeatures, groups: np.ndarray | None = None) -> "SklearnBackend":
        # one BLAS thread: these problems are small, and threaded OpenBLAS inside L-BFGS runs
        # 5–30× slower on a busy machine (threads spin waiting for cores) without changing results
        with threadpool_limits(limits=1, user_api="blas"):
            return self._fit(frame, features, groups)

    def _fit(self, frame: pd.DataFrame, features: RowFeatures, groups: np.ndarray | None) -> "SklearnBackend":
        c = self.config
        self.builder = FeatureBuilder(c.char_ngrams, c.min_df).fit(features)
        self_conf = self._fit_category_model(frame, groups)
        x = sparse.hstack([self.builder.transform(features), self._category_features(frame, self_conf)], format="csr")
        self.flag_models_, self.thresholds_, self.cv_proba_, self.flag_columns_ = {}, {}, {}, {}
        for flag in FLAGS:
            y = frame[flag].astype(int).to_numpy()
            columns = self._columns(flag, x.shape[1])
            self.flag_columns_[flag] = columns
            x_flag = self._flag_matrix(x, flag)
            weights = _group_weights(groups, c.group_weight_power)
            self.flag_models_[flag] = self._fit_flag(x_flag, y, groups, weights)
            self.thresholds_[flag], self.cv_proba_[flag] = self._choose_threshold(x_flag, y, groups, weights)
        self.type_columns_ = self.builder.type_columns()
        x_types = x[:, self.type_columns_]
        self.suggested_model_ = self._fit_multiclass(x_types, frame["suggested_metric_type"].astype(str).to_numpy())
        self.metric_model_ = self._fit_multiclass(x_types, frame["metric_type"].astype(str).to_numpy())
        return self

    def _columns(self, flag: str, width: int) -> np.ndarray:
        columns = self.builder.flag_columns(flag, with_text=self.config.text_weight > 0, inputs=self.config.flag_inputs)
        if flag == "category_mismatch":  # the category model's two confident-learning columns
            columns = np.concatenate([columns, [width - 2, width - 1]])
        return columns

    def _flag_matrix(self, x: sparse.csr_matrix, flag: str) -> sparse.csr_matrix:
        """The flag's columns, text scaled down by ``text_weight`` so words refine the rules' verdict."""
        columns = self.flag_columns_[flag]
        scale = np.where(columns < self.builder.n_text, self.config.text_weight, 1.0)
        return x[:, columns] @ sparse.diags(scale)

    def _fit_flag(self, x, y, groups=None, weights=None):
        if len(set(y)) < 2:
            return float(y[0]) if len(y) else 0.0  # a constant: nothing to learn
        return self._flag_estimator(y, groups).fit(x, y, sample_weight=weights)

    def _fit_multiclass(self, x, y):
        if len(set(y)) < 2:
            return str(y[0])
        return LogisticRegression(C=self.config.c * self.config.type_c_scale, max_iter=self.config.type_max_iter).fit(x, y)

    def _choose_threshold(self, x, y: np.ndarray, groups, weights=None) -> tuple[float, list[float]]:
        """The grid threshold with the best out-of-fold F1 over grouped folds (ties → the one
        nearest 0.5): whole documents/sources held out, so the threshold fits unseen sources."""
        folds = _folds(y, groups, self.config.threshold_folds, self.config.seed)
        if folds is None:
            return 0.5, []
        proba = np.zeros(len(y))
        for train, test in folds:
            if len(set(y[train])) < 2:
                proba[test] = y[train].mean()
                continue
            inner = groups[train] if groups is not None else None
            w = weights[train] if weights is not None else None
            proba[test] = self._flag_estimator(y[train], inner).fit(x[train], y[train], sample_weight=w).predict_proba(x[test])[:, 1]
        best, best_f1 = 0.5, -1.0
        for t in sorted(self.config.threshold_grid, key=lambda t: abs(t - 0.5)):
            pred = proba >= t
            tp = float((pred & (y == 1)).sum())
            f1 = 2 * tp / max(pred.sum() + (y == 1).sum(), 1)
            # move away from 0.5 only for a clear gain: with few documents the out-of-fold
            # F1 curve is noisy, and a threshold fitted to its wiggles does not carry over
            if f1 > best_f1 + (self.config.threshold_margin if best_f1 >= 0 else 0):
                best, best_f1 = t, f1
        return float(best), proba.tolist()

    # ------------------------------------------------------------ predicting
    def matrix(self, rows: pd.DataFrame, features: RowFeatures) -> sparse.csr_matrix:
        return sparse.hstack([self.builder.transform(features), self._category_features(rows)], format="csr")

    def predict(self, rows: pd.DataFrame, features: RowFeatures) -> dict:
        """Flag probabilities, model metric types (with confidence) and, for the rows each flag
        is raised on, the text evidence."""
        x = self.matrix(rows, features)
        fast = _compiled(self, x.shape[1])
        proba = {flag: fast.flags[flag](x) for flag in FLAGS}
        out = {"proba": pd.DataFrame(proba, index=rows.index)}
        for key, model, predict_proba in (("suggested", self.suggested_model_, fast.suggested),
                                          ("metric", self.metric_model_, fast.metric)):
            if isinstance(model, str):
                out[key] = [model] * x.shape[0]
                out[f"{key}_confidence"] = np.ones(x.shape[0])
            else:
                p = predict_proba(x)
                out[key] = list(model.classes_[p.argmax(axis=1)])
                out[f"{key}_confidence"] = p.max(axis=1)
        raised = {flag: proba[flag] >= self.thresholds_[flag] for flag in FLAGS}
        out["evidence"] = self._evidence(x, raised, fast)
        out["category_issue"] = np.asarray(x[:, -1].todense()).ravel() > 0
        return out

    def _coefficients(self, flag: str, width: int) -> np.ndarray | None:
        """The flag model's coefficients spread over all columns (0 where the model does not look)."""
        model = self.flag_models_[flag]
        if isinstance(model, float):
            return None
        if isinstance(model, CalibratedClassifierCV):
            coef = np.mean([c.estimator.coef_[0] for c in model.calibrated_classifiers_], axis=0)
        else:
            coef = model.coef_[0]
        return self._spread(flag, coef, width)

    def _spread(self, flag: str, coef: np.ndarray, width: int) -> np.ndarray:
        """Coefficients over the flag's columns → over all columns, text scaled by ``text_weight``
        (so ``x @ spread`` equals ``_flag_matrix(x, flag) @ coef``)."""
        columns = self.flag_columns_[flag]
        full = np.zeros(width)
        full[columns] = coef * np.where(columns < self.builder.n_text, self.config.text_weight, 1.0)
        return full

    def _evidence(self, x: sparse.csr_matrix, raised: dict[str, np.ndarray], fast: "_Compiled") -> dict[str, list[list[str]]]:
        """Per flag, for each row the flag is raised on, the words of the name, value and
        description that pushed the decision up most (coefficient × feature value), function
        words and repeats left out; [] for the other rows (nothing to explain)."""
        k = self.config.explain_tokens
        out = {}
        for flag in FLAGS:
            coef = fast.evidence[flag]
            rows_evidence: list[list[str]] = [[] for _ in range(x.shape[0])]
            if coef is not None:
                for i in np.flatnonzero(raised[flag]):
                    start, end = x.indptr[i], x.indptr[i + 1]
                    columns = x.indices[start:end]
                    weights = x.data[start:end] * coef[columns]
                    words = rows_evidence[i]
                    for j in np.argsort(-weights):
                        if weights[j] <= 0 or len(words) == k:
                            break
                        word = fast.explainable[columns[j]]
                        if word and word not in words:
                            words.append(word)
            out[flag] = rows_evidence
        return out


class _Compiled:
    """A fitted backend's prediction arithmetic, precomputed once per process: each flag's
    calibrated ensemble as whole-width coefficient vectors (no column slicing per document), the
    type models as weight matrices, the explainable word of every column. scikit-learn's own
    predict_proba validates its input on every call, which costs more than the arithmetic on one
    document's rows. Kept beside the backend (never saved with it)."""

    def __init__(self, backend: SklearnBackend, width: int) -> None:
        self.width = width
        names = backend.builder.feature_names()
        self.explainable = np.array([_explainable(n) for n in names] + [""] * (width - len(names)), dtype=object)
        self.flags = {flag: self._flag(backend, flag) for flag in FLAGS}
        self.evidence = {flag: backend._coefficients(flag, width) for flag in FLAGS}
        type_columns = backend.type_columns_
        self.suggested = self._multiclass(backend.suggested_model_, type_columns)
        self.metric = self._multiclass(backend.metric_model_, type_columns)

    def _flag(self, backend: SklearnBackend, flag: str):
        model = backend.flag_models_[flag]
        if isinstance(model, float):
            return lambda x: np.full(x.shape[0], model)
        platt = isinstance(model, CalibratedClassifierCV) and all(
            len(c.calibrators) == 1 and hasattr(c.calibrators[0], "a_") and hasattr(c.estimator, "coef_")
            for c in model.calibrated_classifiers_)
        if not platt:
            return lambda x: model.predict_proba(backend._flag_matrix(x, flag))[:, 1]
        members = [(backend._spread(flag, c.estimator.coef_[0], self.width), c.estimator.intercept_[0],
                    c.calibrators[0].a_, c.calibrators[0].b_) for c in model.calibrated_classifiers_]

        def proba(x):  # the ensemble's mean of Platt-scaled sigmoids of the decision function
            total = np.zeros(x.shape[0])
            for coef, intercept, a, b in members:
                total += 1.0 / (1.0 + np.exp(a * (x @ coef + intercept) + b))
            return total / len(members)

        return proba

    def _multiclass(self, model, type_columns: np.ndarray):
        if isinstance(model, str):
            return None
        if not (isinstance(model, LogisticRegression) and model.coef_.shape[0] == len(model.classes_) > 2):
            return lambda x: model.predict_proba(x[:, type_columns])
        weights = np.zeros((self.width, len(model.classes_)))
        weights[type_columns] = model.coef_.T
        intercept = model.intercept_

        def proba(x):  # multinomial logistic regression: softmax of the decision function
            decision = x @ weights + intercept
            decision -= decision.max(axis=1, keepdims=True)
            np.exp(decision, out=decision)
            return decision / decision.sum(axis=1, keepdims=True)

        return proba


_COMPILED: "weakref.WeakKeyDictionary[SklearnBackend, _Compiled]" = weakref.WeakKeyDictionary()


def _compiled(backend: SklearnBackend, width: int) -> _Compiled:
    fast = _COMPILED.get(backend)
    if fast is None or fast.width != width:
        fast = _COMPILED[backend] = _Compiled(backend, width)
    return fast


_FUNCTION_WORDS = set("的了和与及或对在为是把被等个年月日")


def _explainable(feature_name: str) -> str:
    """The reader-facing word of a text feature ('n:满意度' → 满意度), '' for features not worth naming."""
    prefix, _, word = feature_name.partition(":")
    if prefix not in {"n", "v", "d"} or not word or all(ch in _FUNCTION_WORDS for ch in word):
        return ""
    return word
