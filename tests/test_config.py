"""TrainConfig all the way down, and the model folder read in one place.

- a config file is checked at the door: an unknown option, a value out of range or of the wrong
  type is one ConfigError naming the file and the option (the CLI prints it as one line);
- the dataclass defaults are the shipped default_config.yaml, field by field;
- the backends and Model hold the TrainConfig itself (no dict, no second set of defaults), and a
  saved model folder gives it back on load (older folders: defaults for what they lack);
- the model folder's file names live in models/_artifact.py, which alone reads and writes them.
"""

from __future__ import annotations

import ast
import json
import pickle
import re
import shutil
import sys
import warnings
from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from budgetnlp.cli import main
from budgetnlp.config import OPTIONS, TrainConfig, config_from_dict, load_config
from budgetnlp.errors import ConfigError, InputError, ModelError
from budgetnlp.models import SHIPPED_MODELS, _artifact, _backend, fit_model, load_model, save_model
from budgetnlp.models.sklearn_backend import SklearnBackend
from budgetnlp.schema import FLAGS
from budgetnlp.training import DEFAULT_CONFIG, DEFAULT_DATASET

PACKAGE = Path(__file__).resolve().parents[1] / "budgetnlp"


def _yaml(tmp_path: Path, text: str, name: str = "x.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- defaults
def test_the_dataclass_defaults_are_the_shipped_yaml_field_by_field():
    """Every option is written in default_config.yaml with the dataclass's default: the two cannot drift."""
    shipped = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    defaults = TrainConfig().to_dict()
    assert set(shipped) == set(defaults) == set(OPTIONS)  # every option written, none unknown
    for name in OPTIONS:
        assert shipped[name] == defaults[name], name
        assert type(shipped[name]) is type(defaults[name]), name
    assert load_config(DEFAULT_CONFIG) == TrainConfig()


def test_the_shipped_model_loads_with_the_default_config():
    """Its config.yaml predates some options: those take their defaults, which are the behaviour it was trained with."""
    model = load_model(SHIPPED_MODELS / "default")
    assert isinstance(model.config, TrainConfig) and model.backend.config is model.config
    assert model.config == TrainConfig()
    assert model.config.metric_type_override == 0.99  # not the 0.95 the old dict fallback said
    assert model.config.risk_weights == {"vague": 1.0, "boilerplate": 0.6, "category_mismatch": 0.8, "unmeasurable": 1.2}


# ---------------------------------------------------------------- refused at the door
#: (YAML text, the option it names, a phrase of the message): values out of range, then wrong types
BAD_VALUES = [
    ("c: -1\n", "c", "must be positive"),
    ("c: 0\n", "c", "must be positive"),
    ("category_c: 0\n", "category_c", "must be positive"),
    ("type_c_scale: -5\n", "type_c_scale", "must be positive"),
    ("learning_rate: 0\n", "learning_rate", "must be positive"),
    ("calibration_folds: 1\n", "calibration_folds", "at least 2"),
    ("threshold_folds: 0\n", "threshold_folds", "at least 2"),
    ("category_folds: 1\n", "category_folds", "at least 2"),
    ("epochs: 0\n", "epochs", "a positive whole number"),
    ("batch_size: -16\n", "batch_size", "a positive whole number"),
    ("max_length: 0\n", "max_length", "a positive whole number"),
    ("flag_max_iter: 0\n", "flag_max_iter", "a positive whole number"),
    ("min_df: 0\n", "min_df", "a positive whole number"),
    ("text_weight: -0.1\n", "text_weight", "zero or positive"),
    ("threshold_margin: -0.01\n", "threshold_margin", "zero or positive"),
    ("explain_tokens: -1\n", "explain_tokens", "zero or positive"),
    ("metric_type_override: 0.2\n", "metric_type_override", "in [0.5, 1]"),
    ("group_weight_power: 2\n", "group_weight_power", "in [0, 1]"),
    ("validation_fraction: 1.0\n", "validation_fraction", "in (0, 1)"),
    ("warmup_fraction: 1.5\n", "warmup_fraction", "in [0, 1)"),
    ("seed: -1\n", "seed", "[0, 2**32)"),
    ("backend: xgboost\n", "backend", "'sklearn' or 'transformer'"),
    ("calibration: platt\n", "calibration", "'sigmoid' or 'isotonic'"),
    ("flag_solver: adam\n", "flag_solver", "'liblinear'"),
    ("char_ngrams: [3, 1]\n", "char_ngrams", "1 ≤ low ≤ high"),
    ("category_ngrams: [0, 2]\n", "category_ngrams", "1 ≤ low ≤ high"),
    ("threshold_grid: [0.5, 1.5]\n", "threshold_grid", "in (0, 1)"),
    ("threshold_grid: []\n", "threshold_grid", "non-empty"),
    ("flag_inputs: [votes, words]\n", "flag_inputs", "votes, rules, dense"),
    ("risk_weights: {vague: 1.0}\n", "risk_weights", "each of vague, boilerplate"),
    ("risk_weights: {vague: 1, boilerplate: 1, category_mismatch: 1, unmeasurable: -1}\n", "risk_weights", "≥ 0"),
    ("risk_weights: {vague: 0, boilerplate: 0, category_mismatch: 0, unmeasurable: 0}\n", "risk_weights", "not all 0"),
    ("risk_weights: {vague: 1, boilerplate: 1, category_mismatch: 1, unmeasurable: 1, other: 1}\n", "risk_weights", "each of"),
    ("c: abc\n", "c", "must be a number, not 'abc'"),
    ("c: [3]\n", "c", "must be a number"),
    ("c: true\n", "c", "must be a number, not True"),  # YAML's yes/true is no number
    ("text_weight: .nan\n", "text_weight", "a finite number"),
    ("learning_rate: 5e-5\n", "learning_rate", "write 5.0e-5"),  # YAML 1.1 reads this as text
    ("epochs: 2.5\n", "epochs", "a whole number, not 2.5"),
    ("seed: '0'\n", "seed", "a whole number, not '0'"),
    ("calibration_grouped: 'yes'\n", "calibration_grouped", "true or false"),
    ("backend: 1\n", "backend", "must be text"),
    ("flag_inputs: votes\n", "flag_inputs", "a list of names"),
    ("threshold_grid: [0.5, high]\n", "threshold_grid", "a list of numbers"),
    ("char_ngrams: [1]\n", "char_ngrams", "two whole numbers"),
    ("char_ngrams: [1, 2.5]\n", "char_ngrams", "two whole numbers"),
    ("risk_weights: [1, 1, 1, 1]\n", "risk_weights", "a mapping of names to numbers"),
    ("risk_weights: {vague: high, boilerplate: 1, category_mismatch: 1, unmeasurable: 1}\n", "risk_weights", "numbers"),
]


@pytest.mark.parametrize(("text", "key", "phrase"), BAD_VALUES)
def test_bad_values_are_refused_naming_the_file_and_the_option(tmp_path, text, key, phrase):
    path = _yaml(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: {key} must "), message
    assert phrase in message and "\n" not in message
    assert raised.value.key == key


def test_unknown_options_are_refused_naming_the_file_and_a_near_option(tmp_path):
    path = _yaml(tmp_path, "cc: 3\nlearning_rat: 0.1\ncolour: red\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(raised.value) == (f"{path}: unknown config option(s): cc (did you mean c?), colour, "
                                 "learning_rat (did you mean learning_rate?)")


def test_a_bad_command_line_option_is_named_as_such(tmp_path):
    path = _yaml(tmp_path, "c: 2.0\n")
    with pytest.raises(ConfigError, match=r"^command line: backend must be 'sklearn' or 'transformer', not 'bert'$"):
        load_config(path, backend="bert")
    with pytest.raises(ConfigError, match=r"^command line: unknown config option\(s\): colour$"):
        load_config(path, colour="red")
    other = _yaml(tmp_path, "c: -2\n", "y.yaml")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(other))}: c must be positive"):  # the file's value: its name
        load_config(other, backend="transformer")


def test_the_dataclass_checks_without_a_file():
    with pytest.raises(ConfigError, match=r"^c must be positive, not -1\.0$"):
        TrainConfig(c=-1)
    with pytest.raises(ConfigError, match=r"^epochs must be a whole number, not '3'$"):
        TrainConfig(epochs="3")
    config = TrainConfig(c=2, char_ngrams=[1, 2], threshold_grid=(0.3, 0.5))  # ints for floats, lists for tuples
    assert config.c == 2.0 and isinstance(config.c, float)
    assert config.char_ngrams == (1, 2) and config.threshold_grid == [0.3, 0.5]


def test_the_cli_prints_one_line_naming_the_file_and_the_option(tmp_path, monkeypatch, capsys):
    for text, expected in (("c: -1\n", "c must be positive, not -1.0"),
                           ("cc: 3\n", "unknown config option(s): cc (did you mean c?)"),
                           ("c: abc\n", "c must be a number, not 'abc'")):
        path = _yaml(tmp_path, text)
        monkeypatch.setattr(sys, "argv", ["budgetnlp", "train", "--config", str(path), "--out", str(tmp_path / "m"),
                                          "--data", str(tmp_path / "nodata")])
        with pytest.raises(SystemExit) as exited:
            main()
        captured = capsys.readouterr()
        assert exited.value.code == 1
        assert captured.err == f"budgetnlp: {path}: {expected}\n"  # one line, no traceback
        assert not (tmp_path / "m").exists()


def test_the_cli_runner_sees_the_config_error(tmp_path):
    from typer.testing import CliRunner

    from budgetnlp.cli import app

    path = _yaml(tmp_path, "threshold_folds: 1\n")
    result = CliRunner().invoke(app, ["train", "--config", str(path), "--out", str(tmp_path / "m"), "--data", str(tmp_path)])
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigError)
    assert str(result.exception) == f"{path}: threshold_folds must be at least 2, not 1"


# ---------------------------------------------------------------- the config travels as itself
@pytest.fixture(scope="module")
def small_frame() -> pd.DataFrame:
    """Six sources of the shipped training rows (~60 rows): quick to fit, every flag present."""
    frame = pd.read_parquet(DEFAULT_DATASET)
    return frame[frame["group"].isin(["5392e01061708a9b", "L01", "L04", "L08", "L09", "L11"])].reset_index(drop=True)


@pytest.fixture(scope="module")
def tuned() -> TrainConfig:
    """Non-default values of options read at fit and at predict time."""
    return TrainConfig(explain_tokens=2, metric_type_override=0.97, type_max_iter=2500, category_folds=3,
                       risk_weights={"vague": 2.0, "boilerplate": 1.0, "category_mismatch": 0.5, "unmeasurable": 1.5})


@pytest.fixture(scope="module")
def saved(small_frame, tuned, tmp_path_factory):
    model = fit_model(small_frame, tuned, name="small")
    return save_model(model, tmp_path_factory.mktemp("models") / "small", metrics={}, meta={"data_hash": "test"}, card="# card")


@pytest.mark.parametrize("backend", ["sklearn", "transformer"])
def test_a_backend_receives_the_trainconfig_itself(backend):
    if backend == "transformer":
        pytest.importorskip("torch")
    config = TrainConfig(backend=backend)
    made = _backend(config)
    assert made.config is config
    with pytest.raises(TypeError, match="takes a TrainConfig, not dict"):
        type(made)(config.to_dict())


def test_a_fitted_model_and_its_backend_hold_one_trainconfig(saved, tuned):
    assert saved.config is saved.backend.config and saved.config == tuned
    category = saved.backend.category_model_.steps[-1][1]  # the tuning values reached the estimators
    assert category.C == tuned.category_c and category.max_iter == tuned.category_max_iter
    assert saved.backend.metric_model_.max_iter == 2500 and saved.backend.metric_model_.C == tuned.c * tuned.type_c_scale


def test_a_saved_model_gives_back_its_trainconfig(saved, small_frame, tuned):
    assert yaml.safe_load((saved.folder / _artifact.CONFIG_FILE).read_text(encoding="utf-8")) == tuned.to_dict()
    loaded = load_model(saved.folder)
    assert isinstance(loaded.config, TrainConfig) and loaded.config == tuned
    assert loaded.backend.config is loaded.config
    ours, theirs = saved.predict(small_frame), loaded.predict(small_frame)
    pd.testing.assert_frame_equal(ours, theirs)
    weights = tuned.risk_weights  # predict-time options come from the config, not from a fallback
    expected = sum(ours[f"p_{f}"] * weights[f] for f in FLAGS) / sum(weights.values())
    assert np.allclose(ours["risk"], expected, atol=1e-3)
    assert max(len(r) for r in ours["reasons"]) >= 1


def test_the_model_file_holds_the_config_as_plain_data(saved, tuned):
    """The persistence boundary: no budgetnlp.config type inside model.skops; rebuilt on load."""
    import skops.io as sio

    untrusted = sio.get_untrusted_types(file=saved.folder / _artifact.MODEL_FILE)
    assert not [t for t in untrusted if t.startswith("budgetnlp.config")], untrusted
    alone = _artifact.load_estimator(saved.folder)
    assert isinstance(alone, SklearnBackend) and alone.config == tuned
    assert pickle.loads(pickle.dumps(saved.backend)).config == tuned  # Dask and spawned workers pickle it


def _copy(saved, tmp_path: Path) -> Path:
    folder = tmp_path / "copy"
    shutil.copytree(saved.folder, folder)
    return folder


def _edit_config(folder: Path, edit) -> None:
    path = folder / _artifact.CONFIG_FILE
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def test_an_older_folder_gets_the_defaults_of_options_it_lacks(saved, tmp_path, small_frame):
    folder = _copy(saved, tmp_path)
    newer = ("flag_solver", "type_max_iter", "category_folds", "validation_fraction")
    _edit_config(folder, lambda data: [data.pop(k) for k in newer])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = load_model(folder)
    assert all(getattr(loaded.config, k) == getattr(TrainConfig(), k) for k in newer)
    assert loaded.config.explain_tokens == 2  # what it does say is kept


def test_an_unknown_option_in_a_folder_is_ignored_with_a_warning_naming_it(saved, tmp_path, small_frame):
    folder = _copy(saved, tmp_path)
    _edit_config(folder, lambda data: data.update(dropout=0.3))
    with pytest.warns(UserWarning, match=r"copy/config\.yaml: ignoring unknown config option\(s\): dropout"):
        loaded = load_model(folder)
    pd.testing.assert_frame_equal(loaded.predict(small_frame), saved.predict(small_frame))


@pytest.mark.parametrize(("edit", "message"), [
    (lambda data: data.update(explain_tokens=-1), r"copy/config\.yaml: explain_tokens must be zero or positive"),
    (lambda data: data.update(risk_weights={"vague": 1}), r"copy/config\.yaml: risk_weights must"),
])
def test_a_bad_value_in_a_folder_is_a_model_error_naming_the_file_and_the_option(saved, tmp_path, edit, message):
    folder = _copy(saved, tmp_path)
    _edit_config(folder, edit)
    with pytest.raises(ModelError, match=message):
        load_model(folder)


def test_a_broken_config_yaml_is_a_model_error(saved, tmp_path):
    folder = _copy(saved, tmp_path)
    (folder / _artifact.CONFIG_FILE).write_text("c: [unclosed\n", encoding="utf-8")
    with pytest.raises(ModelError, match=r"config\.yaml: not valid YAML"):
        load_model(folder)
    (folder / _artifact.CONFIG_FILE).write_text("- a list\n", encoding="utf-8")
    with pytest.raises(ModelError, match=r"config\.yaml: expected a mapping"):
        load_model(folder)


def test_config_from_dict_policies():
    with pytest.raises(ConfigError, match="^m/config.yaml: unknown config option"):
        config_from_dict({"dropout": 1}, "m/config.yaml")
    with pytest.warns(UserWarning, match="ignoring unknown"):
        assert config_from_dict({"dropout": 1}, "m", unknown="warn") == TrainConfig()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert config_from_dict({"dropout": 1, "c": 2}, unknown="ignore").c == 2.0
    with pytest.raises(ConfigError, match="expected a mapping"):
        config_from_dict([1, 2], "m")


# ---------------------------------------------------------------- the model folder, read in one place
def test_read_meta_errors_name_the_file(tmp_path):
    with pytest.raises(ModelError, match="not a model folder"):
        _artifact.read_meta(tmp_path)
    (tmp_path / _artifact.META_FILE).write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError, match=r"meta\.json: not valid JSON"):
        _artifact.read_meta(tmp_path)
    (tmp_path / _artifact.META_FILE).write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ModelError, match=r"meta\.json: must hold a JSON object"):
        _artifact.read_meta(tmp_path)
    assert _artifact.read_metrics(tmp_path) == {} and _artifact.read_card(tmp_path) == ""
    with pytest.raises(ModelError, match=r"metrics\.json: missing"):
        _artifact.read_metrics(tmp_path, required=True)
    (tmp_path / _artifact.METRICS_FILE).write_text("{", encoding="utf-8")
    with pytest.raises(ModelError, match=r"metrics\.json: not valid JSON"):
        _artifact.read_metrics(tmp_path)


def test_the_review_app_reads_the_folder_through_the_same_reader(tmp_path):
    from budgetnlp.review.ingest import read_model_folder

    folder = tmp_path / "m"
    shutil.copytree(SHIPPED_MODELS / "default", folder)
    listed = read_model_folder(folder)
    meta = json.loads((folder / _artifact.META_FILE).read_text(encoding="utf-8"))
    assert (listed["name"], listed["version"]) == (meta["name"], meta["version"])
    assert listed["metrics"] == _artifact.read_metrics(folder) and listed["card"].startswith("# Model card")
    (folder / _artifact.META_FILE).write_text("{broken", encoding="utf-8")
    with pytest.raises(InputError) as raised:
        read_model_folder(folder)
    assert raised.value.path == str(folder / _artifact.META_FILE) and "not valid JSON" in raised.value.reason
    (folder / _artifact.METRICS_FILE).write_text("[]", encoding="utf-8")
    with pytest.raises(InputError) as raised:
        read_model_folder(folder, name="n", version="v")
    assert raised.value.path == str(folder / _artifact.METRICS_FILE) and "must hold a JSON object" in raised.value.reason


#: modules that may spell a model folder's file names: the reader and writer itself; dataset.py's
#: meta.json is a dataset folder's own
_MAY_SPELL = {"models/_artifact.py": None, "dataset.py": {"meta.json"}}


def test_only_the_artifact_module_spells_the_model_folder_names():
    names = {getattr(_artifact, n) for n in ("MODEL_FILE", "ENCODER_DIR", "HEADS_FILE", "TRANSFORMER_FILE", "CONFIG_FILE",
                                              "CORPUS_FILE", "META_FILE", "METRICS_FILE", "CARD_FILE")}
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        allowed = _MAY_SPELL.get(relative, set())
        if allowed is None:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in names and node.value not in allowed:
                found.append(f"{relative}:{node.lineno}: {node.value!r}")
    assert not found, found


def test_every_field_has_a_check():
    """A new field of an unchecked type fails here, not in a user's hands."""
    for f in fields(TrainConfig):
        TrainConfig(**{f.name: getattr(TrainConfig(), f.name)})
