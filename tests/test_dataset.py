"""budgetnlp.dataset: joining annotations by content, self-contained annotations (locality
sources) as gold rows grouped by source, growing annotations, weak labels, group-wise splits, the
saved DatasetDict with its card, and `budgetnlp dataset build`."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from budgetnlp.dataset import (
    ANNOTATION_COLUMNS,
    SPLITS,
    build_dataset,
    data_hash,
    document_splits,
    load_annotations,
    load_dataset_frame,
    province_of,
    rows_from_annotations,
    save_dataset,
)
from budgetnlp.errors import InputError
from budgetnlp.schema import FLAGS, METRIC_TYPES

from .helpers import ROOT

ANNOTATIONS = ROOT / "data" / "annotations"
GOLD = ANNOTATIONS / "gold.csv"
LOCALITIES = ANNOTATIONS / "gold_localities.csv"
DOC_001 = "001_7a371d8eaa1dfa6d.txt"


def _read_gold() -> pd.DataFrame:
    return pd.read_csv(GOLD, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _read_localities() -> pd.DataFrame:
    return pd.read_csv(LOCALITIES, dtype=str, keep_default_na=False, encoding="utf-8-sig")


N_ROWS = len(_read_gold()) + len(_read_localities())  # every gold line is one row


def _write(frame: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, encoding="utf-8")
    return path


def _find(frame: pd.DataFrame, doc: str, project: str, name: str, value: str, description: str | None = None) -> pd.Series:
    hit = frame[
        frame["source_path"].map(lambda p: Path(p).name == doc)
        & (frame["project_name"] == project)
        & (frame["name"] == name)
        & (frame["value"] == value)
    ]
    if description is not None:
        hit = hit[hit["description"] == description]
    assert len(hit) == 1, f"{doc} · {project} · {name} · {value}: {len(hit)} rows"
    return hit.iloc[0]


@pytest.fixture(scope="module")
def built(gold_dataset):
    return gold_dataset


@pytest.fixture(scope="module")
def gold() -> pd.DataFrame:
    return _read_gold()


# ---------------------------------------------------------------- join
def test_every_row_gets_its_gold_decision(built, gold):
    assert len(gold) == 278
    documents = built[built["source_kind"] == "document"]
    assert len(documents) == 278 and len(built) == N_ROWS
    assert (built["label_source"] == "gold").all()
    assert built["weak_confidence"].isna().all()
    assert set(built["decided_by"]) == {"gold"}
    for flag in FLAGS:
        assert built[flag].dtype.kind == "i"
        assert set(built[flag]) <= {0, 1}
        # one gold line per row: the positives add up
        assert int(documents[flag].sum()) == int(gold[flag].astype(int).sum()), flag
    assert set(built["metric_type"]) <= set(METRIC_TYPES)
    assert documents["metric_type"].value_counts().to_dict() == gold["metric_type"].value_counts().to_dict()
    assert documents["suggested_metric_type"].value_counts().to_dict() == gold["suggested_metric_type"].value_counts().to_dict()


def test_locality_lines_are_gold_rows_grouped_by_source(built):
    """Every line of gold_localities.csv (no document file) is one gold row with its labels,
    in the group of its source_id; the samples are one group per document: 32 groups."""
    lines = _read_localities()
    own = built[built["source_kind"] == "locality"]
    assert len(own) == len(lines) and (own["label_source"] == "gold").all()
    assert (own["group"] == own["doc_id"]).all() and set(own["group"]) == set(lines["source_id"])
    assert own.groupby("group").size().to_dict() == lines.groupby("source_id").size().to_dict()
    for flag in FLAGS:
        assert own.groupby("group")[flag].sum().to_dict() == lines.assign(**{flag: lines[flag].astype(int)}).groupby("source_id")[flag].sum().to_dict()
    documents = built[built["source_kind"] == "document"]
    assert (documents["group"] == documents["doc_id"]).all() and documents["group"].nunique() == 3
    assert built["group"].nunique() == 3 + lines["source_id"].nunique() == 32
    assert built["row_id"].is_unique
    assert (own["province"] != "").all() and (documents["province"] == "").all()
    assert own["level2_norm"].notna().all()


def _line(source: str, name: str, value: str, **labels) -> dict:
    flags = {flag: "0" for flag in FLAGS} | {k: str(v) for k, v in labels.items() if k in FLAGS}
    return {"source_id": source, "locality": "甘肃省兰州市", "doc": f"{source} page", "department": "某局",
            "year": "2024", "project_code": "", "project": "示范项目", "level1": "产出指标", "level2": "数量指标",
            "name": name, "description": "", "value": value, "basis": "", **flags,
            "metric_type": labels.get("metric_type", "count"), "suggested_metric_type": "count"}


def test_rows_from_annotations_generated(tmp_path):
    """Self-contained lines from two files: a line repeated within one file is two rows (a
    repeated table row), the same line in a later file replaces the decision (newest wins)."""
    first = pd.DataFrame([_line("S1", "培训人次", "280人次"), _line("S1", "培训人次", "280人次"),
                          _line("S2", "群众满意度", "≥90%", boilerplate=1, metric_type="percent"),
                          _line("S2", "工作成效", "明显", vague=1, unmeasurable=1, metric_type="text")])
    later = pd.DataFrame([_line("S2", "群众满意度", "≥90%", boilerplate=0, metric_type="percent")])
    folder = tmp_path / "annotations"
    _write(first, folder / "a_localities.csv")
    _write(later, folder / "b_review.csv")
    rows = rows_from_annotations(load_annotations([folder]))
    assert len(rows) == 4 and rows["row_id"].is_unique
    assert rows.groupby("group").size().to_dict() == {"S1": 2, "S2": 2}
    satisfaction = rows[rows["name"] == "群众满意度"].iloc[0]
    assert satisfaction["boilerplate"] == "0" and satisfaction["decided_by"] == "b_review"
    vague = rows[rows["name"] == "工作成效"].iloc[0]
    assert (vague["vague"], vague["unmeasurable"], vague["metric_type"]) == ("1", "1", "text")
    assert set(rows["province"]) == {"甘肃省"} and set(rows["source_kind"]) == {"locality"}
    assert (rows["level1_norm"] == "产出指标").all() and (rows["level2_norm"] == "数量指标").all()


def test_self_contained_lines_beside_documents(rows, gold, tmp_path):
    """Document-joined gold and self-contained lines in one build: both gold, own groups; a
    source id that is also a document id is refused."""
    folder = tmp_path / "annotations"
    _write(gold, folder / "gold.csv")
    _write(pd.DataFrame([_line("S9", "培训人次", "280人次"), _line("S9", "课程数量", "220门")]), folder / "pages.csv")
    built = build_dataset(rows, [folder])
    assert len(built) == 280 and (built["label_source"] == "gold").all()
    assert built.groupby("source_kind")["group"].nunique().to_dict() == {"document": 3, "locality": 1}
    assert set(built.loc[built["source_kind"] == "locality", "split"]) <= set(SPLITS)
    clash = rows["doc_id"].iloc[0]
    _write(pd.DataFrame([_line(clash, "培训人次", "280人次")]), folder / "pages.csv")
    with pytest.raises(InputError, match="also document ids"):
        build_dataset(rows, [folder])


@pytest.mark.parametrize(("locality", "province"), [
    ("湖北省黄石市", "湖北省"), ("内蒙古自治区兴安盟扎赉特旗", "内蒙古自治区"), ("重庆市忠县", "重庆市"),
    ("新疆生产建设兵团第一师阿拉尔市", "新疆生产建设兵团"), ("宁夏回族自治区", "宁夏回族自治区"),
    ("香港特别行政区", "香港特别行政区"), ("", ""),
])
def test_province_of(locality, province):
    assert province_of(locality) == province


@pytest.mark.parametrize(
    "doc, project, name, value, description, labels",
    [
        (DOC_001, "村干部工资、保险和聘用人员工资", "享受资金人数", "=78人", None,
         dict(vague=0, boilerplate=0, category_mismatch=0, unmeasurable=0, metric_type="count", suggested_metric_type="count")),
        (DOC_001, "村干部工资、保险和聘用人员工资", "资金发放完成率", "=100%", None,
         dict(vague=0, boilerplate=1, category_mismatch=0, unmeasurable=0, metric_type="percent", suggested_metric_type="percent")),
        (DOC_001, "唐山西站站前广场物业管理费", "设施完好率", "≥90%", None,
         dict(vague=0, boilerplate=1, category_mismatch=1, unmeasurable=0, metric_type="percent", suggested_metric_type="count")),
        (DOC_001, "唐山西站站前广场物业管理费", "是否提高公共场所环境质量", "是", None,
         dict(vague=1, boilerplate=1, category_mismatch=0, unmeasurable=1, metric_type="boolean", suggested_metric_type="grade")),
        ("002_25a7642d433ed1a7.txt", "固定资产维修费", "设施完好率", "≥90%", None,
         dict(vague=0, boilerplate=1, category_mismatch=0, unmeasurable=0, metric_type="percent", suggested_metric_type="percent")),
    ],
    ids=["78人", "资金发放完成率", "设施完好率-001", "环境质量", "设施完好率-002"],
)
def test_spot_checked_labels(built, doc, project, name, value, description, labels):
    row = _find(built, doc, project, name, value, description)
    for label, expected in labels.items():
        assert row[label] == expected, label


def test_label_agreement(built):
    unanimous = _find(built, DOC_001, "村干部工资、保险和聘用人员工资", "享受资金人数", "=78人")
    assert unanimous["label_agreement"] == 1.0
    split = _find(built, DOC_001, "唐山西站站前广场物业管理费", "设施完好率", "≥90%")  # boilerplate_votes 011
    assert split["label_agreement"] == pytest.approx(2 / 3)
    assert built["label_agreement"].between(0.5, 1.0).all()
    assert (built["label_agreement"] < 1).sum() > 0


def test_join_is_by_content_not_position(rows, built):
    shuffled = rows.sample(frac=1.0, random_state=7).reset_index(drop=True)
    assert not shuffled["row_id"].equals(rows["row_id"])
    again = build_dataset(shuffled, [ANNOTATIONS])
    columns = [*FLAGS, "metric_type", "suggested_metric_type", "label_agreement", "label_source"]
    left = built.set_index("row_id")[columns].sort_index()
    right = again.set_index("row_id")[columns].sort_index()
    pd.testing.assert_frame_equal(left, right)


def test_unmatched_annotation_line_is_an_error_naming_it(rows, gold, tmp_path):
    edited = gold.copy()
    edited.loc[0, "name"] = "享受资金人数（改）"
    _write(edited, tmp_path / "gold.csv")
    with pytest.raises(InputError) as info:
        build_dataset(rows, [tmp_path])
    message = str(info.value)
    assert "1 annotation line(s) match no extracted row" in message
    assert f"{DOC_001} · 村干部工资、保险和聘用人员工资 · 享受资金人数（改） · =78人" in message


def test_cells_compared_after_nfkc_and_whitespace_removal(rows, gold, tmp_path):
    edited = gold.copy()
    first = edited.index[(edited["name"] == "享受资金人数") & (edited["value"] == "=78人")][0]
    edited.loc[first, "value"] = "＝７８人"  # full-width
    edited.loc[first, "name"] = " 享受 资金人数 "
    edited.loc[first, "project"] = "村干部工资、保险和 聘用人员工资"
    edited.loc[first, "description"] = "享受资金的\n人数"
    edited.loc[first, "boilerplate"] = "1"  # so we can see this line decided the row
    _write(edited, tmp_path / "gold.csv")
    out = build_dataset(rows, [tmp_path])
    assert (out["label_source"] == "gold").all()
    row = _find(out, DOC_001, "村干部工资、保险和聘用人员工资", "享受资金人数", "=78人")
    assert row["boilerplate"] == 1


def test_annotation_file_without_label_columns_is_rejected(tmp_path):
    _write(pd.DataFrame([{"doc": "x.txt", "name": "a", "value": "b"}]), tmp_path / "notes.csv")
    with pytest.raises(InputError, match="missing columns"):
        load_annotations([tmp_path / "notes.csv"])
    with pytest.raises(InputError, match="no such annotation"):
        load_annotations([tmp_path / "nowhere.csv"])


# ---------------------------------------------------------------- annotations grow
def _decision(gold: pd.DataFrame, name: str, value: str, project: str, **changes) -> pd.DataFrame:
    line = gold[(gold["name"] == name) & (gold["value"] == value) & (gold["project"] == project)].copy()
    assert len(line) == 1
    for column, new in changes.items():
        line[column] = new
    return line.reindex(columns=ANNOTATION_COLUMNS, fill_value="")


def test_newest_decision_wins(rows, gold, tmp_path):
    project = "村干部工资、保险和聘用人员工资"
    old = _find(build_dataset(rows, [ANNOTATIONS]), DOC_001, project, "享受资金人数", "=78人")
    assert old["boilerplate"] == 0
    newer = _decision(gold, "享受资金人数", "=78人", project, boilerplate="1", boilerplate_votes="1",
                      decided_by="alice", decided_at="2026-01-02T00:00:00")
    _write(newer, tmp_path / "review_alice.csv")
    out = build_dataset(rows, [ANNOTATIONS, tmp_path / "review_alice.csv"])
    row = _find(out, DOC_001, project, "享受资金人数", "=78人")
    assert row["boilerplate"] == 1
    assert (row["decided_by"], row["decided_at"]) == ("alice", "2026-01-02T00:00:00")
    assert row["label_source"] == "gold"
    assert len(out) == N_ROWS
    others = out[out["row_id"] != row["row_id"]]
    assert set(others["decided_by"]) == {"gold"}

    # an older decision read from a later file does not win
    older = _decision(gold, "享受资金人数", "=78人", project, boilerplate="0", decided_by="bob",
                      decided_at="2025-06-01T00:00:00")
    _write(older, tmp_path / "review_bob.csv")
    out = build_dataset(rows, [ANNOTATIONS, tmp_path / "review_alice.csv", tmp_path / "review_bob.csv"])
    row = _find(out, DOC_001, project, "享受资金人数", "=78人")
    assert row["boilerplate"] == 1
    assert row["decided_by"] == "alice"
    # … but it does win over the undated gold line
    out = build_dataset(rows, [ANNOTATIONS, tmp_path / "review_bob.csv"])
    row = _find(out, DOC_001, project, "享受资金人数", "=78人")
    assert (row["boilerplate"], row["decided_by"]) == (0, "bob")


def test_decided_by_defaults_to_file_name(gold, tmp_path):
    line = _decision(gold, "享受资金人数", "=78人", "村干部工资、保险和聘用人员工资", decided_by="", decided_at="")
    _write(line, tmp_path / "carol.csv")
    loaded = load_annotations([tmp_path / "carol.csv"])
    assert loaded["decided_by"].tolist() == ["carol"]


@pytest.mark.skipif(importlib.util.find_spec("budgetnlp.labelstudio") is None, reason="budgetnlp.labelstudio not written yet")
def test_label_studio_export_is_accepted(rows, built, tmp_path):
    from budgetnlp.labelstudio import tasks_from_frame

    target = _find(built, DOC_001, "村干部工资、保险和聘用人员工资", "享受资金人数", "=78人")
    task = tasks_from_frame(built[built["row_id"] == target["row_id"]])[0]
    task["id"] = 1
    task["annotations"] = [
        {
            "id": 11,
            "completed_by": {"email": "dora@example.org"},
            "updated_at": "2026-03-01T08:00:00.000000Z",
            "was_cancelled": False,
            "result": [
                {"from_name": "boilerplate", "to_name": "text", "type": "choices", "value": {"choices": ["1"]}},
                {"from_name": "note", "to_name": "text", "type": "textarea", "value": {"text": ["78人 is generic here"]}},
            ],
        },
        {"id": 12, "was_cancelled": True, "result": [], "completed_by": 3, "updated_at": "2026-03-02T00:00:00Z"},
    ]
    export = tmp_path / "ls" / "export.json"
    export.parent.mkdir()
    export.write_text(json.dumps([task], ensure_ascii=False), encoding="utf-8")
    loaded = load_annotations([export])
    assert len(loaded) == 1  # the cancelled annotation is not a decision
    out = build_dataset(rows, [ANNOTATIONS, export.parent])
    row = out[out["row_id"] == target["row_id"]].iloc[0]
    assert row["boilerplate"] == 1  # the annotator's choice
    assert row["vague"] == 0 and row["metric_type"] == "count"  # unset labels take the task's prediction
    assert row["decided_by"] == "dora@example.org"
    assert row["decided_at"] == "2026-03-01T08:00:00.000000Z"


# ---------------------------------------------------------------- weak labels
@pytest.fixture(scope="module")
def without_001(rows, gold, tmp_path_factory) -> pd.DataFrame:
    folder = tmp_path_factory.mktemp("annotations")
    _write(gold[gold["doc"] != DOC_001], folder / "gold.csv")
    return build_dataset(rows, [folder])


def test_rows_without_decision_get_weak_labels(without_001, gold):
    is_001 = without_001["source_path"].map(lambda p: Path(p).name == DOC_001)
    weak, kept = without_001[is_001], without_001[~is_001]
    assert len(weak) == (gold["doc"] == DOC_001).sum() == 48
    assert (weak["label_source"] == "weak").all()
    assert (kept["label_source"] == "gold").all()
    assert kept["weak_confidence"].isna().all()
    for flag in FLAGS:
        assert set(weak[flag]) <= {0, 1}
    assert weak["weak_confidence"].between(0.5, 1.0).all()
    assert set(weak["metric_type"]) <= set(METRIC_TYPES)
    assert (weak["suggested_metric_type"].str.len() > 0).all()
    assert set(weak["suggested_metric_type"]) <= set(METRIC_TYPES)
    assert weak["label_agreement"].isna().all()
    # metric_type of a weak row is the parser's reading of its value
    from budgetnlp.normalize import parse_value

    for record in weak.head(10).to_dict("records"):
        parsed = parse_value(record["value"], name=record["name"], level2=record["level2_norm"], year=record["year"])
        assert record["metric_type"] == parsed.metric_type


def test_label_model_agrees_with_dropped_gold(without_001, built):
    weak = without_001[without_001["label_source"] == "weak"].set_index("row_id")
    truth = built.set_index("row_id").loc[weak.index]
    print(f"\nlabel model on {DOC_001} ({len(weak)} rows) vs its dropped gold:")
    accuracy = {}
    for flag in FLAGS:
        accuracy[flag] = float((weak[flag] == truth[flag]).mean())
        baseline = float((truth[flag] == 0).mean())
        print(f"  {flag:18s} agreement {accuracy[flag]:.2f}  always-0 {baseline:.2f}  (gold positives {int(truth[flag].sum())})")
    type_agreement = float((weak["metric_type"] == truth["metric_type"]).mean())
    suggested = float((weak["suggested_metric_type"] == truth["suggested_metric_type"]).mean())
    print(f"  metric_type agreement {type_agreement:.2f}, suggested_metric_type agreement {suggested:.2f}")
    for flag in ("vague", "unmeasurable"):
        assert accuracy[flag] > float((truth[flag] == 0).mean()), flag


# ---------------------------------------------------------------- splits
def test_three_documents_one_per_split():
    docs = pd.Series(["a"] * 5 + ["b"] * 3 + ["c"] * 7)
    splits = document_splits(docs, seed=0)
    assert splits.index.equals(docs.index)
    per_doc = splits.groupby(docs).nunique()
    assert (per_doc == 1).all()  # no document in two splits
    assert sorted(splits.groupby(docs).first()) == sorted(SPLITS)
    assert document_splits(docs, seed=0).equals(splits)
    assignments = {tuple(document_splits(docs, seed=s).groupby(docs).first()) for s in range(10)}
    assert len(assignments) > 1  # the seed matters


def test_ten_documents():
    docs = pd.Series([f"doc{i:02d}" for i in range(10) for _ in range(i + 1)])
    for seed in range(5):
        splits = document_splits(docs, seed=seed)
        assert splits.notna().all()
        per_doc = splits.groupby(docs).agg(["nunique", "first"])
        assert (per_doc["nunique"] == 1).all()
        counts = per_doc["first"].value_counts()
        assert counts["train"] > counts["validation"] + counts["test"]
        assert counts["validation"] >= 1 and counts["test"] >= 1
        assert document_splits(docs, seed=seed).equals(splits)


def test_built_dataset_has_grouped_splits(built):
    assert set(built["split"]) == set(SPLITS)
    assert (built.groupby("group")["split"].nunique() == 1).all()
    assert (built.groupby("doc_id")["split"].nunique() == 1).all()


# ---------------------------------------------------------------- saving, card, hash
@pytest.fixture(scope="module")
def saved(built, tmp_path_factory) -> Path:
    return save_dataset(built, tmp_path_factory.mktemp("dataset") / "out", seed=0)


def test_saved_folder(saved, built):
    for split in SPLITS:
        assert (saved / f"{split}.parquet").is_file()
    counts = built["split"].value_counts().to_dict()
    for split in SPLITS:
        assert len(pd.read_parquet(saved / f"{split}.parquet")) == counts[split]
    frame = load_dataset_frame(saved)
    assert len(frame) == len(built)
    assert sorted(frame["row_id"]) == sorted(built["row_id"])
    meta = json.loads((saved / "meta.json").read_text(encoding="utf-8"))
    assert meta["rows"] == N_ROWS and meta["data_hash"] == data_hash(built)


def test_saved_datasetdict_loads(saved, built):
    import datasets

    loaded = datasets.load_from_disk(str(saved / "hf"))
    assert isinstance(loaded, datasets.DatasetDict)
    assert set(loaded) == set(SPLITS)
    counts = built["split"].value_counts().to_dict()
    for split in SPLITS:
        assert loaded[split].num_rows == counts[split]
        for column in ("row_id", "name", "value", *FLAGS, "metric_type", "label_source"):
            assert column in loaded[split].column_names
    first = loaded["train"][0]
    assert first["vague"] in (0, 1)


def test_dataset_card(saved, built):
    card = (saved / "README.md").read_text(encoding="utf-8")
    assert data_hash(built) in card
    assert f"Rows: {N_ROWS}; documents: 32; groups: 32." in card
    assert "- document: 278 rows, 3 groups" in card
    assert f"- locality: {N_ROWS - 278} rows, 29 groups" in card
    for flag in FLAGS:
        assert f"- {flag}: {int(built[flag].sum())} of {N_ROWS}" in card
    for (split, source), count in built.groupby(["split", "label_source"]).size().items():
        assert f"- {split} / {source}: {count}" in card
    for name, count in built.groupby("source_path").size().items():
        assert f"{Path(name).name}: {count}" in card


def test_data_hash_stable_and_sensitive(rows, built):
    again = build_dataset(rows.sample(frac=1.0, random_state=3), [ANNOTATIONS])
    assert data_hash(again) == data_hash(built)
    changed = built.copy()
    changed.loc[changed.index[0], "vague"] = 1 - changed.loc[changed.index[0], "vague"]
    assert data_hash(changed) != data_hash(built)
    relabelled = built.copy()
    relabelled.loc[relabelled.index[5], "suggested_metric_type"] = "grade" if relabelled.loc[relabelled.index[5], "suggested_metric_type"] != "grade" else "count"
    assert data_hash(relabelled) != data_hash(built)
    assert len(data_hash(built)) == 16


def test_load_dataset_frame_on_empty_folder(tmp_path):
    with pytest.raises(InputError, match="no dataset here"):
        load_dataset_frame(tmp_path)


# ---------------------------------------------------------------- CLI
def test_cli_dataset_build(tmp_path, built):
    out = tmp_path / "processed"
    proc = subprocess.run(
        [sys.executable, "-c", "from budgetnlp.cli import main; main()", "dataset", "build", "-o", str(out)],
        cwd=ROOT, capture_output=True, text=True, encoding="utf-8", timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"{N_ROWS} rows" in proc.stderr
    card = (out / "README.md").read_text(encoding="utf-8")
    assert data_hash(built) in card
    assert all((out / f"{split}.parquet").is_file() for split in SPLITS)
    assert len(load_dataset_frame(out)) == N_ROWS
