"""Grouped cross-validation on the gold rows, with two baselines and a learning curve by sources.

A group is a source: a sample document or a locality's page (dataset ``group``). Folds hold out
whole groups (seeded grouped k-fold, or one group per fold), or whole provinces. For each fold
every label model, threshold, calibration and training-corpus statistic is fitted on the other
groups only; each held-out group is then scored as one batch, its own repetition counts added to
the training corpus's (as ``budgetnlp score`` does per document). The out-of-fold predictions of
all folds are pooled and scored once, for all rows and per source kind (DESIGN.md, issue 11).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, confusion_matrix, f1_score, precision_score, recall_score
from threadpoolctl import threadpool_limits

from .config import TrainConfig
from .corpus import CorpusStats
from .dataset import weak_label
from .rules import apply_rules, rules_for
from .schema import FLAGS, METRIC_TYPES
from .tokenize import field_tokens


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Mean |accuracy − confidence| over equal-width probability bins, weighted by bin size."""
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            error += mask.mean() * abs(y[mask].mean() - p[mask].mean())
    return float(error)


def flag_metrics(truth: pd.DataFrame, pred: pd.DataFrame, proba: pd.DataFrame | None) -> dict:
    out = {}
    for flag in FLAGS:
        y, yhat = truth[flag].astype(int).to_numpy(), pred[flag].astype(int).to_numpy()
        figures = {
            "precision": float(precision_score(y, yhat, zero_division=0)),
            "recall": float(recall_score(y, yhat, zero_division=0)),
            "f1": float(f1_score(y, yhat, zero_division=0)),
            "support": int(y.sum()),
        }
        if proba is not None:
            p = proba[flag].to_numpy()
            figures["pr_auc"] = float(average_precision_score(y, p)) if y.any() else float("nan")
            figures["ece"] = expected_calibration_error(y, p)
        out[flag] = figures
    out["macro_f1"] = float(np.mean([out[f]["f1"] for f in FLAGS]))
    if proba is not None:
        out["mean_ece"] = float(np.mean([out[f]["ece"] for f in FLAGS]))
    return out


def type_metrics(truth: pd.Series, pred: pd.Series) -> dict:
    labels = [t for t in METRIC_TYPES if t in set(truth) | set(pred)]
    return {
        "accuracy": float((truth.to_numpy() == pred.to_numpy()).mean()),
        "labels": labels,
        "confusion": confusion_matrix(truth, pred, labels=labels).tolist(),
    }


# ---------------------------------------------------------------- the three systems
def _per_batch(test: pd.DataFrame, score) -> pd.DataFrame:
    """``score(batch)`` on each held-out group as its own batch (a document, a page: what a user
    scores at once), results back in ``test``'s row order (``test`` has a 0..n-1 index)."""
    parts = []
    for _, batch in test.groupby(groups_of(test), sort=False):
        part = score(batch).reset_index(drop=True)
        part.index = batch.index
        parts.append(part)
    return pd.concat(parts).sort_index()


def _model_fold(train: pd.DataFrame, test: pd.DataFrame, config: TrainConfig) -> pd.DataFrame:
    from .models import fit_model

    model = fit_model(train, config)
    unlabelled = test.drop(columns=[*FLAGS, "metric_type", "suggested_metric_type"], errors="ignore")
    return _per_batch(unlabelled, lambda batch: model.predict(batch, corpus=CorpusStats.from_rows(batch)))


def _rules_fold(train: pd.DataFrame, test: pd.DataFrame, config: TrainConfig) -> pd.DataFrame:
    """Rules only: each flag's rules by majority vote (ties → 0); parser type; rule-suggested type."""
    trained = CorpusStats.from_rows(train)
    return _per_batch(test, lambda batch: _rules_batch(batch, trained.merged(CorpusStats.from_rows(batch))))


def _rules_batch(batch: pd.DataFrame, corpus: CorpusStats) -> pd.DataFrame:
    result = apply_rules(batch, corpus)
    out = batch[["row_id"]].copy()
    for flag in FLAGS:
        votes = result.votes[[lf.name for lf in rules_for(flag)]].to_numpy()
        ones, zeros = (votes == 1).sum(axis=1), (votes == 0).sum(axis=1)
        out[flag] = (ones > zeros).astype(int)
        out[f"p_{flag}"] = np.where(ones + zeros > 0, ones / np.maximum(ones + zeros, 1), 0.5)
    out["metric_type"] = [p.metric_type for p in result.parsed]
    out["suggested_metric_type"] = result.suggested
    return out


def _text(frame: pd.DataFrame) -> list[list[str]]:
    return [field_tokens(r) for r in frame.to_dict("records")]


def _tfidf_fold(train: pd.DataFrame, test: pd.DataFrame, config: TrainConfig) -> pd.DataFrame:
    """Plain TF-IDF of the jieba tokens + logistic regression, threshold 0.5, no rules or parsing."""
    with threadpool_limits(limits=1, user_api="blas"):  # small problems: see SklearnBackend.fit
        return _tfidf_fold_fit(train, test, config)


def _tfidf_fold_fit(train: pd.DataFrame, test: pd.DataFrame, config: TrainConfig) -> pd.DataFrame:
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(analyzer=lambda tokens: tokens, sublinear_tf=True)
    x_train, x_test = vectorizer.fit_transform(_text(train)), vectorizer.transform(_text(test))
    out = test[["row_id"]].copy()
    for flag in FLAGS:
        y = train[flag].astype(int).to_numpy()
        if len(set(y)) < 2:
            out[f"p_{flag}"] = float(y[0])
        else:
            model = LogisticRegression(C=config.c, max_iter=config.flag_max_iter, random_state=config.seed).fit(x_train, y)
            out[f"p_{flag}"] = model.predict_proba(x_test)[:, 1]
        out[flag] = (out[f"p_{flag}"] >= 0.5).astype(int)
    for label in ("metric_type", "suggested_metric_type"):
        y = train[label].astype(str).to_numpy()
        if len(set(y)) < 2:
            out[label] = y[0]
        else:
            out[label] = LogisticRegression(C=config.c * config.type_c_scale, max_iter=config.type_max_iter).fit(x_train, y).predict(x_test)
    return out


SYSTEMS = {"model": _model_fold, "rules": _rules_fold, "tfidf_lr": _tfidf_fold}
#: a checkout's development protocol, relative to the working folder like the CLI's other
#: checkout defaults (data/, evaluation/results): the package never reaches outside itself
HOLDOUT_FILE = Path("evaluation") / "holdout_sources.txt"
#: the lines of the report: which pooled out-of-fold rows each one scores
LINES = {"all": None, "documents": "document", "localities": "locality"}


def groups_of(frame: pd.DataFrame) -> np.ndarray:
    """Each row's group (dataset ``group``; a frame built before groups existed: its document)."""
    column = frame["group"] if "group" in frame else frame["doc_id"]
    return column.fillna("").astype(str).to_numpy()


def province_units(frame: pd.DataFrame) -> np.ndarray:
    """Each row's province for leave-one-province-out; rows without one (the sample documents,
    which come from one province) share one unit."""
    province = frame["province"].fillna("").astype(str) if "province" in frame else pd.Series("", index=frame.index)
    return province.replace("", "(sample documents)").to_numpy()


def holdout_groups(path: str | Path = HOLDOUT_FILE) -> set[str]:
    """The locality sources kept aside until the end (one id a line); none if the file is missing."""
    path = Path(path)
    return set(path.read_text(encoding="utf-8").split()) if path.is_file() else set()


def grouped_folds(units: np.ndarray, k: int, seed: int) -> list[list[str]]:
    """Whole units (groups, provinces) into ``k`` folds, seeded: units shuffled, then each placed
    in the fold with the fewest rows so far (sizes stay even though one document is large).
    ``k`` = 0 or ≥ the number of units: one unit per fold."""
    names, sizes = np.unique(units, return_counts=True)
    if k <= 0 or k >= len(names):
        return [[str(n)] for n in names]
    order = np.random.default_rng(seed).permutation(len(names))
    order = sorted(order, key=lambda i: -sizes[i])  # stable: equal sizes keep the seeded order
    folds: list[list[str]] = [[] for _ in range(k)]
    rows = np.zeros(k)
    for i in order:
        j = int(np.argmin(rows))
        folds[j].append(str(names[i]))
        rows[j] += sizes[i]
    return [sorted(f) for f in folds]


def _fold_data(frame: pd.DataFrame, held: list[str], config: TrainConfig, units: np.ndarray
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training rows (weak labels refitted on this fold's gold only) and the held-out gold rows."""
    inside = np.isin(units, held)
    test = frame[inside & (frame["label_source"] == "gold").to_numpy()].reset_index(drop=True)
    train = frame[~inside].reset_index(drop=True)
    if (train["label_source"] == "weak").any():
        unlabeled = train.copy()
        labels = [*FLAGS, "metric_type", "suggested_metric_type"]
        unlabeled[labels] = unlabeled[labels].astype(object)  # int flags would turn float, refusing weak_label's values
        unlabeled.loc[unlabeled["label_source"] == "weak", labels] = None
        train = weak_label(unlabeled, seed=config.seed)
    return train, test


def _scores(truth: pd.DataFrame, pred: pd.DataFrame) -> dict:
    proba = pred[[f"p_{f}" for f in FLAGS]].rename(columns=lambda c: c[2:])
    return {
        "rows": len(truth),
        "groups": int(len(set(groups_of(truth)))),
        "flags": flag_metrics(truth, pred, proba),
        "metric_type": type_metrics(truth["metric_type"].astype(str), pred["metric_type"].astype(str)),
        "suggested_metric_type": type_metrics(truth["suggested_metric_type"].astype(str),
                                              pred["suggested_metric_type"].astype(str)),
    }


def out_of_fold(frame: pd.DataFrame, config: TrainConfig, systems=("model", "rules", "tfidf_lr"), *,
                folds: int = 8, by: str = "group", train_groups: int | None = None,
                seed: int | None = None) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], int]:
    """Pooled out-of-fold predictions of each system on the gold rows: (truth, predictions, folds).
    ``by`` "group" or "province"; ``train_groups`` n: each fold trains on n of its training groups
    (seeded sample), for the learning curve."""
    seed = config.seed if seed is None else seed
    units = province_units(frame) if by == "province" else groups_of(frame)
    gold_units = np.unique(units[(frame["label_source"] == "gold").to_numpy()])
    if len(gold_units) < 2:
        from .errors import ModelError

        raise ModelError("cross-validation needs gold rows from at least two groups (documents or sources)")
    plan = grouped_folds(units[np.isin(units, gold_units)], folds, seed)
    rng = np.random.default_rng(seed)
    pooled: dict[str, list] = {name: [] for name in systems}
    truth = []
    for held in plan:
        train, test = _fold_data(frame, held, config, units)
        if train_groups is not None:
            available = sorted(set(groups_of(train)))
            keep = rng.choice(available, size=min(train_groups, len(available)), replace=False)
            train = train[np.isin(groups_of(train), keep)].reset_index(drop=True)
        truth.append(test)
        for name in systems:
            pooled[name].append(SYSTEMS[name](train, test, config).reset_index(drop=True))
    return (pd.concat(truth, ignore_index=True),
            {name: pd.concat(parts, ignore_index=True) for name, parts in pooled.items()}, len(plan))


def cross_validate(frame: pd.DataFrame, config: TrainConfig, systems=("model", "rules", "tfidf_lr"), *,
                   folds: int = 8, by: str = "group", holdout: set[str] | None = None) -> dict:
    """Grouped out-of-fold predictions of each system, pooled, then scored for all rows (the
    systems' top-level keys) and per line (``lines``: documents, localities and, when the held-out
    sources are in ``frame``, localities dev / holdout)."""
    truth, pred, n_folds = out_of_fold(frame, config, systems, folds=folds, by=by)
    units = province_units(truth) if by == "province" else groups_of(truth)
    scheme = f"leave one {by} out" if n_folds == len(set(units)) else f"seeded {n_folds}-fold grouped by {by}"
    results = {"scheme": scheme, "folds": n_folds, "groups": int(len(set(groups_of(truth)))), "documents": int(truth["doc_id"].nunique()),
               "gold_rows": len(truth)}
    for name in systems:
        results[name] = _scores(truth, pred[name])
    kind = truth["source_kind"].to_numpy() if "source_kind" in truth else np.full(len(truth), "document")
    masks = {line: kind == k for line, k in LINES.items() if k is not None}
    aside = np.isin(groups_of(truth), sorted(holdout or ()))
    if aside.any():
        masks["localities (dev)"] = masks["localities"] & ~aside
        masks["localities (holdout)"] = masks["localities"] & aside
    results["lines"] = {}
    for line, mask in masks.items():
        if mask.any():
            results["lines"][line] = {name: _scores(truth[mask].reset_index(drop=True), pred[name][mask].reset_index(drop=True))
                                      for name in systems}
    return results


def learning_curve(frame: pd.DataFrame, config: TrainConfig, sources=(2, 4, 8, 16), folds: int = 8,
                   repeats: int = 2, full: float | None = None) -> list[dict]:
    """Macro-F1 of the model against the number of training SOURCES (groups) per fold: each fold
    trains on n of its training groups (seeded sample, ``repeats`` seeds), then all of them
    (``full``: that figure when the caller already has it from the same folds)."""
    n_train = len(set(groups_of(frame))) - 1
    points = []
    for n in [*(n for n in sources if n < n_train), None]:
        if n is None and full is not None:
            points.append({"training_sources": "all", "macro_f1": full, "macro_f1_min": full, "macro_f1_max": full})
            continue
        scores = []
        for repeat in range(1 if n is None else repeats):
            truth, pred, _ = out_of_fold(frame, config, ("model",), folds=folds, train_groups=n,
                                         seed=config.seed + repeat)
            scores.append(flag_metrics(truth, pred["model"], None)["macro_f1"])
        points.append({
            "training_sources": n if n is not None else "all",
            "macro_f1": float(np.mean(scores)),
            "macro_f1_min": float(np.min(scores)),
            "macro_f1_max": float(np.max(scores)),
        })
    return points


def summary_table(results: dict) -> str:
    """A Markdown table of the systems side by side on all rows (quoted in README and model cards)."""
    systems = [s for s in ("model", "rules", "tfidf_lr") if s in results]
    header = "| figure | " + " | ".join(systems) + " |\n|---|" + "---|" * len(systems)
    lines = [header]
    for flag in FLAGS:
        lines.append(f"| {flag} F1 | " + " | ".join(f"{results[s]['flags'][flag]['f1']:.3f}" for s in systems) + " |")
    for flag in FLAGS:
        lines.append(f"| {flag} PR-AUC | " + " | ".join(f"{results[s]['flags'][flag]['pr_auc']:.3f}" for s in systems) + " |")
    lines.append("| macro-F1 | " + " | ".join(f"**{results[s]['flags']['macro_f1']:.3f}**" for s in systems) + " |")
    lines.append("| mean ECE | " + " | ".join(f"{results[s]['flags']['mean_ece']:.3f}" for s in systems) + " |")
    for label in ("metric_type", "suggested_metric_type"):
        lines.append(f"| {label} accuracy | " + " | ".join(f"{results[s][label]['accuracy']:.3f}" for s in systems) + " |")
    return "\n".join(lines)


def lines_table(results: dict, system: str = "model") -> str:
    """One system's figures side by side per line (all rows, documents, localities, …)."""
    lines = {"all": results, **results.get("lines", {})}
    names = list(lines)
    out = ["| figure | " + " | ".join(f"{n} ({lines[n][system]['rows']} rows, {lines[n][system]['groups']} groups)" if n != "all"
                                      else f"all ({results['gold_rows']} rows, {results['groups']} groups)" for n in names)
           + " |", "|---|" + "---|" * len(names)]
    for flag in FLAGS:
        out.append(f"| {flag} F1 | " + " | ".join(f"{lines[n][system]['flags'][flag]['f1']:.3f}" for n in names) + " |")
    for key, label in (("macro_f1", "macro-F1"), ("mean_ece", "mean ECE")):
        out.append(f"| {label} | " + " | ".join(f"{lines[n][system]['flags'][key]:.3f}" for n in names) + " |")
    out.append("| mean PR-AUC | " + " | ".join(
        f"{np.nanmean([lines[n][system]['flags'][f]['pr_auc'] for f in FLAGS]):.3f}" for n in names) + " |")
    for label in ("metric_type", "suggested_metric_type"):
        out.append(f"| {label} accuracy | " + " | ".join(f"{lines[n][system][label]['accuracy']:.3f}" for n in names) + " |")
    return "\n".join(out)


def _baselines_table(results: dict) -> str:
    """Macro-F1 of every system on every line."""
    lines = {"all": results, **results.get("lines", {})}
    systems = [s for s in ("model", "rules", "tfidf_lr") if s in results]
    out = ["| line | " + " | ".join(systems) + " |", "|---|" + "---|" * len(systems)]
    for name, block in lines.items():
        out.append(f"| {name} | " + " | ".join(f"{block[s]['flags']['macro_f1']:.3f}" for s in systems) + " |")
    return "\n".join(out)


def write_results(results: dict, curve: list[dict] | None, out_dir: str | Path, provinces: dict | None = None) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {**results, "leave_one_province_out": provinces or {}, "learning_curve": curve or []}
    (out_dir / "cv_results.json").write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")
    text = (f"# Grouped cross-validation on the gold rows ({results['scheme']}: {results['folds']} folds, "
            f"{results['groups']} groups, {results['gold_rows']} rows)\n\n"
            "Out-of-fold predictions pooled; label model, thresholds, calibration and training-corpus statistics "
            "fitted inside each fold; each held-out source scored as one batch.\n\n"
            "## Model per line\n\n" + lines_table(results) + "\n\n"
            "## Macro-F1 of the model and the baselines per line\n\n" + _baselines_table(results) + "\n\n"
            "## All rows: model and baselines\n\n" + summary_table(results) + "\n")
    if provinces:
        text += (f"\n## Leave one province out ({provinces['folds']} folds)\n\n" + lines_table(provinces) + "\n\n"
                 + _baselines_table(provinces) + "\n")
    if curve:
        text += ("\n## Learning curve (model): macro-F1 against training sources per fold\n\n"
                 "| training sources | macro-F1 (mean) | min–max |\n|---|---|---|\n")
        text += "\n".join(
            f"| {p['training_sources']} | {p['macro_f1']:.3f} | {p['macro_f1_min']:.3f}–{p['macro_f1_max']:.3f} |"
            for p in curve
        ) + "\n"
    (out_dir / "cv_summary.md").write_text(text, encoding="utf-8")
    return out_dir


def run_evaluation(frame: pd.DataFrame, config: TrainConfig, *, folds: int = 8, include_holdout: bool = False,
                   provinces: bool = True, curve: bool = True, holdout_file: str | Path = HOLDOUT_FILE):
    """The ``budgetnlp evaluate`` run: grouped CV (headline), leave-one-province-out, learning
    curve. The sources of ``holdout_file`` are dropped unless ``include_holdout`` (then they are
    reported as their own line)."""
    aside = holdout_groups(holdout_file)
    if not include_holdout:
        frame = frame[~np.isin(groups_of(frame), sorted(aside))].reset_index(drop=True)
    results = cross_validate(frame, config, folds=folds, holdout=aside if include_holdout else None)
    results["holdout"] = "included (own line)" if include_holdout else f"excluded ({len(aside)} sources)"
    by_province = cross_validate(frame, config, folds=0, by="province", holdout=aside if include_holdout else None) if provinces else None
    points = learning_curve(frame, config, folds=folds, full=results["model"]["flags"]["macro_f1"]) if curve else None
    return results, by_province, points
