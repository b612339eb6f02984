"""Models: train a backend on a labelled dataset, save it as a folder, load it, score rows.

    Model ── backend (sklearn | transformer) ── corpus statistics ── meta (versions, data hash)

Every backend gets the same per-row work (parsed values, rules, tokens: ``RowFeatures``) and
returns flag probabilities, metric types and evidence; ``Model.predict`` turns that into the
ScoredRow table (DESIGN.md) with thresholds, risk, reasons and rewrite suggestions.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .._version import __version__
from ..config import TrainConfig, config_from_dict
from ..errors import ConfigError, ModelError
from ..features import RowFeatures
from ..corpus import CorpusStats
from ..schema import FLAG_LABELS, FLAGS, ROW_COLUMNS, SCORED_COLUMNS
from ..suggest import suggest_rewrite
from . import _artifact

#: the models shipped inside the package (the default one); ``budgetnlp model rebuild`` never writes here
SHIPPED_MODELS = Path(__file__).resolve().parents[1] / "resources" / "models"
REBUILD_COMMAND = "budgetnlp model rebuild"


@dataclass
class Model:
    name: str
    version: str
    backend: object
    corpus: CorpusStats
    #: the config the backend was trained with (the backend holds the same object)
    config: TrainConfig
    meta: dict = field(default_factory=dict)
    folder: Path | None = None

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def thresholds(self) -> dict[str, float]:
        return dict(self.backend.thresholds_)

    def predict(self, rows: pd.DataFrame, corpus: CorpusStats | None = None) -> pd.DataFrame:
        """Score rows: the row columns passed through, plus the ScoredRow columns and ``suggestion``."""
        rows = _with_row_columns(rows)
        corpus = self.corpus.merged(corpus) if corpus is not None else self.corpus
        features = RowFeatures.compute(rows, corpus)
        output = self.backend.predict(rows, features)
        return self._assemble(rows, features, output)

    def _assemble(self, rows, features: RowFeatures, output: dict) -> pd.DataFrame:
        proba: pd.DataFrame = output["proba"]
        scored = rows.copy()
        for flag in FLAGS:
            scored[f"p_{flag}"] = proba[flag].to_numpy().round(4)
            scored[flag] = (proba[flag].to_numpy() >= self.backend.thresholds_[flag]).astype(int)
        parsed = features.rules.parsed
        override = self.config.metric_type_override
        scored["metric_type"] = [
            m if conf >= override and m != p.metric_type else p.metric_type
            for p, m, conf in zip(parsed, output["metric"], output["metric_confidence"])
        ]
        scored["suggested_metric_type"] = output["suggested"]
        for name in ("op", "number", "low", "high", "unit", "deadline", "issue"):
            scored[f"value_{name}"] = [getattr(p, name) for p in parsed]
        weights = self.config.risk_weights  # one weight per flag, checked by TrainConfig
        total = sum(weights.values())
        scored["risk"] = (sum(proba[f].to_numpy() * weights[f] for f in FLAGS) / total).round(4)
        reasons, suggestions = [], []
        records = features.records
        decided = {f: scored[f].to_numpy() for f in FLAGS}
        probability = {f: proba[f].to_numpy() for f in FLAGS}
        category_issue = output.get("category_issue")
        for i, record in enumerate(records):
            flags = {f: int(decided[f][i]) for f in FLAGS}
            lines = [reason for reason, flag in features.rules.reasons[i] if flag is None or flags[flag]]
            for flag in FLAGS:
                if flags[flag]:
                    words = "、".join(f"“{word}”" for word in output["evidence"][flag][i])
                    line = f"模型判断为{FLAG_LABELS[flag]}（概率{probability[flag][i]:.2f}）"
                    lines.append(line + (f"，主要依据词语：{words}" if words else ""))
            if flags["category_mismatch"] and category_issue is not None and category_issue[i]:
                level2 = record.get("level2_norm") or record.get("level2")
                lines.append(f"类别模型认为“{record.get('name')}”不太像“{level2}”下的指标")
            reasons.append(lines)
            suggestions.append(suggest_rewrite(features.views[i], flags, output["suggested"][i]))
        scored["reasons"] = reasons
        scored["suggestion"] = suggestions
        scored["model"] = self.label
        extra = [c for c in scored.columns if c not in ROW_COLUMNS + SCORED_COLUMNS + ["suggestion"]]
        return scored[ROW_COLUMNS + SCORED_COLUMNS + ["suggestion"] + extra]


def _with_row_columns(rows: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("name", "value") if c not in rows.columns]
    if missing:
        raise ModelError(f"rows lack required column(s) {', '.join(missing)}")
    rows = rows.reset_index(drop=True).copy()
    for column in ROW_COLUMNS:
        if column not in rows.columns:
            rows[column] = None
    for column in ("name", "value", "description", "basis", "level1", "level2", "project_name", "project_code"):
        rows[column] = rows[column].astype(object).fillna("").astype(str)  # an all-empty column reads as float
    from ..schema import normalize_level1, normalize_level2

    empty = rows["level1_norm"].isna() | (rows["level1_norm"].astype(str) == "")  # read with its level 2
    rows.loc[empty, "level1_norm"] = [normalize_level1(a, b) for a, b in zip(rows.loc[empty, "level1"], rows.loc[empty, "level2"])]
    empty = rows["level2_norm"].isna() | (rows["level2_norm"].astype(str) == "")
    rows.loc[empty, "level2_norm"] = rows.loc[empty, "level2"].map(normalize_level2)
    return rows


# ---------------------------------------------------------------- training
def _backend(config: TrainConfig):
    if config.backend == "transformer":
        from .transformer_backend import TransformerBackend

        return TransformerBackend(config)
    from .sklearn_backend import SklearnBackend

    return SklearnBackend(config)


def fit_model(frame: pd.DataFrame, config: TrainConfig, name: str = "model", corpus_rows: pd.DataFrame | None = None) -> Model:
    """Fit a backend on labelled rows (gold + weak); corpus statistics come from ``corpus_rows``
    (default: the training rows themselves)."""
    np.random.seed(config.seed)
    frame = _with_row_columns(frame)
    corpus = CorpusStats.from_rows(corpus_rows if corpus_rows is not None else frame)
    features = RowFeatures.compute(frame, corpus)
    groups = (frame["group"] if "group" in frame else frame["doc_id"]).fillna("").astype(str).to_numpy()
    backend = _backend(config).fit(frame, features, groups)
    return Model(name=name, version="unsaved", backend=backend, corpus=corpus, config=config)


def save_model(model: Model, folder: str | Path, *, metrics: dict, meta: dict, card: str, force: bool = False) -> Model:
    folder = _artifact.prepare_folder(Path(folder), force)
    if hasattr(model.backend, "save"):
        model.backend.save(folder)
    else:
        _artifact.save_estimator(model.backend, folder)
    _artifact.save_corpus(folder, model.corpus)
    version = _file_version(folder)
    meta = {**meta, "name": folder.name, "version": version, "backend": model.config.backend, "budgetnlp": __version__}
    _artifact.write_meta(folder, meta, model.config.to_dict(), metrics, card)
    model.name, model.version, model.meta, model.folder = folder.name, version, meta, folder
    return model


def _file_version(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix in {".skops", ".safetensors", ".json", ".parquet"} and path.name != _artifact.META_FILE:
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


# ---------------------------------------------------------------- loading
def user_models_dir() -> Path:
    """Where ``budgetnlp model rebuild`` writes, never the installed package (it may be read-only,
    and the next install replaces it): $BUDGETNLP_HOME/models, else $XDG_DATA_HOME/budgetnlp/models,
    else ~/.local/share/budgetnlp/models."""
    if os.environ.get("BUDGETNLP_HOME"):
        return Path(os.environ["BUDGETNLP_HOME"]) / "models"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "budgetnlp" / "models"


def _data_hash(folder: Path) -> str | None:
    try:
        return _artifact.read_meta(folder, warn_versions=False).get("data_hash")
    except ModelError:
        return None


def _candidates(model: str | Path) -> list[Path]:
    """The folders ``model`` may mean, preferred first. A path is itself; a name is looked up in
    $BUDGETNLP_MODELS and ./models, then the user folder and the shipped models, where a user
    rebuild counts only while it was trained on the shipped model's data (a newer package wins)."""
    path = Path(model)
    if path.is_dir() or os.sep in str(model) or "/" in str(model):
        return [path]
    name = str(model)
    for base in (os.environ.get("BUDGETNLP_MODELS"), Path.cwd() / "models"):
        if base and (Path(base) / name).is_dir():
            return [Path(base) / name]
    rebuilt, shipped = user_models_dir() / name, SHIPPED_MODELS / name
    if not shipped.is_dir():
        return [rebuilt if rebuilt.is_dir() else Path("models") / name]
    current = rebuilt.is_dir() and _data_hash(rebuilt) is not None and _data_hash(rebuilt) == _data_hash(shipped)
    return [rebuilt, shipped] if current else [shipped]


def resolve_model_path(model: str | Path) -> Path:
    """The folder ``model`` names: a path, or a name (see ``_candidates``; "default" is the
    shipped model or its current user rebuild)."""
    return _candidates(model)[0]


def load_model(model: str | Path = "default") -> Model:
    """Load a model folder; raises ModelError with the reason when it cannot be used (for a
    shipped model, with the command that rebuilds it). A user rebuild that cannot be loaded
    gives way to the shipped model, with a warning."""
    *preferred, last = _candidates(model)
    for folder in preferred:
        try:
            return _load_folder(folder)
        except ModelError as error:
            warnings.warn(f"{error}; using the model shipped with the package", stacklevel=2)
    try:
        return _load_folder(last)
    except ModelError as error:
        if last != SHIPPED_MODELS / str(model):
            raise
        target = user_models_dir() / str(model)
        raise ModelError(f"{error}; the {model} model cannot be loaded: `{REBUILD_COMMAND}` retrains it"
                         f" into {target} (about a minute; --no-cv: seconds)") from None


def _load_folder(folder: Path) -> Model:
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        meta = _artifact.read_meta(folder)
        config = _folder_config(folder, meta)
    if config.backend == "transformer":
        from .transformer_backend import TransformerBackend

        backend = TransformerBackend.load(folder, config)
    else:
        backend = _artifact.load_estimator(folder)
        backend.config = config  # the folder's config.yaml, not the file's copy: one config per model
    return Model(
        name=meta.get("name", folder.name),
        version=meta.get("version", "unknown"),
        backend=backend,
        corpus=_artifact.load_corpus(folder),
        config=config,
        meta=meta,
        folder=folder,
    )


def _folder_config(folder: Path, meta: dict) -> TrainConfig:
    """The model's TrainConfig from its folder (config.yaml; meta.json's "config" for folders that
    have no config.yaml). An option the folder lacks takes the dataclass default, which is the
    behaviour from before it existed; an option this budgetnlp does not know is ignored with a
    warning (the folder was written by another version; what the option did is in the fitted
    estimator); a value that fails the checks is a ModelError naming the file and the option."""
    data, source = _artifact.read_config(folder)
    if data is None:
        data, source = meta.get("config") or {}, str(Path(folder) / _artifact.META_FILE)
    data = dict(data)
    data.setdefault("backend", meta.get("backend") or "sklearn")
    try:
        return config_from_dict(data, source, unknown="warn")
    except ConfigError as exc:
        raise ModelError(str(exc)) from None
