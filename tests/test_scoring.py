"""End to end: `budgetnlp score` on the bundled samples, caches, workers, Dask, bad inputs, the report in a browser."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from budgetnlp.extract import extract
from budgetnlp.schema import FLAGS, ROW_COLUMNS, SCORED_COLUMNS
from budgetnlp.scoring import score

from .browser import assert_report_renders
from .helpers import SAMPLES

OUTPUTS = ["scored.csv", "scored.parquet", "scored.xlsx", "report.html", "summary.json", "errors.csv"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """The samples plus a corrupt docx and an unrelated text file."""
    folder = tmp_path_factory.mktemp("inputs")
    for path in SAMPLES.glob("*.txt"):
        shutil.copy(path, folder / path.name)
    (folder / "broken.docx").write_bytes(b"PK\x03\x04 this is not a real docx")
    (folder / "minutes.txt").write_text("会议纪要：讨论食堂菜单。\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def run(inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("scored")
    cli = subprocess.run(
        [sys.executable, "-c", "from budgetnlp.cli import main; main()", "score", str(inputs), "--out", str(out),
         "--cache-dir", str(tmp_path_factory.mktemp("cache"))],
        capture_output=True, text=True,
    )
    assert cli.returncode == 0, cli.stderr
    assert "Traceback" not in cli.stderr
    return out, cli.stderr


def test_all_outputs_and_row_counts(run):
    out, _ = run
    for name in OUTPUTS:
        assert (out / name).is_file(), name
    scored = pd.read_parquet(out / "scored.parquet")
    assert len(scored) == len(extract([SAMPLES]).rows) == 278
    assert list(scored.columns[: len(ROW_COLUMNS) + len(SCORED_COLUMNS)]) == ROW_COLUMNS + SCORED_COLUMNS
    assert len(pd.read_csv(out / "scored.csv", encoding="utf-8-sig")) == 278
    assert scored["risk"].between(0, 1).all()
    for flag in FLAGS:
        assert scored[f"p_{flag}"].between(0, 1).all()
        assert set(scored[flag]) <= {0, 1}
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["rows"] == 278 and summary["documents_scored"] == 3
    assert summary["model"]["name"] == "default" and summary["model"]["version"]
    assert scored["model"].eq(f"default@{summary['model']['version']}").all()


def test_known_weak_rows_are_flagged(run):
    scored = pd.read_parquet(run[0] / "scored.parquet")
    doubled = scored[scored["value"].str.contains("9090%及以上")]
    assert len(doubled) == 18 and doubled["unmeasurable"].eq(1).all()
    assert doubled["value_issue"].eq("malformed").all() and doubled["value_number"].isna().all()
    stability = scored[scored["value"] == "维护社会稳定"]
    assert len(stability) >= 2
    assert stability["boilerplate"].eq(1).all() and stability["vague"].eq(1).all()
    reasons = stability["reasons"].iloc[0]
    assert "套话" in reasons and "模糊" in reasons  # explained: rule text and model words
    fine = scored[(scored["name"] == "享受资金人数") & (scored["value"] == "=78人")]
    assert fine[FLAGS].eq(0).all().all()


def test_suggestions_use_the_project_context(run):
    scored = pd.read_parquet(run[0] / "scored.parquet")
    placeholder = scored[(scored["name"] == "预算控制数") & (scored["value"] == "年度预算")].iloc[0]
    assert placeholder["suggestion"].startswith(f"≤{placeholder['project_budget']:g}万元")
    cost = scored[scored["value"] == "≤1400万元"].iloc[0]
    assert "高于项目预算数500万元" in cost["reasons"]


def test_bad_inputs_land_in_errors_csv(run):
    out, stderr = run
    errors = pd.read_csv(out / "errors.csv", encoding="utf-8-sig")
    assert list(errors.columns) == ["kind", "path", "reason", "location"]
    errors = errors[errors["kind"] == "error"]  # extraction warnings have their own lines
    reasons = dict(zip(errors["path"].map(lambda p: p.rsplit("/", 1)[-1]), errors["reason"]))
    assert set(reasons) == {"broken.docx", "minutes.txt"}
    assert "corrupt docx" in reasons["broken.docx"] and "no indicator table" in reasons["minutes.txt"]
    assert "broken.docx" in stderr


def test_report_renders_offline(run):
    def sections(page):
        assert page.locator("section.project").count() == 44

    assert_report_renders(run[0] / "report.html", sections)


def _frame(out):
    return pd.read_parquet(out / "scored.parquet").drop(columns=["source_path"])


def test_cache_serves_a_rerun_with_identical_results(tmp_path):
    cache = tmp_path / "cache"
    first = score([SAMPLES], tmp_path / "a", cache_dir=cache)
    second = score([SAMPLES], tmp_path / "b", cache_dir=cache)
    assert (first.cached, second.cached) == (0, 3)
    pd.testing.assert_frame_equal(_frame(tmp_path / "a"), _frame(tmp_path / "b"))


def test_workers_and_dask_match_one_process(tmp_path):
    pytest.importorskip("distributed", reason="the [dist] extra is needed for --scheduler")
    from distributed import Client, LocalCluster

    score([SAMPLES], tmp_path / "one", cache=False)
    score([SAMPLES], tmp_path / "two", cache=False, workers=2)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            score([SAMPLES], tmp_path / "dask", cache=False, scheduler=cluster.scheduler_address)
            assert client.run(lambda: 1)  # the cluster was really used
    one = _frame(tmp_path / "one")
    pd.testing.assert_frame_equal(one, _frame(tmp_path / "two"))
    pd.testing.assert_frame_equal(one, _frame(tmp_path / "dask"))


def test_row_tables_with_only_name_and_value(tmp_path):
    table = tmp_path / "rows.csv"
    pd.DataFrame(
        {"name": ["对农村经济社会发展的贡献", "享受资金人数"], "value": ["成效明显", "=78人"], "my_note": ["a", "b"]}
    ).to_csv(table, index=False, encoding="utf-8-sig")
    run = score([table], tmp_path / "out", cache=False)
    scored = pd.read_parquet(tmp_path / "out" / "scored.parquet")
    assert run.rows == 2 and list(scored["my_note"]) == ["a", "b"]
    assert scored.iloc[0]["vague"] == 1 and scored.iloc[1]["vague"] == 0


def test_row_table_without_value_column_is_an_input_error(tmp_path):
    table = tmp_path / "rows.csv"
    pd.DataFrame({"name": ["x"]}).to_csv(table, index=False)
    good = tmp_path / "good.txt"
    shutil.copy(SAMPLES / "004_8fe8d81b6e5c8740.txt", good)
    run = score([table, good], tmp_path / "out", cache=False)
    assert run.rows == 27
    assert len(run.errors) == 1 and "value" in run.errors[0].reason


def test_output_table_takes_any_values_a_row_table_may_hold():
    """The fast column-by-column conversion and the conform path give one table; values Arrow will
    not take as they are (a numeric code, a budget written as text, a bool) go through conform."""
    import pyarrow as pa

    from budgetnlp.scoring import conform, output_schema, to_table

    plain = pd.DataFrame({"name": ["满意度", None], "value": ["≥90%", "成效明显"], "year": [2024, None], "risk": [0.5, 0.25]})
    odd = plain.assign(project_code=[4300502, 17], project_budget=["161.93", "n/a"], vague=[True, False])
    for frame, extras in ((plain, ()), (odd, ("remark",))):
        table = to_table(frame.assign(remark="x") if extras else frame, extras)
        expected = pa.Table.from_pandas(conform(frame.assign(remark="x") if extras else frame, list(extras)),
                                        preserve_index=False, schema=output_schema(extras))
        assert table.equals(expected) and table.schema.equals(expected.schema, check_metadata=True)
    back = to_table(odd).to_pandas()
    assert back["project_code"].tolist() == ["4300502", "17"] and back["project_budget"].iloc[0] == 161.93
    assert pd.isna(back["project_budget"].iloc[1]) and back["year"].dtype == "Int64" and back["vague"].tolist() == [1, 0]


def test_weakest_rows_are_the_riskiest_in_file_order(tmp_path):
    """Ties at the cut-off go to the rows first in the file; rows without a risk come last;
    the choice does not depend on how the file is batched."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from budgetnlp.scoring import _weakest_rows

    risk = [0.5, 0.9, np.nan, 0.5, 0.7, 0.5, 0.9, 0.1, np.nan, 0.5]
    frame = pd.DataFrame({"row_id": [f"r{i}" for i in range(len(risk))], "risk": risk})
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "scored.parquet", row_group_size=3)
    for limit, expected in ((4, ["r0", "r1", "r4", "r6"]), (2, ["r1", "r6"]), (9, [f"r{i}" for i in range(10) if i != 8]),
                            (20, [f"r{i}" for i in range(10)])):
        for batch in (2, 3, 100):
            got = _weakest_rows(tmp_path / "scored.parquet", limit, batch_rows=batch)
            assert got["row_id"].tolist() == expected, (limit, batch)
    assert list(got.columns) == ["row_id", "risk"] and got["risk"].dtype == float


def test_summary_json_round_trips_with_long_lists_one_per_line():
    from budgetnlp.scoring import _summary_json

    summary = {"rows": 3, "flags": {"vague": {"count": 1, "rate": 0.5}}, "by_project": [{"anchor": f"p{i}", "项目": "维修费"}
                                                                                       for i in range(50)], "errors": []}
    text = _summary_json(summary)
    assert json.loads(text) == summary
    assert '    {"anchor": "p7", "项目": "维修费"},\n' in text and '"flags": {\n    "vague"' in text


def test_report_options_and_project_budgets_reach_the_outputs(tmp_path):
    """--weakest bounds report.html's list, --sort document keeps the workbook in file order, and
    summary.json's projects carry their 预算数 (summarize reads the report's own column list)."""
    import re

    from openpyxl import load_workbook

    out = tmp_path / "out"
    cli = subprocess.run(
        [sys.executable, "-c", "from budgetnlp.cli import main; main()", "score", str(SAMPLES / "001_7a371d8eaa1dfa6d.txt"),
         "--out", str(out), "--no-cache", "--weakest", "3", "--sort", "document"],
        capture_output=True, text=True,
    )
    assert cli.returncode == 0, cli.stderr
    html = (out / "report.html").read_text(encoding="utf-8")
    weakest = re.search(r'id="weakest-table">.*?</table>', html, re.S).group(0)
    assert weakest.count("<tr") == 4  # header + 3
    scored = pd.read_parquet(out / "scored.parquet")
    sheet = load_workbook(out / "scored.xlsx", read_only=True).worksheets[0]
    header = next(sheet.iter_rows(max_row=1, values_only=True))
    column = header.index("行标识")  # row_id
    assert [row[column] for row in sheet.iter_rows(min_row=3, values_only=True)] == scored["row_id"].tolist()  # row 2: machine names
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    budgets = [p.get("project_budget") for p in summary["by_project"]]
    assert any(b is not None for b in budgets), budgets

    bad = subprocess.run(
        [sys.executable, "-c", "from budgetnlp.cli import main; main()", "score", str(SAMPLES), "--out", str(tmp_path / "o2"),
         "--sort", "alphabet"],
        capture_output=True, text=True,
    )
    assert bad.returncode == 1 and "--sort alphabet" in bad.stderr and "Traceback" not in bad.stderr


# ---------------------------------------------------------------- repetition across the run (issue 11)
#: a row pasted into every document of a run, and into no document the model was trained on
PASTED = ("年度工作任务推进情况", "反映工作完成情况", "按计划推进")
_REPLACED = "\t长期使用性\n\t能够长期地开展暑期服务工作，保障暑期工作的顺利进行。\n\t≥9090%及以上\n"


def _pasted_documents(folder, first: int, count: int, pasted: bool = True) -> list:
    """Text dumps of sample 004, each its own document (project names suffixed with the copy's
    number), with ``PASTED`` in place of one row of its first project."""
    import re

    text = (SAMPLES / "004_8fe8d81b6e5c8740.txt").read_text(encoding="utf-8")
    assert _REPLACED in text
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(first, first + count):
        body = re.sub(r"(\t项目名称\n\t)([^\n]+)", lambda m: f"{m.group(1)}{m.group(2)}（{index}）", text)
        if pasted:
            body = body.replace(_REPLACED, "".join(f"\t{cell}\n" for cell in PASTED))
        paths.append(folder / f"unit{index:02d}.txt")
        paths[-1].write_text(body, encoding="utf-8")
    return paths


def _unrelated_table(path) -> None:
    pd.DataFrame({"name": ["校园绿化补植面积", "食堂改造完成时间"], "value": ["=1200平方米", "2024年9月底前"]}).to_csv(
        path, index=False, encoding="utf-8-sig")


def _pasted_rows(out) -> pd.DataFrame:
    frame = pd.read_parquet(out / "scored.parquet")
    return frame[frame["name"] == PASTED[0]].sort_values("source_path")


def test_a_row_pasted_across_the_run_is_boilerplate_evidence(tmp_path):
    """The same (name, value) in 4 documents of one run, never in training: scored as one run,
    the repetition rule fires and p_boilerplate rises; each document alone, or --repetition
    document, sees it once (today's behaviour), and the two agree."""
    from budgetnlp.scoring import _model

    assert (PASTED[0], PASTED[2]) not in _model("default").corpus.projects
    paths = _pasted_documents(tmp_path / "in", 0, 4)
    score([tmp_path / "in"], tmp_path / "run", cache=False)
    score([tmp_path / "in"], tmp_path / "document", cache=False, repetition="document")
    for i, path in enumerate(paths):
        score([path], tmp_path / f"alone{i}", cache=False)
    together, by_document = _pasted_rows(tmp_path / "run"), _pasted_rows(tmp_path / "document")
    alone = pd.concat([_pasted_rows(tmp_path / f"alone{i}") for i in range(4)])
    assert len(together) == len(alone) == 4
    assert together["reasons"].str.contains("同一指标“年度工作任务推进情况＝按计划推进”出现在4个项目中（4份文件）").all()
    assert not alone["reasons"].str.contains("出现在").any()
    assert by_document["p_boilerplate"].tolist() == alone["p_boilerplate"].tolist()
    assert by_document["reasons"].tolist() == alone["reasons"].tolist()
    assert (together["p_boilerplate"].to_numpy() > alone["p_boilerplate"].to_numpy()).all()
    assert not (tmp_path / "run" / "rows").exists()  # pass 1's staged rows are never published
    for name in ("run", "document"):
        assert json.loads((tmp_path / name / "summary.json").read_text(encoding="utf-8"))["repetition"] == name


def test_run_counts_with_bad_files_and_workers_match_one_process(tmp_path):
    """A bad file in the batch leaves every other result; workers=2 gives the very same output."""
    _pasted_documents(tmp_path / "in", 0, 3)
    (tmp_path / "in" / "broken.docx").write_bytes(b"PK\x03\x04 this is not a real docx")
    (tmp_path / "in" / "minutes.txt").write_text("会议纪要：讨论食堂菜单。\n", encoding="utf-8")
    runs = [score([tmp_path / "in"], tmp_path / f"w{workers}", cache=False, workers=workers) for workers in (1, 2)]
    for run in runs:
        assert run.rows == 81 and run.documents == 3
        assert [Path(e.path).name for e in run.errors] == ["broken.docx", "minutes.txt"]  # input order
    pd.testing.assert_frame_equal(_frame(tmp_path / "w1"), _frame(tmp_path / "w2"))
    assert _pasted_rows(tmp_path / "w2")["reasons"].str.contains("出现在3个项目中（3份文件）").all()


def test_staged_rows_score_as_a_fresh_extraction(tmp_path, monkeypatch):
    from budgetnlp import scoring

    _pasted_documents(tmp_path / "in", 0, 2)
    score([tmp_path / "in"], tmp_path / "staged", cache=False)
    monkeypatch.setattr(scoring, "_stage_rows", lambda rows, path: None)  # pass 2 extracts again
    score([tmp_path / "in"], tmp_path / "fresh", cache=False)
    pd.testing.assert_frame_equal(_frame(tmp_path / "staged"), _frame(tmp_path / "fresh"))


def test_cache_entries_follow_the_run_counts(tmp_path, monkeypatch):
    """A re-run is served from the cache without reading any document again; another input that
    shares none of a document's keys leaves its entry valid; documents repeating its rows do not."""
    from budgetnlp import scoring

    cache = tmp_path / "cache"
    _pasted_documents(tmp_path / "in", 0, 3)
    assert score([tmp_path / "in"], tmp_path / "a", cache_dir=cache).cached == 0

    def no_reading(*args, **kwargs):
        raise AssertionError("a cached document was read again")

    monkeypatch.setattr(scoring, "_read_unit", no_reading)
    assert score([tmp_path / "in"], tmp_path / "b", cache_dir=cache).cached == 3
    pd.testing.assert_frame_equal(_frame(tmp_path / "a"), _frame(tmp_path / "b"))
    monkeypatch.undo()
    _unrelated_table(tmp_path / "in" / "other.csv")
    run = score([tmp_path / "in"], tmp_path / "c", cache_dir=cache)
    assert (run.documents, run.cached) == (4, 3)
    _pasted_documents(tmp_path / "in", 3, 2)
    run = score([tmp_path / "in"], tmp_path / "d", cache_dir=cache)
    assert (run.documents, run.cached) == (6, 1)  # only the table's counts are unchanged
    assert _pasted_rows(tmp_path / "d")["reasons"].str.contains("出现在5个项目中（5份文件）").all()
    assert score([tmp_path / "in"], tmp_path / "e", cache_dir=cache, repetition="document").cached == 0


def test_a_trained_on_document_is_counted_once():
    """A document the model was trained on adds nothing to the run's counts (training holds its
    rows), yet receives the run's counts for its keys: those of the other documents."""
    from budgetnlp.scoring import RunCounts, _model, _unit_counts

    model = _model("default")
    sample = extract([SAMPLES / "004_8fe8d81b6e5c8740.txt"]).rows
    assert set(sample["doc_id"]) <= set(model.meta["document_ids"])
    own = _unit_counts(sample, model)
    key = ("服务对象满意度", "≥8080%及以上")
    assert own.projects[key] == own.documents[key] == 0 and len(own.projects) == len(set(zip(sample["name"], sample["value"])))
    copy = sample.assign(doc_id="another", project_name=sample["project_name"] + "（1）")
    other = _unit_counts(copy, model)
    projects = sample.loc[(sample["name"] == key[0]) & (sample["value"] == key[1]), "project_name"].nunique()
    assert projects > 1 and (other.projects[key], other.documents[key]) == (projects, 1)
    counts = RunCounts()
    counts.add("sample", own)
    counts.add("copy", other)
    for path in ("sample", "copy"):
        seen = counts.of(path)
        assert (seen.projects[key], seen.documents[key]) == (projects, 1)


@pytest.mark.parametrize("repetition,steps", [("run", 2), ("document", 1)])
def test_progress_moves_in_every_pass_and_ends_at_its_total(tmp_path, repetition, steps):
    """Pass 1 of a run reads every input: the bar moves then too, and every input — scored, bad
    or a repeated file — is counted the same number of times, so the bar ends exactly full."""
    paths = _pasted_documents(tmp_path / "in", 0, 2)
    shutil.copy(paths[0], tmp_path / "in" / "copy.txt")  # same content: scored once
    (tmp_path / "in" / "broken.docx").write_bytes(b"PK\x03\x04 this is not a real docx")
    calls: list[tuple[int, object]] = []
    run = score([tmp_path / "in"], tmp_path / "out", cache=False, repetition=repetition,
                progress=lambda rows, note: calls.append((rows, note)))
    assert run.documents == 2 and len(run.errors) == 1 and len(run.duplicates) == 1
    assert len(calls) == steps * 4
    assert sum(rows for rows, _ in calls) == run.rows
    if repetition == "run":  # the repeated file and pass 1 (reading: no rows yet) come before any scoring
        assert [rows > 0 for rows, _ in calls] == [False] * 6 + [True] * 2
