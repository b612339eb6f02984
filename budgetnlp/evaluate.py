"""Leave-one-document-out cross-validation on the gold rows, with two baselines and a learning curve.

For each document: every label model and corpus statistic is fitted on the other documents
only; the held-out document's rows are scored with them. The out-of-fold predictions of all
folds are pooled, then the figures are computed once (DESIGN.md, issue "Evaluation").
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
from .dataset import weak_label
from .rules import CorpusStats, apply_rules, row_view, rules_for, suggest_metric_type
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
def _model_fold(train: pd.DataFrame, test: pd.DataFrame, config: TrainConfig) -> pd.DataFrame:
    from .models import fit_model

    model = fit_model(train, config)
    scored = model.predict(test.drop(columns=[*FLAGS, "metric_type", "suggested_metric_type"], errors="ignore"))
    return scored


def _rules_fold(train: pd.DataFrame, test: pd.DataFrame, config: TrainConfig) -> pd.DataFrame:
    """Rules only: each flag's rules by majority vote (ties → 0); parser type; rule-suggested type."""
    corpus = CorpusStats.from_rows(train)
    result = apply_rules(test, corpus)
    out = test[["row_id"]].copy()
    for flag in FLAGS:
        votes = result.votes[[lf.name for lf in rules_for(flag)]].to_numpy()
        ones, zeros = (votes == 1).sum(axis=1), (votes == 0).sum(axis=1)
        out[flag] = (ones > zeros).astype(int)
        out[f"p_{flag}"] = np.where(ones + zeros > 0, ones / np.maximum(ones + zeros, 1), 0.5)
    out["metric_type"] = [p.metric_type for p in result.parsed]
    records = test.to_dict("records")
    out["suggested_metric_type"] = [suggest_metric_type(row_view(r, p, corpus)) for r, p in zip(records, result.parsed)]
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
            model = LogisticRegression(C=config.c, max_iter=2000, random_state=config.seed).fit(x_train, y)
            out[f"p_{flag}"] = model.predict_proba(x_test)[:, 1]
        out[flag] = (out[f"p_{flag}"] >= 0.5).astype(int)
    for label in ("metric_type", "suggested_metric_type"):
        y = train[label].astype(str).to_numpy()
        if len(set(y)) < 2:
            out[label] = y[0]
        else:
            out[label] = LogisticRegression(C=config.c * 5, max_iter=3000).fit(x_train, y).predict(x_test)
    return out


SYSTEMS = {"model": _model_fold, "rules": _rules_fold, "tfidf_lr": _tfidf_fold}


def _fold_data(frame: pd.DataFrame, doc: str, config: TrainConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training rows (weak labels refitted on this fold's gold only) and the held-out gold rows."""
    held = frame[(frame["doc_id"] == doc) & (frame["label_source"] == "gold")].reset_index(drop=True)
    train = frame[frame["doc_id"] != doc].reset_index(drop=True)
    if (train["label_source"] == "weak").any():
        unlabeled = train.copy()
        labels = [*FLAGS, "metric_type", "suggested_metric_type"]
        unlabeled[labels] = unlabeled[labels].astype(object)  # int flags would turn float, refusing weak_label's values
        unlabeled.loc[unlabeled["label_source"] == "weak", labels] = None
        train = weak_label(unlabeled, seed=config.seed)
    return train, held


def cross_validate(frame: pd.DataFrame, config: TrainConfig, systems=("model", "rules", "tfidf_lr"),
                   train_fraction: float = 1.0) -> dict:
    """Leave-one-document-out predictions of each system, pooled, then scored."""
    docs = sorted(frame.loc[frame["label_source"] == "gold", "doc_id"].unique())
    if len(docs) < 2:
        from .errors import ModelError

        raise ModelError("cross-validation needs gold rows from at least two documents")
    pooled = {name: [] for name in systems}
    truth = []
    for doc in docs:
        train, held = _fold_data(frame, doc, config)
        if train_fraction < 1.0:
            train = train.sample(frac=train_fraction, random_state=config.seed).reset_index(drop=True)
        truth.append(held)
        for name in systems:
            pooled[name].append(SYSTEMS[name](train, held, config).reset_index(drop=True))
    truth_frame = pd.concat(truth, ignore_index=True)
    results = {"documents": len(docs), "gold_rows": len(truth_frame)}
    for name in systems:
        pred = pd.concat(pooled[name], ignore_index=True)
        proba = pred[[f"p_{f}" for f in FLAGS]].rename(columns=lambda c: c[2:])
        results[name] = {
            "flags": flag_metrics(truth_frame, pred, proba),
            "metric_type": type_metrics(truth_frame["metric_type"].astype(str), pred["metric_type"].astype(str)),
            "suggested_metric_type": type_metrics(
                truth_frame["suggested_metric_type"].astype(str), pred["suggested_metric_type"].astype(str)
            ),
        }
    return results


def learning_curve(frame: pd.DataFrame, config: TrainConfig, fractions=(0.25, 0.5, 0.75, 1.0), repeats: int = 3) -> list[dict]:
    """Macro-F1 of the model against the number of gold training rows (leave-one-document-out),
    each fraction averaged over ``repeats`` seeded subsamples of the training rows."""
    from dataclasses import replace

    gold = int((frame["label_source"] == "gold").sum())
    points = []
    for fraction in fractions:
        scores = []
        for repeat in range(1 if fraction >= 1.0 else repeats):
            result = cross_validate(frame, replace(config, seed=config.seed + repeat), systems=("model",),
                                    train_fraction=fraction)
            scores.append(result["model"]["flags"]["macro_f1"])
        docs = frame["doc_id"].nunique()
        points.append({
            "fraction": fraction,
            "approx_training_gold_rows": int(gold * fraction * (docs - 1) / docs),
            "macro_f1": float(np.mean(scores)),
            "macro_f1_min": float(np.min(scores)),
            "macro_f1_max": float(np.max(scores)),
        })
    return points


def summary_table(results: dict) -> str:
    """A Markdown table of the systems side by side (quoted in README)."""
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


def write_results(results: dict, curve: list[dict] | None, out_dir: str | Path) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {**results, "learning_curve": curve or []}
    (out_dir / "cv_results.json").write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")
    text = "# Leave-one-document-out cross-validation on the gold rows\n\n" + summary_table(results) + "\n"
    if curve:
        text += "\n## Learning curve (model)\n\n| training fraction | ≈ gold rows per fold | macro-F1 (mean) | min–max |\n|---|---|---|---|\n"
        text += "\n".join(
            f"| {p['fraction']:.2f} | {p['approx_training_gold_rows']} | {p['macro_f1']:.3f} | {p['macro_f1_min']:.3f}–{p['macro_f1_max']:.3f} |"
            for p in curve
        ) + "\n"
    (out_dir / "cv_summary.md").write_text(text, encoding="utf-8")
    return out_dir
