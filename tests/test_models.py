"""Models end to end on the bundled samples: training writes a complete, pickle-free folder; seeded
training is reproducible; loading refuses untrusted or broken files and warns on version changes;
predictions, reasons and suggestions follow DESIGN.md and LABELS.md; grouped cross-validation
holds out whole sources, fits everything inside its folds and reaches the figures the README
quotes; the default model and its rebuild; configs and the train/evaluate commands.

One model is trained per module (``trained``) and reused; so is one cross-validation (``cv``).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import budgetnlp.evaluate as evaluate_module
import budgetnlp.models as models_module
import budgetnlp.training as training_module
from budgetnlp._text import nfkc
from budgetnlp.config import TrainConfig, load_config
from budgetnlp.corpus import CorpusStats, parse_row_value, row_view
from budgetnlp.dataset import data_hash
from budgetnlp.errors import ConfigError, ModelError
from budgetnlp.evaluate import cross_validate, expected_calibration_error, grouped_folds, groups_of, holdout_groups, out_of_fold
from budgetnlp.features import RowFeatures
from budgetnlp.models import Model, load_model, resolve_model_path
from budgetnlp.models._artifact import MODEL_FILE, TRUSTED_PREFIXES, library_versions
from budgetnlp.rules import apply_rules
from budgetnlp.schema import FLAG_LABELS, FLAGS, METRIC_TYPES, ROW_COLUMNS, SCORED_COLUMNS
from budgetnlp.suggest import suggest_rewrite
from budgetnlp.training import DEFAULT_CONFIG, load_with_warnings, train

from .helpers import ROOT

ANNOTATIONS = ROOT / "data" / "annotations"
LABEL_COLUMNS = [*FLAGS, "metric_type", "suggested_metric_type"]
CLI = [sys.executable, "-c", "from budgetnlp.cli import main; main()"]
_CJK = re.compile(r"[\u4e00-\u9fff]")


class Intruder:
    """A type no model file may contain."""

    def __init__(self) -> None:
        self.payload = "not a model"


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def config() -> TrainConfig:
    return load_config(DEFAULT_CONFIG)


@pytest.fixture(scope="module")
def trained(frame, config, tmp_path_factory) -> Model:
    return train(frame, config, tmp_path_factory.mktemp("models") / "m", baselines=False)


@pytest.fixture(scope="module")
def scored(trained, rows) -> pd.DataFrame:
    return trained.predict(rows)


@pytest.fixture(scope="module")
def cv(frame, config) -> dict:
    """The published run: all gold, seeded 8-fold grouped by source, the held-out sources as a line."""
    return cross_validate(frame, config, systems=("model", "rules", "tfidf_lr"), folds=8, holdout=holdout_groups())


@pytest.fixture(scope="module")
def small(frame) -> pd.DataFrame:
    """Two sample documents and six locality sources: enough groups for quick fold tests."""
    groups = groups_of(frame)
    keep = [g for g in dict.fromkeys(groups) if not g.startswith("L")][1:] + ["L01", "L02", "L06", "L07", "L09", "L13"]
    return frame[np.isin(groups, keep)].reset_index(drop=True)


def _copy(trained: Model, tmp_path: Path, name: str = "copy") -> Path:
    folder = tmp_path / name
    shutil.copytree(trained.folder, folder)
    return folder


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


# ---------------------------------------------------------------- the model folder
def test_train_writes_a_complete_folder(trained, frame, config):
    folder = trained.folder
    for name in ("model.skops", "config.yaml", "metrics.json", "meta.json", "MODEL_CARD.md"):
        assert (folder / name).is_file(), name
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    assert meta["data_hash"] == data_hash(frame)
    assert meta["rows_by_label_source"] == {k: int(v) for k, v in frame["label_source"].value_counts().items()}
    assert meta["rows"] == len(frame) == sum(meta["rows_by_label_source"].values())
    assert meta["document_ids"] == sorted(frame["doc_id"].unique()) and len(meta["document_ids"]) == 32
    assert meta["groups"] == 32 and meta["groups_by_kind"] == {"document": 3, "locality": 29}
    assert set(meta["thresholds"]) == set(FLAGS)
    assert all(t in config.threshold_grid or t == 0.5 for t in meta["thresholds"].values())
    assert meta["thresholds"] == trained.thresholds
    for library in ("python", "budgetnlp", "scikit-learn", "numpy", "scipy", "pandas", "jieba", "skops"):
        assert meta["versions"][library] == library_versions()[library]
    assert meta["version"] == trained.version and re.fullmatch(r"[0-9a-f]{12}", trained.version)
    import yaml

    assert yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8")) == config.to_dict()
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    assert set(metrics) == {"scheme", "folds", "groups", "documents", "gold_rows", "model", "lines"}  # baselines=False
    assert set(metrics["lines"]) == {"documents", "localities", "localities (dev)", "localities (holdout)"}
    assert metrics["gold_rows"] == (frame["label_source"] == "gold").sum()

    card = (folder / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert meta["data_hash"] in card
    assert all(f"{source} {count}" in card for source, count in meta["rows_by_label_source"].items())
    assert f"scikit-learn {meta['versions']['scikit-learn']}" in card and f"skops {meta['versions']['skops']}" in card
    assert f"**{metrics['model']['flags']['macro_f1']:.3f}**" in card  # the cross-validated metrics table
    assert "## Known limits" in card and "32 sources" in card
    assert "documents: 32; groups (sources): 32 (document 3, locality 29)" in card
    assert "seeded 8-fold grouped by group" in card and "localities (278 rows" not in card
    assert all(f"{flag} {meta['thresholds'][flag]:.2f}" in card for flag in FLAGS)


def test_no_pickle_anywhere_in_the_folder(trained):
    for path in trained.folder.rglob("*"):
        assert path.suffix not in {".pkl", ".pickle", ".joblib", ".pt", ".pth"}, path
        if path.is_file():
            assert not path.read_bytes().startswith(b"\x80"), f"{path} looks like a pickle"
    assert (trained.folder / MODEL_FILE).read_bytes()[:2] == b"PK"  # skops: a zip of JSON + arrays


def test_existing_folder_needs_force(trained, frame, config, tmp_path, monkeypatch):
    folder = _copy(trained, tmp_path)
    before = _digest(folder)

    def no_training(*args, **kwargs):
        raise AssertionError("train() fitted a model before checking its output folder")

    with monkeypatch.context() as patch:  # refused up front, before any cross-validation or fitting
        patch.setattr(training_module, "fit_model", no_training)
        patch.setattr(training_module, "cross_validate", no_training)
        with pytest.raises(ModelError, match="already exists.*--force"):
            train(frame, config, folder, baselines=False)
    assert _digest(folder) == before

    model = train(frame, config, folder, force=True, cv=False)
    assert json.loads((folder / "metrics.json").read_text(encoding="utf-8")) == {}
    assert "not computed" in (folder / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert load_model(folder).version == model.version


def test_seeded_training_is_reproducible(trained, frame, config, rows, scored, tmp_path):
    again = train(frame, config, tmp_path / "again", baselines=False)
    assert (again.folder / "metrics.json").read_text(encoding="utf-8") == (trained.folder / "metrics.json").read_text(encoding="utf-8")
    assert again.thresholds == trained.thresholds
    rescored = again.predict(rows)
    probabilities = [f"p_{flag}" for flag in FLAGS]
    pd.testing.assert_frame_equal(rescored[probabilities], scored[probabilities], check_exact=True)
    columns = [*FLAGS, "metric_type", "suggested_metric_type", "risk", "reasons", "suggestion"]
    pd.testing.assert_frame_equal(rescored[columns], scored[columns], check_exact=True)


def test_a_saved_model_predicts_like_the_trained_one(trained, rows, scored):
    loaded = load_model(trained.folder)
    assert loaded.version == trained.version and loaded.thresholds == trained.thresholds
    pd.testing.assert_frame_equal(loaded.predict(rows).drop(columns="model"), scored.drop(columns="model"))


def test_precompiled_arithmetic_matches_scikit_learn(trained, rows):
    """predict's whole-width coefficient vectors, softmax type models and direct dense matrix give
    scikit-learn's own probabilities and DictVectorizer's matrix."""
    from budgetnlp.features import RowFeatures
    from budgetnlp.models import _with_row_columns
    from budgetnlp.models.sklearn_backend import _compiled

    backend = trained.backend
    frame = _with_row_columns(rows)
    features = RowFeatures.compute(frame, trained.corpus)
    dense_ours, dense_theirs = backend.builder._dense_matrix(features.dense), backend.builder.dense.transform(features.dense)
    assert (dense_ours != dense_theirs).nnz == 0
    x = backend.matrix(frame, features)
    fast = _compiled(backend, x.shape[1])
    for flag in FLAGS:
        model = backend.flag_models_[flag]
        if not isinstance(model, float):
            np.testing.assert_allclose(fast.flags[flag](x), model.predict_proba(backend._flag_matrix(x, flag))[:, 1], atol=1e-12)
    for model, ours in ((backend.suggested_model_, fast.suggested), (backend.metric_model_, fast.metric)):
        if not isinstance(model, str):
            np.testing.assert_allclose(ours(x), model.predict_proba(x[:, backend.type_columns_]), atol=1e-12)
    evidence = trained.backend.predict(frame, features)["evidence"]
    raised = trained.predict(rows)
    for flag in FLAGS:  # words only where the flag is raised: nothing else is explained
        assert all(bool(words) <= bool(on) for words, on in zip(evidence[flag], raised[flag]))
        assert any(evidence[flag][i] for i in np.flatnonzero(raised[flag].to_numpy())) or not raised[flag].any()


# ---------------------------------------------------------------- loading safely
@pytest.mark.parametrize("intruder", [Intruder, lambda: Path("/etc/passwd")], ids=["test-class", "PosixPath"])
def test_untrusted_types_are_refused(trained, tmp_path, intruder):
    import skops.io as sio

    folder = _copy(trained, tmp_path)
    sio.dump({"backend": intruder(), "weights": np.arange(3)}, folder / MODEL_FILE)
    with pytest.raises(ModelError, match="refusing to load untrusted types") as error:
        load_model(folder)
    assert ("Intruder" in str(error.value)) or ("PosixPath" in str(error.value))


def test_dangerous_builtins_are_refused(trained, tmp_path):
    import skops.io as sio

    folder = _copy(trained, tmp_path)
    sio.dump({"a": eval, "b": __import__}, folder / MODEL_FILE)
    with pytest.raises(ModelError, match="refusing to load untrusted types"):
        load_model(folder)


def test_the_allow_list_covers_what_training_writes(trained):
    import skops.io as sio

    untrusted = sio.get_untrusted_types(file=trained.folder / MODEL_FILE)
    assert untrusted and all(t.startswith(TRUSTED_PREFIXES) for t in untrusted)


@pytest.mark.parametrize("content", [b"garbage, not a zip", b"PK\x03\x04 truncated", b""], ids=["garbage", "truncated-zip", "empty"])
def test_corrupt_model_file(trained, tmp_path, content):
    folder = _copy(trained, tmp_path)
    (folder / MODEL_FILE).write_bytes(content)
    with pytest.raises(ModelError, match="model.skops"):
        load_model(folder)


def test_missing_files(trained, tmp_path):
    folder = _copy(trained, tmp_path)
    (folder / "meta.json").unlink()
    with pytest.raises(ModelError, match="not a model folder"):
        load_model(folder)
    folder = _copy(trained, tmp_path, "no-estimator")
    (folder / MODEL_FILE).unlink()
    with pytest.raises(ModelError, match="no model.skops"):
        load_model(folder)
    with pytest.raises(ModelError, match="not a model folder"):
        load_model(tmp_path / "nowhere")


def test_other_library_versions_warn_on_load(trained, tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_model(trained.folder)
    assert not [w for w in caught if "library versions" in str(w.message)]

    folder = _copy(trained, tmp_path)
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    meta["versions"]["scikit-learn"] = "0.0.1"
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.warns(UserWarning, match=r"other library versions \(scikit-learn 0\.0\.1 → "):
        model = load_model(folder)
    assert model.predict(pd.DataFrame({"name": ["群众满意度"], "value": ["≥90%"]}))["p_vague"].between(0, 1).all()


# ---------------------------------------------------------------- predict
def test_predict_columns(scored, rows):
    expected = ROW_COLUMNS + SCORED_COLUMNS + ["suggestion"]
    assert list(scored.columns[: len(expected)]) == expected
    assert set(scored.columns) == set(expected) | set(rows.columns)  # extra input columns pass through
    assert len(scored) == len(rows)
    assert (scored["row_id"].to_numpy() == rows["row_id"].to_numpy()).all()
    assert set(scored["metric_type"]) <= set(METRIC_TYPES) and set(scored["suggested_metric_type"]) <= set(METRIC_TYPES)
    assert (scored["model"] == scored["model"].iloc[0]).all() and "@" in scored["model"].iloc[0]


def test_flags_follow_probabilities_and_stored_thresholds(trained, scored):
    thresholds = json.loads((trained.folder / "meta.json").read_text(encoding="utf-8"))["thresholds"]
    for flag in FLAGS:
        assert set(scored[flag]) <= {0, 1}
        p = scored[f"p_{flag}"]
        assert p.between(0, 1).all()
        # p_* is rounded to 4 places; the decision was taken on the unrounded probability
        assert (p[scored[flag] == 1] >= thresholds[flag] - 5e-5).all(), flag
        assert (p[scored[flag] == 0] < thresholds[flag] + 5e-5).all(), flag
        assert scored[flag].sum() > 0, f"no row flagged {flag} on the samples"


def test_risk(trained, scored):
    assert scored["risk"].between(0, 1).all()
    weights = trained.config.risk_weights
    expected = sum(scored[f"p_{f}"] * weights[f] for f in FLAGS) / sum(weights.values())
    assert np.allclose(scored["risk"], expected, atol=1e-3)


def test_reasons_are_chinese_and_explain_flags(trained, scored):
    flagged_with_words = flagged = 0
    for record in scored.to_dict("records"):
        reasons = record["reasons"]
        assert isinstance(reasons, list) and all(isinstance(r, str) and _CJK.search(r) for r in reasons)
        text = nfkc(f"{record['name']}{record['value']}{record['description']}")
        for flag in FLAGS:
            lines = [r for r in reasons if r.startswith(f"模型判断为{FLAG_LABELS[flag]}（概率")]
            if not record[flag]:
                assert not lines, (record["name"], flag)
                continue
            assert len(lines) == 1, (record["name"], flag, reasons)
            flagged += 1
            words = re.findall(r"“([^”]+)”", lines[0].partition("主要依据词语：")[2])
            flagged_with_words += bool(words)
            assert len(words) <= trained.config.explain_tokens
            assert all(nfkc(word) in text for word in words), (words, text)  # the row's own words
    assert flagged and flagged_with_words / flagged >= 0.9


def test_reasons_include_the_fired_rules(trained, scored, rows):
    result = apply_rules(models_module._with_row_columns(rows), trained.corpus)
    shown = hidden = 0
    for i, fired in enumerate(result.reasons):
        reasons = scored.at[i, "reasons"]
        for text, flag in fired:
            if flag is None or scored.at[i, flag]:
                assert text in reasons, (scored.at[i, "name"], text)
                shown += 1
            else:  # a rule voted for a flag the model did not raise: its reason is not shown
                assert text not in reasons
                hidden += 1
    assert shown > 100


def test_a_flagged_row_names_words_and_rules(trained):
    row = pd.DataFrame([{
        "name": "对农村经济社会发展的贡献", "description": "对农村经济社会发展的贡献", "value": "成效明显",
        "level1": "效益指标", "level2": "社会效益指标", "project_name": "村干部工资、保险和聘用人员工资",
    }])
    out = trained.predict(row).iloc[0]
    assert out["vague"] == 1 and out["unmeasurable"] == 1
    line = next(r for r in out["reasons"] if r.startswith("模型判断为模糊"))
    assert "主要依据词语：“" in line
    assert any("成效明显" in r and "定性" in r for r in out["reasons"])  # a rule's text, naming the value


def test_rows_with_only_name_and_value(trained):
    out = trained.predict(pd.DataFrame({"name": ["群众满意度", "享受资金人数", "预算控制数"], "value": ["≥90%", "=78人", "年度预算"]}))
    assert list(out.columns) == ROW_COLUMNS + SCORED_COLUMNS + ["suggestion"]
    assert list(out["metric_type"]) == ["percent", "count", "text"]
    assert out["risk"].between(0, 1).all()
    assert out.loc[2, "unmeasurable"] == 1 and out.loc[1, "unmeasurable"] == 0


def test_row_lacking_value_is_refused(trained):
    with pytest.raises(ModelError, match="value"):
        trained.predict(pd.DataFrame({"name": ["群众满意度"]}))
    with pytest.raises(ModelError, match="name"):
        trained.predict(pd.DataFrame({"value": ["≥90%"]}))


def test_empty_and_missing_cells(trained):
    out = trained.predict(pd.DataFrame({"name": ["满意度", None], "value": [None, float("nan")], "level2": [None, "数量指标"]}))
    assert list(out["metric_type"]) == ["empty", "empty"]
    assert (out["unmeasurable"] == 1).all()


def test_metric_type_is_the_parsers_unless_the_model_is_sure(trained, scored, rows):
    override = trained.config.metric_type_override
    frame = models_module._with_row_columns(rows)
    features = RowFeatures.compute(frame, trained.corpus)
    output = trained.backend.predict(frame, features)
    for i, (parsed, model_type, confidence) in enumerate(zip(features.rules.parsed, output["metric"], output["metric_confidence"])):
        expected = model_type if confidence >= override else parsed.metric_type
        assert scored.at[i, "metric_type"] == expected
    assert [p.metric_type for p in features.rules.parsed] == list(scored["metric_type"])  # on the samples: always the parser's


def test_metric_type_override_threshold(trained, monkeypatch):
    """A stub backend whose type model says 'grade' at two confidences: only the one ≥ the override wins."""
    rows = pd.DataFrame({"name": ["群众满意度", "群众满意度"], "value": ["≥90%", "≥90%"]})
    real = trained.backend.predict
    override = trained.config.metric_type_override

    def stub(frame, features):
        out = real(frame, features)
        out["metric"] = ["grade", "grade"]
        out["metric_confidence"] = np.array([override, override - 0.01])
        return out

    monkeypatch.setattr(trained.backend, "predict", stub)
    assert list(trained.predict(rows)["metric_type"]) == ["grade", "percent"]


# ---------------------------------------------------------------- suggestions (LABELS.md)
def test_suggestions(trained):
    rows = pd.DataFrame([
        {"name": "预算控制数", "description": "预算控制数", "value": "年度预算", "basis": "计划标准", "level1": "产出指标",
         "level2": "成本指标", "project_name": "村级道路维修", "project_budget": 500.0, "year": 2023},
        {"name": "及时性", "description": "及时性", "value": "发放及时", "basis": "根据项目需求设定", "level1": "产出指标",
         "level2": "时效指标", "project_name": "春节慰问困难党员", "project_budget": 20.0, "year": 2023},
        {"name": "对农村经济社会发展的贡献", "description": "对农村经济社会发展的贡献", "value": "成效明显", "level1": "效益指标",
         "level2": "社会效益指标", "project_name": "村干部工资、保险和聘用人员工资", "project_budget": 161.93, "year": 2023},
        {"name": "享受资金人数", "description": "享受资金的人数", "value": "=78人", "basis": "工作经验", "level1": "产出指标",
         "level2": "数量指标", "project_name": "村干部工资、保险和聘用人员工资", "project_budget": 161.93, "year": 2023},
    ])
    out = trained.predict(rows)
    budget, timely, effect, fine = out["suggestion"]
    assert budget.startswith("≤500万元"), budget
    assert out.loc[0, "suggested_metric_type"] == "amount"
    assert timely.startswith("2023年12月31日前"), timely
    assert out.loc[1, "suggested_metric_type"] == "time"
    assert all(grade in effect for grade in ("达成", "基本达成", "未达成")) and "对农村经济社会发展的贡献" in effect
    assert out.loc[2, "suggested_metric_type"] == "grade"
    assert fine == "" and not out.loc[3, FLAGS].any()


def _suggest(flags: dict, suggested: str, **record) -> str:
    parsed = parse_row_value(record)
    return suggest_rewrite(row_view(record, parsed, CorpusStats({}, {})), flags, suggested)


def test_suggest_rewrite_without_context():
    assert _suggest({"unmeasurable": 1}, "amount", name="预算控制数", value="年度预算", level2="成本指标").startswith("写明成本上限金额")
    assert _suggest({"unmeasurable": 1}, "time", name="及时性", value="发放及时", level2="时效指标").startswith("写明完成期限")
    assert _suggest({}, "amount", name="预算控制数", value="年度预算", level2="成本指标", project_budget=500) == ""
    # never a guessed number: a doubled figure is shown as a question
    malformed = _suggest({"unmeasurable": 1}, "percent", name="支持全区公务用车数量", value="≥9090%及以上", level2="数量指标")
    assert malformed.startswith("≥90%") and "请核实" in malformed
    generic = _suggest({"boilerplate": 1}, "percent", name="群众满意度", value="≥90%", level2="服务对象满意度指标")
    assert "调查对象" in generic


# ---------------------------------------------------------------- evaluation
def test_ece_known_values():
    y = np.array([1, 0, 0, 0, 1, 1, 0, 0])
    assert expected_calibration_error(y, np.array([0.25] * 4 + [0.5] * 4)) == pytest.approx(0.0)
    assert expected_calibration_error(np.array([0, 1]), np.array([0.0, 1.0])) == pytest.approx(0.0)
    # one row per bin: mean of |y − p| = (0.1 + 0.3 + 0.2 + 0.4) / 4
    assert expected_calibration_error(np.array([1, 1, 0, 0]), np.array([0.9, 0.7, 0.2, 0.4])) == pytest.approx(0.25)
    # five bins; 0.62 and 0.68 share [0.6, 0.8): accuracy 0.5, confidence 0.65
    # → (2·0.15 + 1·0.85 + 1·0.05) / 4 = 0.3
    assert expected_calibration_error(np.array([1, 0, 1, 1]), np.array([0.62, 0.68, 0.15, 0.95]), bins=5) == pytest.approx(0.3)
    assert expected_calibration_error(np.array([1, 0]), np.array([0.0, 1.0])) == pytest.approx(1.0)


def test_cross_validation_figures(cv, frame):
    assert cv["groups"] == 32 and cv["gold_rows"] == (frame["label_source"] == "gold").sum()
    assert cv["folds"] == 8 and "grouped by group" in cv["scheme"]
    kinds = frame["source_kind"].value_counts().to_dict()
    assert {line: cv["lines"][line]["model"]["rows"] for line in ("documents", "localities")} == {
        "documents": kinds["document"], "localities": kinds["locality"]}
    aside = cv["lines"]["localities (holdout)"]["model"]
    assert aside["groups"] == len(holdout_groups()) and cv["lines"]["localities (dev)"]["model"]["groups"] == 29 - aside["groups"]
    for system in ("model", "rules", "tfidf_lr"):
        result = cv[system]
        for flag in FLAGS:
            figures = result["flags"][flag]
            assert {"precision", "recall", "f1", "pr_auc", "ece", "support"} <= set(figures)
            assert all(0 <= figures[k] <= 1 for k in ("precision", "recall", "f1", "pr_auc", "ece"))
            assert figures["support"] == frame[flag].sum()
            lines = cv["lines"]
            assert lines["documents"][system]["flags"][flag]["support"] + lines["localities"][system]["flags"][flag]["support"] == figures["support"]
        assert result["flags"]["macro_f1"] == pytest.approx(np.mean([result["flags"][f]["f1"] for f in FLAGS]))
        for label in ("metric_type", "suggested_metric_type"):
            figures = result[label]
            matrix = np.array(figures["confusion"])
            assert matrix.shape == (len(figures["labels"]),) * 2 and set(figures["labels"]) <= set(METRIC_TYPES)
            assert matrix.sum() == cv["gold_rows"]
            assert figures["accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum())


def test_the_claimed_targets_hold(cv):
    """Issue 11's targets on the grouped cross-validation over all gold (README, model card), as
    far as they are reached."""
    model = cv["model"]
    assert model["flags"]["macro_f1"] >= 0.85
    for flag in FLAGS:
        assert model["flags"][flag]["f1"] >= 0.75, flag
    assert cv["lines"]["localities"]["model"]["flags"]["macro_f1"] >= 0.80
    assert model["metric_type"]["accuracy"] >= 0.98
    assert model["suggested_metric_type"]["accuracy"] >= 0.90
    assert model["flags"]["mean_ece"] <= 0.05
    # issue 11 asks for a 0.10 lead over both baselines; over the rules-only one it is not reached
    # (the model reads the rules' votes, and they reach 0.902): the claim is only "not behind"
    assert model["flags"]["macro_f1"] >= cv["rules"]["flags"]["macro_f1"]
    assert model["flags"]["mean_ece"] < cv["rules"]["flags"]["mean_ece"]
    assert model["flags"]["macro_f1"] >= cv["tfidf_lr"]["flags"]["macro_f1"] + 0.10


def test_published_figures_are_reproduced(cv):
    """evaluation/results/cv_results.json (quoted in README) matches a fresh run of the shipped config."""
    published = json.loads((ROOT / "evaluation" / "results" / "cv_results.json").read_text(encoding="utf-8"))
    stale = "evaluation/results is stale: rerun `budgetnlp evaluate --include-holdout` (and rebuild models/default, README figures)"
    for system in ("model", "rules", "tfidf_lr"):
        for flag in FLAGS:
            assert cv[system]["flags"][flag]["f1"] == pytest.approx(published[system]["flags"][flag]["f1"], abs=1e-6), (system, flag, stale)
        for label in ("metric_type", "suggested_metric_type"):
            assert cv[system][label]["accuracy"] == pytest.approx(published[system][label]["accuracy"], abs=1e-6), (system, label, stale)


@pytest.mark.parametrize("k", [0, 3, 8, 40])
def test_grouped_folds_keep_groups_whole(k):
    """Generated groups of uneven sizes: every group in exactly one fold, seeded, sizes even."""
    rng = np.random.default_rng(k)
    units = np.repeat([f"g{i}" for i in range(25)], rng.integers(1, 30, 25))
    folds = grouped_folds(units, k, seed=0)
    flat = [g for fold in folds for g in fold]
    assert sorted(flat) == sorted(set(units)) and len(flat) == len(set(flat))
    assert len(folds) == (25 if k in (0, 40) else k)
    assert folds == grouped_folds(units, k, seed=0)
    if k == 8:
        sizes = [np.isin(units, fold).sum() for fold in folds]
        assert max(sizes) - min(sizes) <= 30
        assert grouped_folds(units, k, seed=1) != folds


def test_no_group_on_both_sides_of_a_fold(small, config, monkeypatch):
    """Each fold's training rows and held-out rows share no group (nor, by province, a province)."""
    seen = []
    fold_data = evaluate_module._fold_data

    def spy(table, held, cfg, units):
        train, test = fold_data(table, held, cfg, units)
        seen.append((set(groups_of(train)), set(groups_of(test)), set(train["province"]), set(test["province"])))
        return train, test

    monkeypatch.setattr(evaluate_module, "_fold_data", spy)
    truth, pred, n = out_of_fold(small, config, ("rules",), folds=3)
    assert n == 3 and len(seen) == 3 and len(truth) == len(small)
    assert sorted(truth["row_id"]) == sorted(small["row_id"]) and pred["rules"]["row_id"].tolist() == truth["row_id"].tolist()
    for train_groups, test_groups, _, _ in seen:
        assert train_groups and test_groups and not train_groups & test_groups
    seen.clear()
    out_of_fold(small, config, ("rules",), folds=0, by="province")
    for _, _, train_provinces, test_provinces in seen:
        assert len(test_provinces) == 1 and not train_provinces & test_provinces


def test_everything_is_fitted_inside_the_folds(small, config, monkeypatch):
    """Label model (weak labels), training-corpus statistics and classifier see only the training
    groups; the only statistics taken from a held-out group are its own batch's (as scoring does)."""
    mixed = small.copy()
    mixed.loc[mixed.index % 3 == 0, "label_source"] = "weak"  # so the fold refits the label model
    current: list[set] = []
    seen: list[tuple[frozenset, str, frozenset]] = []

    def record(kind, table):
        seen.append((frozenset(current[-1]) if current else frozenset(), kind, frozenset(groups_of(table))))

    fold_data, fit_model, weak_label = evaluate_module._fold_data, models_module.fit_model, evaluate_module.weak_label
    from_rows = CorpusStats.from_rows.__func__

    def fold_data_spy(table, held, cfg, units):
        current.append(set(held))
        return fold_data(table, held, cfg, units)

    def fit_model_spy(table, *args, **kwargs):
        record("fit_model", table)
        return fit_model(table, *args, **kwargs)

    def weak_label_spy(table, *args, **kwargs):
        record("weak_label", table)
        return weak_label(table, *args, **kwargs)

    def from_rows_spy(cls, table):
        record("corpus", table)
        return from_rows(cls, table)

    monkeypatch.setattr(evaluate_module, "_fold_data", fold_data_spy)
    monkeypatch.setattr(models_module, "fit_model", fit_model_spy)
    monkeypatch.setattr(evaluate_module, "weak_label", weak_label_spy)
    monkeypatch.setattr(CorpusStats, "from_rows", classmethod(from_rows_spy))
    result = cross_validate(mixed, replace(config, calibration_folds=2, threshold_folds=2), systems=("model", "rules"), folds=3)

    assert len(current) == 3 and result["gold_rows"] == (mixed["label_source"] == "gold").sum()
    assert {kind for _, kind, _ in seen} == {"fit_model", "weak_label", "corpus"}
    batches = 0
    for held_out, kind, seen_groups in seen:
        assert held_out, f"{kind} fitted outside a fold"
        if kind == "corpus" and seen_groups <= held_out:
            assert len(seen_groups) == 1  # one held-out batch's own statistics
            batches += 1
        else:
            assert not held_out & seen_groups, f"{kind} saw held-out groups {held_out & seen_groups}"
    assert batches == 2 * len(set(groups_of(mixed)))  # per held-out group: model and rules
    all_groups = set(groups_of(mixed))
    for held in current:
        assert [s for h, k, s in seen if h == frozenset(held) and k == "fit_model"] == [frozenset(all_groups - held)]


def test_held_out_labels_never_reach_thresholds_or_calibration(small, config):
    """Flip every label of the sources in one fold: that fold's out-of-fold probabilities and
    decisions stay exactly the same (the label model, calibration, thresholds and every corpus
    statistic were fitted without them), while the other folds' change."""
    quick = replace(config, calibration_folds=2, threshold_folds=2)
    units = groups_of(small)
    held = grouped_folds(units, 3, quick.seed)[0]
    flipped = small.copy()
    inside = np.isin(units, held)
    for flag in FLAGS:
        flipped.loc[inside, flag] = 1 - flipped.loc[inside, flag]
    flipped.loc[inside, "suggested_metric_type"] = "grade"
    columns = ["row_id", *FLAGS, *(f"p_{f}" for f in FLAGS), "suggested_metric_type"]
    before = out_of_fold(small, quick, ("model",), folds=3)[1]["model"][columns]
    after = out_of_fold(flipped, quick, ("model",), folds=3)[1]["model"][columns]
    rows = before["row_id"].isin(small.loc[inside, "row_id"])
    pd.testing.assert_frame_equal(before[rows].reset_index(drop=True), after[rows].reset_index(drop=True))
    assert not before[~rows][[f"p_{f}" for f in FLAGS]].equals(after[~rows][[f"p_{f}" for f in FLAGS]])


def test_learning_curve_by_sources(small, config):
    """Points by number of training sources (2 sources included: a fold may then know few
    categories), the last one on all of them."""
    from budgetnlp.evaluate import learning_curve

    points = learning_curve(small, replace(config, calibration_folds=2, threshold_folds=2), sources=(2, 4, 40), folds=3, repeats=1)
    assert [p["training_sources"] for p in points] == [2, 4, "all"]
    assert all(0 <= p["macro_f1_min"] <= p["macro_f1"] <= p["macro_f1_max"] <= 1 for p in points)


def test_unfamiliar_words_are_no_evidence(trained):
    """Rows whose words the model never saw: whatever the unknown words, the probabilities are
    the same (unknown text adds nothing), and unfamiliarity alone raises no flag (issue 11: such
    a row got p(boilerplate) 0.56, above its threshold)."""
    rng = np.random.default_rng(0)
    rare = [chr(c) for c in range(0x3400, 0x3500)]  # CJK extension A: characters no budget table uses
    names = ["".join(rng.choice(rare, size=n)) for n in (2, 5, 9, 14)]
    for value in ("≥98%", "12个", "2024年12月底前"):
        rows = pd.DataFrame({"name": names, "value": value, "level1": "产出指标", "level2": "数量指标"})
        scored = trained.predict(rows)
        for flag in ("vague", "boilerplate", "category_mismatch"):
            p = scored[f"p_{flag}"].to_numpy()
            assert np.ptp(p) < 1e-6, (flag, value, p)
            assert (scored[flag] == 0).all() and p[0] < trained.thresholds[flag], (flag, value, p[0])


# ---------------------------------------------------------------- the default model
def test_default_model_loads(frame):
    model = load_model("default")
    assert model.folder == resolve_model_path("default")
    assert re.fullmatch(r"[0-9a-f]{16}", model.meta["data_hash"])
    assert model.meta["data_hash"] == data_hash(frame), "the shipped default model is stale: python training/refresh_default.py"
    out = model.predict(pd.DataFrame({"name": ["预算控制数"], "value": ["年度预算"], "level2": ["成本指标"]}))
    assert out.loc[0, "unmeasurable"] == 1


def test_a_broken_named_model_is_not_rebuilt(trained, tmp_path):
    folder = _copy(trained, tmp_path)
    (folder / MODEL_FILE).write_bytes(b"garbage")
    with pytest.raises(ModelError):
        load_with_warnings(folder, say=pytest.fail)


# ---------------------------------------------------------------- config
def _yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_config_defaults_match_the_shipped_yaml(config):
    assert config == TrainConfig()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("seed: 0\nlearning_rat: 0.1\nfoo: 1\n", "unknown config option.*foo, learning_rat"),
        ("calibration: platt\n", "calibration must be 'sigmoid' or 'isotonic'"),
        ("backend: xgboost\n", "backend"),
        ("c: -1\n", "c must be positive"),
        ("char_ngrams: [3, 1]\n", "char_ngrams"),
        ("threshold_grid: [0.5, 1.5]\n", "threshold_grid"),
        ("metric_type_override: 0.2\n", "metric_type_override"),
        ("- a list\n", "expected a mapping"),
        ("seed: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_configs(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_config(_yaml(tmp_path, text))


def test_config_overrides(tmp_path):
    path = _yaml(tmp_path, "c: 2.0\ncalibration: isotonic\n")
    config = load_config(path, backend="transformer", c=None)
    assert (config.backend, config.c, config.calibration) == ("transformer", 2.0, "isotonic")
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="unknown config option.*colour"):
        load_config(path, colour="red")


@pytest.mark.parametrize(("text", "message"), [("colour: red\n", "colour"), ("calibration: platt\n", "calibration")])
def test_cli_train_with_a_bad_config(tmp_path, text, message):
    out = tmp_path / "model"
    result = subprocess.run([*CLI, "train", "--config", str(_yaml(tmp_path, text)), "--out", str(out), "--data", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("budgetnlp: ") and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not out.exists()


# ---------------------------------------------------------------- the evaluate command
def test_cli_evaluate(tmp_path, cv):
    out = tmp_path / "results"
    result = subprocess.run([*CLI, "evaluate", "--quick", "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    payload = json.loads((out / "cv_results.json").read_text(encoding="utf-8"))
    assert payload["learning_curve"] == [] and payload["leave_one_province_out"] == {}
    assert payload["folds"] == 4 and payload["holdout"].startswith("excluded")
    assert payload["groups"] == 32 - len(holdout_groups())  # the held-out sources stay out by default
    assert set(payload["lines"]) == {"documents", "localities"}
    for system in ("model", "rules", "tfidf_lr"):
        assert 0 < payload[system]["flags"]["macro_f1"] <= 1
    summary = (out / "cv_summary.md").read_text(encoding="utf-8")
    assert "| macro-F1 |" in summary and "Learning curve" not in summary and "documents (278 rows, 3 groups)" in summary
    assert "| figure | model | rules | tfidf_lr |" in result.stdout
