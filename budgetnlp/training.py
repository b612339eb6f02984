"""``budgetnlp train``: dataset folder → model folder with cross-validated metrics and a model card."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

from .config import TrainConfig, load_config
from .dataset import build_dataset, data_hash, load_dataset_frame
from .errors import ModelError
from .evaluate import cross_validate, groups_of, holdout_groups, lines_table, summary_table
from .models import Model, _artifact, fit_model, load_model, save_model, user_models_dir
from .schema import FLAGS

PACKAGE = Path(__file__).resolve().parent
#: the training config of the shipped default model (``budgetnlp train`` without --config)
DEFAULT_CONFIG = PACKAGE / "resources" / "default_config.yaml"
#: the labelled rows the shipped default model was trained on: all ``budgetnlp model rebuild`` needs
DEFAULT_DATASET = PACKAGE / "resources" / "default_dataset.parquet"

KNOWN_LIMITS = """\
- Gold rows come from 32 sources: three sample disclosures from Hebei (278 rows, template-heavy)
  and 29 locality pages from 14 provinces (234 rows, 2–15 rows each). Figures come from grouped
  cross-validation (whole sources held out) and will move as annotations from more units arrive.
- The labeling functions were first written by reading the samples and LABELS.md, then revised
  against the localities' failure classes; the rules-only column and the model, which leans on
  the rules' votes, share whatever optimism that leaves.
- Text features are down-weighted (``text_weight``): with a few dozen sources words do not
  transfer from one unit's vocabulary to another's, and a row of unfamiliar words must not be
  evidence for a flag (its text block is then empty and the rules' votes decide).
- Repetition counts come from the training corpus (corpus.parquet) plus the batch being scored
  (`budgetnlp score`: every input of the run; `--repetition document`: each document's own rows);
  one locality page is too short to show repetition.
- category_mismatch positives are rare (about one row in ten); its figures are the least stable.
"""


def model_card(name: str, meta: dict, config: TrainConfig, metrics: dict, thresholds: dict) -> str:
    lines = [
        f"# Model card: {name}",
        "",
        "Decides, for each indicator row of a 项目绩效目标表, the four flags of LABELS.md (vague,",
        "boilerplate, category_mismatch, unmeasurable) with calibrated probabilities, the metric type",
        "and the suggested metric type, and explains each decision.",
        "",
        "## Data",
        "",
        f"- data hash: `{meta['data_hash']}`",
        f"- rows: {meta['rows']} (" + ", ".join(f"{k} {v}" for k, v in meta["rows_by_label_source"].items()) + ")",
        f"- documents: {meta['documents']}; groups (sources): {meta['groups']} ("
        + ", ".join(f"{k} {v}" for k, v in meta["groups_by_kind"].items()) + ")",
        "",
        "## Training",
        "",
        f"- backend: {config.backend}; seed {config.seed}; C {config.c}; calibration {config.calibration};"
        f" text weight {config.text_weight}",
        "- decision thresholds ("
        + ("chosen on a held-out fifth of the documents" if config.backend == "transformer" else "chosen by source-grouped cross-validation, calibrated on grouped folds")
        + "): "
        + ", ".join(f"{f} {thresholds[f]:.2f}" for f in FLAGS),
        "",
        f"## Cross-validated metrics ({metrics.get('scheme', 'grouped')}, {metrics.get('folds', '?')} folds, out-of-fold predictions pooled)",
        "",
        *((summary_table(metrics), "", "Model per line (source kinds; held-out sources where present):", "",
           lines_table(metrics)) if metrics.get("model")
          else ("not computed (trained with --no-cv, or fewer than two groups with gold rows)",)),
        "",
        "## Library versions",
        "",
        *(f"- {k} {v}" for k, v in _artifact.library_versions().items()),
        "",
        "## Known limits",
        "",
        KNOWN_LIMITS,
    ]
    return "\n".join(lines)


def train(frame: pd.DataFrame, config: TrainConfig, out: str | Path, *, force: bool = False,
          baselines: bool = True, cv: bool = True) -> Model:
    """Cross-validate (grouped by document), fit on everything, save the folder. ``cv=False``
    skips the cross-validation (a slow transformer on a CPU): the card then says so."""
    _artifact.check_folder(Path(out), force)  # before minutes of training, not after
    gold_groups = len(set(groups_of(frame[frame["label_source"] == "gold"])))
    systems = ("model", "rules", "tfidf_lr") if baselines else ("model",)
    metrics = cross_validate(frame, config, systems=systems, holdout=holdout_groups()) if cv and gold_groups >= 2 else {}
    model = fit_model(frame, config, name=Path(out).name)
    meta = {
        "data_hash": data_hash(frame),
        "rows": len(frame),
        "rows_by_label_source": {k: int(v) for k, v in frame["label_source"].value_counts().items()},
        "documents": int(frame["doc_id"].nunique()),
        "groups": int(len(set(groups_of(frame)))),
        "groups_by_kind": {str(k): int(v) for k, v in frame.groupby("source_kind")["group"].nunique().items()}
        if "source_kind" in frame else {"document": int(frame["doc_id"].nunique())},
        "document_ids": sorted(frame["doc_id"].dropna().astype(str).unique()),
        "thresholds": model.thresholds,
    }
    card = model_card(Path(out).name, meta, config, metrics, model.thresholds)
    return save_model(model, out, metrics=metrics, meta=meta, card=card, force=force)


def train_from_folder(data: str | Path, config_path: str | Path | None, out: str | Path, *, force: bool = False,
                      cv: bool = True, **overrides) -> Model:
    config = load_config(config_path or DEFAULT_CONFIG, **overrides)
    return train(load_dataset_frame(data), config, out, force=force, cv=cv)


def rebuild_default_model(folder: str | Path | None = None, *, cv: bool = True, force: bool = False) -> Model:
    """Retrain the default model from the rows and config shipped with the package (about a minute), into
    ``folder`` (default: the user folder, replaced), never into the package: an install may be
    read-only, and the next one replaces it."""
    target = Path(folder) if folder else user_models_dir() / "default"
    if PACKAGE in (target.resolve(), *target.resolve().parents):
        raise ModelError(f"{target}: inside the installed package; rebuild into a user folder"
                         f" (the default: {user_models_dir() / 'default'})")
    frame = pd.read_parquet(DEFAULT_DATASET)
    return train(frame, load_config(DEFAULT_CONFIG), target, force=force or folder is None, baselines=False, cv=cv)


def load_with_warnings(model: str | Path = "default", say=print) -> Model:
    """Load a model to score with; its load warnings (other library versions, a user rebuild that
    gave way) go to ``say``, once each. Nothing is retrained here: a default that cannot be loaded
    raises ModelError naming ``budgetnlp model rebuild``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load_model(model)
    for message in dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, UserWarning)):
        say(f"budgetnlp: warning: {message}")
    return loaded
