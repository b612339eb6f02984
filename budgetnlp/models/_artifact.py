"""A model is a folder: the estimator file (skops, never pickle), its config, metrics,
the training corpus statistics, meta.json (library versions, data hash, row counts) and a
generated MODEL_CARD.md. Loading checks that the file holds only allow-listed types and warns
when it was written by other library versions.

    models/NAME/
      model.skops        MODEL_FILE        the sklearn backend (skops)
      encoder/           ENCODER_DIR       the transformer backend: save_pretrained encoder + tokenizer,
      heads.safetensors  HEADS_FILE          its two heads,
      transformer.json   TRANSFORMER_FILE    its thresholds, label lists, text format
      config.yaml        CONFIG_FILE       the TrainConfig it was trained with
      corpus.parquet     CORPUS_FILE       the training corpus statistics
      meta.json          META_FILE         data hash, row counts, thresholds, library versions
      metrics.json       METRICS_FILE      cross-validated metrics ({} when not computed)
      MODEL_CARD.md      CARD_FILE         the generated model card

The names are written and read here only (the transformer backend imports its three); readers
elsewhere use ``read_meta``, ``read_config``, ``read_metrics`` and ``read_card``."""

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
ENCODER_DIR = "encoder"
HEADS_FILE = "heads.safetensors"
TRANSFORMER_FILE = "transformer.json"
CONFIG_FILE = "config.yaml"
CORPUS_FILE = "corpus.parquet"
META_FILE = "meta.json"
METRICS_FILE = "metrics.json"
CARD_FILE = "MODEL_CARD.md"
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
    if (folder / META_FILE).exists() and not force:
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
    (folder / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
    (folder / CONFIG_FILE).write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    (folder / METRICS_FILE).write_text(json.dumps(metrics, ensure_ascii=False, indent=2), encoding="utf-8")
    (folder / CARD_FILE).write_text(card, encoding="utf-8")


def _read_json_object(path: Path) -> dict:
    """A JSON file holding an object, else ModelError naming the file and what is wrong."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: unreadable ({type(exc).__name__}: {exc})") from None
    except ValueError as exc:
        raise ModelError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: must hold a JSON object, not {type(data).__name__}")
    return data


def read_meta(folder: Path, *, warn_versions: bool = True) -> dict:
    """meta.json of a model folder; ModelError when it is missing ("not a model folder"),
    unreadable or not a JSON object. Warns when the folder was written by other versions of the
    libraries its backend uses (unless ``warn_versions`` is false: listing, not loading)."""
    path = Path(folder) / META_FILE
    if not path.is_file():
        raise ModelError(f"{folder}: not a model folder (no {META_FILE})")
    meta = _read_json_object(path)
    if not warn_versions:
        return meta
    current = library_versions()
    unused = {"torch", "transformers"} if meta.get("backend") != "transformer" else set()  # a sklearn model never loads them
    versions = meta.get("versions") if isinstance(meta.get("versions"), dict) else {}
    changed = {k: (v, current.get(k)) for k, v in versions.items()
               if k in current and current[k] != v and k not in unused}
    if changed:
        listing = ", ".join(f"{k} {old} → {new}" for k, (old, new) in changed.items())
        warnings.warn(f"{folder}: model written with other library versions ({listing})", stacklevel=2)
    return meta


def read_config(folder: Path) -> tuple[dict | None, str]:
    """The folder's config.yaml as a mapping (None when absent) and its path, for naming it in
    errors; ModelError when it is not valid YAML or not a mapping. models turns it into a TrainConfig."""
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        return None, str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: unreadable ({type(exc).__name__}: {exc})") from None
    except yaml.YAMLError as exc:
        raise ModelError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: expected a mapping of options, not {type(data).__name__}")
    return data, str(path)


def read_metrics(folder: Path, *, required: bool = False) -> dict:
    """metrics.json as write_meta wrote it; {} where absent (ModelError if ``required``), ModelError
    when it is not a JSON object."""
    path = Path(folder) / METRICS_FILE
    if not path.is_file():
        if required:
            raise ModelError(f"{path}: missing (written by `budgetnlp train`)")
        return {}
    return _read_json_object(path)


def read_card(folder: Path) -> str:
    """MODEL_CARD.md ("" where absent)."""
    path = Path(folder) / CARD_FILE
    return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""


def read_metrics_and_card(folder: Path) -> tuple[dict, str]:
    """metrics.json and MODEL_CARD.md as write_meta wrote them ({} and "" where absent), for
    tools that list models (the review app's register-model)."""
    return read_metrics(folder), read_card(folder)


def save_corpus(folder: Path, corpus) -> None:
    frame = pd.DataFrame(
        [(name, value, n, corpus.documents.get((name, value), 0)) for (name, value), n in corpus.projects.items()],
        columns=["name", "value", "projects", "documents"],
    )
    frame.to_parquet(folder / CORPUS_FILE, index=False)


def load_corpus(folder: Path):
    from ..corpus import CorpusStats

    path = Path(folder) / CORPUS_FILE
    if not path.is_file():
        return CorpusStats({}, {})
    frame = pd.read_parquet(path)
    keys = list(zip(frame["name"], frame["value"]))
    return CorpusStats(dict(zip(keys, frame["projects"])), dict(zip(keys, frame["documents"])))
