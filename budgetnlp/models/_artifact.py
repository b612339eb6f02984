"""A model is a folder: the estimator file (skops, never pickle), its config, metrics,
the training corpus statistics, meta.json (library versions, data hash, row counts) and a
generated MODEL_CARD.md. Loading checks that the file holds only allow-listed types and warns
when it was written by other library versions."""

from __future__ import annotations

import json
import platform
import warnings
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import pandas as pd
import yaml

from ..errors import ModelError

MODEL_FILE = "model.skops"
#: modules whose types a model file may contain; anything else (builtins.eval, functools.partial,
#: os.*, …) is refused on load. Plain containers and numbers need no trust in skops.
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "budgetnlp.")
LIBRARIES = ("budgetnlp", "scikit-learn", "numpy", "scipy", "pandas", "jieba", "skops", "torch", "transformers")


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def check_folder(folder: Path, force: bool) -> None:
    """Refuse a folder that already holds a model, unless ``force``: callers check before training."""
    folder = Path(folder)
    if (folder / "meta.json").exists() and not force:
        raise ModelError(f"{folder}: a model already exists there (use --force to replace it)")


def prepare_folder(folder: Path, force: bool) -> Path:
    """Create the model folder; an existing model is only replaced with ``force``."""
    folder = Path(folder)
    check_folder(folder, force)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_estimator(obj, folder: Path) -> None:
    import skops.io as sio

    sio.dump(obj, folder / MODEL_FILE)


def load_estimator(folder: Path):
    import skops.io as sio

    path = Path(folder) / MODEL_FILE
    if not path.is_file():
        raise ModelError(f"{folder}: no {MODEL_FILE} in the model folder")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:
        raise ModelError(f"{path}: unreadable model file ({type(exc).__name__}: {exc})") from None
    refused = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
    if refused:
        raise ModelError(f"{path}: refusing to load untrusted types: {', '.join(refused[:5])}")
    try:
        return sio.load(path, trusted=untrusted)
    except Exception as exc:
        raise ModelError(f"{path}: cannot load model ({type(exc).__name__}: {exc})") from None


def write_meta(folder: Path, meta: dict, config: dict, metrics: dict, card: str) -> None:
    meta = {**meta, "versions": library_versions(), "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    (folder / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
    (folder / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    (folder / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2), encoding="utf-8")
    (folder / "MODEL_CARD.md").write_text(card, encoding="utf-8")


def read_meta(folder: Path) -> dict:
    path = Path(folder) / "meta.json"
    if not path.is_file():
        raise ModelError(f"{folder}: not a model folder (no meta.json)")
    meta = json.loads(path.read_text(encoding="utf-8"))
    current = library_versions()
    unused = {"torch", "transformers"} if meta.get("backend") != "transformer" else set()  # a sklearn model never loads them
    changed = {k: (v, current.get(k)) for k, v in meta.get("versions", {}).items()
               if k in current and current[k] != v and k not in unused}
    if changed:
        listing = ", ".join(f"{k} {old} → {new}" for k, (old, new) in changed.items())
        warnings.warn(f"{folder}: model written with other library versions ({listing})", stacklevel=2)
    return meta


def read_metrics_and_card(folder: Path) -> tuple[dict, str]:
    """metrics.json and MODEL_CARD.md as write_meta wrote them ({} and "" where absent), for
    tools that list models (the review app's register-model)."""
    folder = Path(folder)
    metrics_path, card_path = folder / "metrics.json", folder / "MODEL_CARD.md"
    metrics = json.loads(metrics_path.read_text(encoding="utf-8")) if metrics_path.is_file() else {}
    card = card_path.read_text(encoding="utf-8", errors="replace") if card_path.is_file() else ""
    return metrics, card


def save_corpus(folder: Path, corpus) -> None:
    frame = pd.DataFrame(
        [(name, value, n, corpus.documents.get((name, value), 0)) for (name, value), n in corpus.projects.items()],
        columns=["name", "value", "projects", "documents"],
    )
    frame.to_parquet(folder / "corpus.parquet", index=False)


def load_corpus(folder: Path):
    from ..rules import CorpusStats

    path = Path(folder) / "corpus.parquet"
    if not path.is_file():
        return CorpusStats({}, {})
    frame = pd.read_parquet(path)
    keys = list(zip(frame["name"], frame["value"]))
    return CorpusStats(dict(zip(keys, frame["projects"])), dict(zip(keys, frame["documents"])))
