"""The transformer backend end to end on a tiny random BERT built here (no download, CPU only).

The encoder is a 2-layer, 32-wide BertModel with a character vocabulary taken from the sample
rows; it learns little, so the tests check the contract (the public train → save → load → predict
path, shapes, ranges, files, determinism, errors), not quality.
"""

from __future__ import annotations

import shutil
import socket
import sys

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("safetensors")

from budgetnlp._text import nfkc  # noqa: E402
from budgetnlp.config import load_config  # noqa: E402
from budgetnlp.errors import ModelError  # noqa: E402
from budgetnlp.models import fit_model, load_model  # noqa: E402
from budgetnlp.models import transformer_backend as tb  # noqa: E402
from budgetnlp.schema import FLAGS, METRIC_TYPES, SCORED_COLUMNS  # noqa: E402
from budgetnlp.training import train  # noqa: E402


TEXT_COLUMNS = ["level2", "level2_norm", "name", "description", "value", "project_name"]


def _no_network(*args, **kwargs):
    raise AssertionError(f"the transformer backend tried to reach the network: {args!r}")


@pytest.fixture(scope="module")
def offline():
    """Any connection attempt fails the test; HF_HUB_OFFLINE is left as the backend sets it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("HF_HUB_OFFLINE", raising=False)
        mp.delenv("TRANSFORMERS_OFFLINE", raising=False)
        mp.setenv("BUDGETNLP_DEVICE", "cpu")
        mp.setattr(socket.socket, "connect", _no_network)
        mp.setattr(socket.socket, "connect_ex", _no_network)
        mp.setattr(socket, "create_connection", _no_network)
        mp.setattr(socket, "getaddrinfo", _no_network)
        yield


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory, rows):
    """A random 2-layer BERT (hidden 32) and a character vocabulary covering the sample rows."""
    folder = tmp_path_factory.mktemp("tiny-bert")
    text = "".join(nfkc(v) for column in TEXT_COLUMNS for v in rows[column].fillna("").astype(str))
    text += "".join(tb._TYPE_WORDS.values()) + "".join(tb._ISSUE_WORDS.values()) + "".join(tb._FLAG_WORDS.values())
    text += "类型规则无、"
    chars = sorted({ch for ch in text if not ch.isspace()})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + chars + [f"##{ch}" for ch in "0123456789."]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = transformers.BertTokenizer(vocab_file=str(folder / "vocab.txt"), do_lower_case=False)
    config = transformers.BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=128)
    torch.manual_seed(0)
    transformers.BertModel(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def _config(model_path, **overrides):
    options = dict(backend="transformer", model_path=str(model_path), epochs=1, batch_size=32, max_length=64)
    return load_config(None, **{**options, **overrides})


@pytest.fixture(scope="module")
def trained(tmp_path_factory, offline, tiny_bert, frame):
    """The public path: train() (leave-one-document-out CV included) → a model folder."""
    out = tmp_path_factory.mktemp("models") / "tiny"
    train(frame, _config(tiny_bert), out, baselines=False)
    return out


def test_train_writes_a_transformer_model_folder(trained):
    assert (trained / "encoder" / "config.json").is_file()
    assert list((trained / "encoder").glob("*.safetensors"))
    assert (trained / "encoder" / "vocab.txt").is_file() or (trained / "encoder" / "tokenizer.json").is_file()
    assert (trained / "heads.safetensors").is_file()
    assert (trained / "transformer.json").is_file()
    assert (trained / "meta.json").is_file() and (trained / "metrics.json").is_file()
    for pattern in ("*.pkl", "*.pickle", "*.bin", "*.pt", "*.skops"):
        assert not list(trained.rglob(pattern)), f"unexpected {pattern} in the model folder"


@pytest.fixture(scope="module")
def scored(offline, trained, rows):
    return load_model(trained).predict(rows)


def test_load_and_predict_scored_rows(offline, trained, rows, scored):
    model = load_model(trained)
    assert model.meta["backend"] == "transformer"
    assert set(model.thresholds) == set(FLAGS)
    assert all(0 < t < 1 for t in model.thresholds.values())
    assert len(scored) == len(rows)
    assert list(scored["row_id"]) == list(rows["row_id"])
    for column in SCORED_COLUMNS:
        assert column in scored.columns
    for flag in FLAGS:
        p = scored[f"p_{flag}"].to_numpy(dtype=float)
        assert ((p >= 0) & (p <= 1)).all()
        assert set(scored[flag].unique()) <= {0, 1}
    assert set(scored["suggested_metric_type"]) <= set(METRIC_TYPES)
    assert all(isinstance(r, list) for r in scored["reasons"])


def test_reloaded_copy_predicts_identically(offline, trained, rows, scored, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(trained, copy)
    again = load_model(copy).predict(rows)
    columns = [f"p_{f}" for f in FLAGS] + FLAGS + ["suggested_metric_type", "metric_type", "risk", "reasons"]
    pd.testing.assert_frame_equal(scored[columns], again[columns])


def test_metric_type_is_the_parsers(scored):
    from budgetnlp.rules import apply_rules

    assert list(scored["metric_type"]) == [p.metric_type for p in apply_rules(scored).parsed]


def test_no_network_and_offline_mode(trained):
    import os

    assert os.environ.get("HF_HUB_OFFLINE") == "1"


def test_evidence_names_words_of_the_row(offline, trained, rows):
    model = load_model(trained)
    some = rows.head(40).reset_index(drop=True)
    from budgetnlp.features import RowFeatures
    from budgetnlp.models import _with_row_columns

    prepared = _with_row_columns(some)
    features = RowFeatures.compute(prepared, model.corpus)
    output = model.backend.predict(prepared, features)
    assert output["category_issue"] is None
    assert np.array_equal(output["metric_confidence"], np.ones(len(some)))
    for flag in FLAGS:
        assert len(output["evidence"][flag]) == len(some)
        for i, words in enumerate(output["evidence"][flag]):
            assert len(words) <= model.config.explain_tokens
            if output["proba"][flag].iat[i] < model.thresholds[flag]:
                assert words == []
            for word in words:
                assert word in nfkc(some["name"].iat[i]) + nfkc(some["value"].iat[i])


def test_training_is_deterministic(offline, tiny_bert, frame):
    small = frame.head(60)
    probs = []
    for _ in range(2):
        model = fit_model(small, _config(tiny_bert))
        probs.append(model.predict(small)[[f"p_{f}" for f in FLAGS]].to_numpy())
    np.testing.assert_array_equal(probs[0], probs[1])


def test_missing_model_dir_names_the_path(offline, frame, tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelError, match="no-such-model"):
        fit_model(frame.head(20), _config(missing))


def test_empty_model_path_is_a_clear_error(offline, frame):
    with pytest.raises(ModelError, match="model-path"):
        fit_model(frame.head(20), load_config(None, backend="transformer"))


def test_dir_without_weights(offline, tiny_bert, frame, tmp_path):
    broken = tmp_path / "no-weights"
    shutil.copytree(tiny_bert, broken)
    for path in broken.glob("*.safetensors"):
        path.unlink()
    with pytest.raises(ModelError, match="weights"):
        fit_model(frame.head(20), _config(broken))


def test_dir_without_tokenizer_or_config(offline, tiny_bert, frame, tmp_path):
    broken = tmp_path / "half"
    shutil.copytree(tiny_bert, broken)
    for name in ("vocab.txt", "tokenizer.json", "config.json"):
        (broken / name).unlink(missing_ok=True)
    with pytest.raises(ModelError, match=r"config\.json.*tokenizer"):
        fit_model(frame.head(20), _config(broken))


def test_saved_model_without_heads_fails_on_load(offline, trained, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(trained, copy)
    (copy / "heads.safetensors").unlink()
    with pytest.raises(ModelError, match="heads.safetensors"):
        load_model(copy)


def test_missing_torch_fails_politely(monkeypatch, tiny_bert, frame):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ModelError, match=r"pip install 'budgetnlp\[transformer\]'"):
        fit_model(frame.head(20), _config(tiny_bert))


def test_validation_split_holds_out_whole_documents():
    groups = np.array(["a"] * 203 + ["b"] * 48 + ["c"] * 27)
    mask = tb._validation_mask(groups, len(groups), seed=0)
    assert set(groups[mask]) == {"b"}
    assert tb._validation_mask(groups[:5], 5, seed=0) is None
    single = tb._validation_mask(np.array(["a"] * 50), 50, seed=0)
    assert single.sum() == 10


def test_threshold_moves_only_for_a_clear_gain():
    y = np.array([1, 1, 0, 0, 0])
    assert tb._pick_threshold(np.array([0.9, 0.8, 0.1, 0.2, 0.3]), y, [0.3, 0.5, 0.7], 0.02)[0] == 0.5
    assert tb._pick_threshold(np.array([0.4, 0.45, 0.1, 0.2, 0.05]), y, [0.3, 0.5, 0.7], 0.02)[0] == 0.3


def test_unlabelled_cells_are_left_out_of_the_loss(offline, tiny_bert, frame):
    small = frame.head(30).copy()
    small["vague"] = small["vague"].astype(float)
    small.loc[:9, "vague"] = np.nan
    small.loc[:4, "suggested_metric_type"] = None
    scored = fit_model(small, _config(tiny_bert)).predict(small)
    assert scored["p_vague"].between(0, 1).all()
