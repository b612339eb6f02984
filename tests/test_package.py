"""The package stands on its own: nothing in budgetnlp/ reaches into the checkout, the default model,
its config and the rows it was trained on ship inside the package, a copy of the package alone
scores the samples exactly as the checkout does, and a default that cannot be loaded is never
retrained behind the user's back: the error names ``budgetnlp model rebuild``, which writes to a
user folder (never the package) that ``--model default`` then prefers while it stays current."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest

from budgetnlp import models as models_module
from budgetnlp import training
from budgetnlp.cli import main
from budgetnlp.dataset import data_hash
from budgetnlp.errors import ModelError
from budgetnlp.models import load_model, resolve_model_path, user_models_dir
from budgetnlp.models._artifact import MODEL_FILE
from budgetnlp.schema import FLAGS

from .helpers import ROOT, SAMPLES

PACKAGE = ROOT / "budgetnlp"
SHIPPED_DEFAULT = models_module.SHIPPED_MODELS / "default"


# ---------------------------------------------------------------- no path outside the package
def escapes(source: str, depth: int) -> list[str]:
    """Expressions of a module ``depth`` folders below the package root that climb from
    ``__file__`` above that root: ``Path(__file__).parents[k]`` with k > depth, k+1 ``.parent``
    steps, k+1 nested ``os.path.dirname`` calls, or a ``".."`` literal."""
    found = []

    def on_file(node) -> bool:
        return any(isinstance(n, ast.Name) and n.id == "__file__" for n in ast.walk(node))

    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "parents"
                and on_file(node.value)):
            index = node.slice.value if isinstance(node.slice, ast.Constant) else None
            if not isinstance(index, int) or index > depth:
                found.append(ast.unparse(node))
        elif isinstance(node, ast.Attribute) and node.attr == "parent" and on_file(node):
            steps, inner = 0, node
            while isinstance(inner, ast.Attribute) and inner.attr == "parent":
                steps, inner = steps + 1, inner.value
            if steps - 1 > depth:
                found.append(ast.unparse(node))
        elif isinstance(node, ast.Call) and ast.unparse(node.func) in ("os.path.dirname", "dirname") and on_file(node):
            steps, inner = 0, node
            while isinstance(inner, ast.Call) and ast.unparse(inner.func) in ("os.path.dirname", "dirname"):
                steps, inner = steps + 1, inner.args[0] if inner.args else None
            if steps - 1 > depth:
                found.append(ast.unparse(node))
        elif isinstance(node, ast.Constant) and node.value == "..":
            found.append('".."')
    return found


@pytest.mark.parametrize("source, depth, bad", [
    ("Path(__file__).resolve().parents[1]", 0, True),
    ("Path(__file__).resolve().parents[0]", 0, False),
    ("Path(__file__).resolve().parents[1]", 1, False),
    ("Path(__file__).resolve().parents[2] / 'models'", 1, True),
    ("Path(__file__).parent / 'resources'", 0, False),
    ("Path(__file__).parent.parent / 'data'", 0, True),
    ("Path(__file__).parent.parent / 'resources'", 1, False),
    ("os.path.dirname(os.path.dirname(__file__))", 0, True),
    ("os.path.dirname(__file__)", 0, False),
    ("Path(__file__).parents[n]", 3, True),
    ("Path(here) / '..' / 'data'", 0, True),
    ("Path('data') / 'samples'", 0, False),
])
def test_the_escape_scan_on_generated_variations(source, depth, bad):
    assert bool(escapes(source, depth)) is bad, source


def test_no_module_reaches_outside_the_package():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        depth = len(path.relative_to(PACKAGE).parts) - 1
        offenders += [f"{path.relative_to(ROOT)}: {hit}" for hit in escapes(path.read_text(encoding="utf-8"), depth)]
    assert offenders == []


# ---------------------------------------------------------------- what ships
def test_the_default_model_config_and_rebuild_rows_ship_inside_the_package():
    for path in (SHIPPED_DEFAULT, training.DEFAULT_CONFIG, training.DEFAULT_DATASET):
        assert PACKAGE in path.resolve().parents, path
    assert {"model.skops", "config.yaml", "metrics.json", "corpus.parquet", "meta.json", "MODEL_CARD.md"} <= {
        p.name for p in SHIPPED_DEFAULT.iterdir()}
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    for shipped in (SHIPPED_DEFAULT / MODEL_FILE, training.DEFAULT_CONFIG, training.DEFAULT_DATASET):
        pattern = shipped.relative_to(PACKAGE).parent.as_posix() + "/*"
        assert f'"{pattern}"' in pyproject, f"{pattern} is not package data"


def test_the_shipped_rows_are_the_data_the_shipped_model_was_trained_on(frame):
    """data/ → the shipped rows → the shipped model: one data hash (else rerun training/refresh_default.py)."""
    shipped = pd.read_parquet(training.DEFAULT_DATASET)
    meta = json.loads((SHIPPED_DEFAULT / "meta.json").read_text(encoding="utf-8"))
    assert data_hash(shipped) == data_hash(frame) == meta["data_hash"]


# ---------------------------------------------------------------- a copy of the package alone
def _copy_package(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    shutil.copytree(PACKAGE, site / "budgetnlp", ignore=shutil.ignore_patterns("__pycache__"))
    return site


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _run_copy(site: Path, cwd: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    """The ``budgetnlp`` command of the copied package, run from ``cwd`` with the checkout off the
    path (PYTHONPATH puts the copy ahead of the editable install) and an empty home."""
    code = ("import sys, budgetnlp; assert budgetnlp.__file__.startswith(sys.argv[1]), budgetnlp.__file__; "
            "sys.argv = ['budgetnlp', *sys.argv[2:]]; from budgetnlp.cli import main; main()")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUDGETNLP_")}
    env.update(PYTHONPATH=str(site), HOME=str(home), XDG_DATA_HOME=str(home / "share"), BUDGETNLP_CACHE=str(home / "cache"))
    return subprocess.run([sys.executable, "-c", code, str(site), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, encoding="utf-8", timeout=300)


def _scored(out: Path) -> pd.DataFrame:
    frame = pd.read_parquet(out / "scored.parquet")
    columns = ["doc_id", "row_id", "name", "value", "model", "risk", "reasons", *FLAGS, *(f"p_{f}" for f in FLAGS)]
    return frame[columns].sort_values("row_id").reset_index(drop=True).astype(str)


def test_a_copy_of_the_package_alone_scores_the_samples_as_the_checkout_does(tmp_path):
    from budgetnlp.scoring import score

    site = _copy_package(tmp_path)
    before = _digest(site)
    inputs, empty, home = tmp_path / "inputs", tmp_path / "empty", tmp_path / "home"
    shutil.copytree(SAMPLES, inputs)
    empty.mkdir()
    home.mkdir()
    result = _run_copy(site, empty, home, "score", str(inputs), "-o", str(tmp_path / "out"), "--no-cache")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "rebuild" not in result.stderr
    score([SAMPLES], tmp_path / "checkout", cache=False)
    copied, checkout = _scored(tmp_path / "out"), _scored(tmp_path / "checkout")
    assert len(copied) == len(checkout) == 278
    pd.testing.assert_frame_equal(copied, checkout)
    assert list(empty.iterdir()) == [] and _digest(site) == before  # nothing written beside or into the package


# ---------------------------------------------------------------- no silent retraining
def _cli(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """``budgetnlp ARGS`` in this process, through the console entry point (one-line errors)."""
    monkeypatch.setattr(sys, "argv", ["budgetnlp", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    return exited.value.code, captured.out + captured.err


@pytest.fixture
def broken_shipped(tmp_path, monkeypatch) -> Path:
    """The shipped models replaced by a copy whose model file is garbage; the user folder empty."""
    shipped = tmp_path / "package" / "models"
    shutil.copytree(SHIPPED_DEFAULT, shipped / "default")
    (shipped / "default" / MODEL_FILE).write_bytes(b"garbage")
    monkeypatch.setattr(models_module, "SHIPPED_MODELS", shipped)
    monkeypatch.setenv("BUDGETNLP_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BUDGETNLP_MODELS", raising=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)  # no ./models here
    return shipped / "default"


def test_a_broken_default_is_not_retrained_and_the_error_names_the_rebuild_command(broken_shipped, tmp_path,
                                                                                   monkeypatch, capsys):
    before = _digest(broken_shipped)
    with pytest.raises(ModelError) as caught:
        load_model("default")
    message = str(caught.value)
    assert MODEL_FILE in message and "budgetnlp model rebuild" in message and str(user_models_dir() / "default") in message
    code, output = _cli(monkeypatch, capsys, "score", str(SAMPLES), "-o", str(tmp_path / "out"), "--no-cache")
    assert code == 1 and "budgetnlp model rebuild" in output and MODEL_FILE in output
    assert "Traceback" not in output and "rebuilding" not in output
    assert _digest(broken_shipped) == before and not (tmp_path / "home").exists()  # nothing retrained, anywhere


def test_model_rebuild_writes_the_user_folder_which_default_then_prefers(broken_shipped, tmp_path, rows,
                                                                          monkeypatch, capsys):
    before = _digest(broken_shipped)
    code, output = _cli(monkeypatch, capsys, "model", "rebuild", "--no-cv")
    assert code == 0, output
    rebuilt = tmp_path / "home" / "models" / "default"
    assert (rebuilt / MODEL_FILE).is_file() and _digest(broken_shipped) == before
    assert resolve_model_path("default") == rebuilt
    model = load_model("default")
    assert model.folder == rebuilt
    assert model.meta["data_hash"] == json.loads((broken_shipped / "meta.json").read_text(encoding="utf-8"))["data_hash"]
    # the rebuild is the shipped model again: same rows, same config, same decisions
    shipped = load_model(SHIPPED_DEFAULT)
    ours, theirs = model.predict(rows), shipped.predict(rows)
    for flag in FLAGS:
        assert (ours[flag] == theirs[flag]).all()
        assert (ours[f"p_{flag}"] - theirs[f"p_{flag}"]).abs().max() < 1e-6
    code, output = _cli(monkeypatch, capsys, "score", str(SAMPLES), "-o", str(tmp_path / "out"), "--no-cache")
    assert code == 0, output
    assert len(pd.read_parquet(tmp_path / "out" / "scored.parquet")) == 278


def test_a_stale_or_broken_user_rebuild_gives_way_to_the_shipped_default(tmp_path, monkeypatch):
    monkeypatch.setenv("BUDGETNLP_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BUDGETNLP_MODELS", raising=False)
    monkeypatch.chdir(tmp_path)
    rebuilt = user_models_dir() / "default"
    shutil.copytree(SHIPPED_DEFAULT, rebuilt)
    assert load_model("default").folder == rebuilt  # current (same data hash) and loadable: preferred
    meta = json.loads((rebuilt / "meta.json").read_text(encoding="utf-8"))
    (rebuilt / "meta.json").write_text(json.dumps({**meta, "data_hash": "0" * 16}), encoding="utf-8")
    assert load_model("default").folder == SHIPPED_DEFAULT  # rebuilt from other data: a newer package wins
    (rebuilt / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    (rebuilt / MODEL_FILE).write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="using the model shipped with the package"):
        assert load_model("default").folder == SHIPPED_DEFAULT  # present but unloadable


def test_rebuild_never_writes_into_the_package(monkeypatch, capsys):
    for inside in (SHIPPED_DEFAULT, models_module.SHIPPED_MODELS / "other", SHIPPED_DEFAULT.parents[2] / "x"):
        with pytest.raises(ModelError, match="package"):
            training.rebuild_default_model(inside, cv=False)
    code, output = _cli(monkeypatch, capsys, "model", "rebuild", "-o", str(SHIPPED_DEFAULT))
    assert code == 1 and "package" in output and "Traceback" not in output


def test_user_folder_follows_budgetnlp_home_then_xdg(tmp_path, monkeypatch):
    monkeypatch.setenv("BUDGETNLP_HOME", str(tmp_path / "bh"))
    assert user_models_dir() == tmp_path / "bh" / "models"
    monkeypatch.delenv("BUDGETNLP_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert user_models_dir() == tmp_path / "xdg" / "budgetnlp" / "models"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    assert user_models_dir() == tmp_path / "h" / ".local" / "share" / "budgetnlp" / "models"


@pytest.mark.parametrize("backend, changed, named", [
    ("sklearn", {"torch": "0.0.1", "transformers": "0.0.1"}, []),
    ("sklearn", {"torch": "0.0.1", "scikit-learn": "0.0.1"}, ["scikit-learn"]),
    ("transformer", {"torch": "0.0.1", "transformers": "0.0.2"}, ["torch", "transformers"]),
])
def test_the_version_warning_names_only_libraries_the_backend_uses(tmp_path, backend, changed, named):
    from budgetnlp.models._artifact import library_versions, read_meta

    installed = library_versions()
    changed = {k: v for k, v in changed.items() if k in installed}  # a library not installed here cannot differ
    named = [k for k in named if k in changed]
    (tmp_path / "meta.json").write_text(json.dumps({"backend": backend, "versions": {**installed, **changed}}), encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read_meta(tmp_path)
    said = " ".join(str(w.message) for w in caught)
    assert bool(said) is bool(named), said
    for library in changed:
        assert (f"{library} 0.0" in said) is (library in named), (library, said)


def test_a_name_is_looked_up_in_budgetnlp_models_then_the_working_folder(tmp_path, monkeypatch):
    """The checkout keeps working: `budgetnlp train -o models/NAME` then `--model NAME` from its root."""
    monkeypatch.setenv("BUDGETNLP_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BUDGETNLP_MODELS", raising=False)
    monkeypatch.chdir(tmp_path)
    shutil.copytree(SHIPPED_DEFAULT, tmp_path / "models" / "mine")
    assert resolve_model_path("mine") == tmp_path / "models" / "mine"
    assert load_model("mine").folder == tmp_path / "models" / "mine"
    shutil.copytree(SHIPPED_DEFAULT, tmp_path / "env" / "mine")
    monkeypatch.setenv("BUDGETNLP_MODELS", str(tmp_path / "env"))
    assert resolve_model_path("mine") == tmp_path / "env" / "mine"
    with pytest.raises(ModelError, match=r"models/nosuch: not a model folder"):
        load_model("nosuch")
