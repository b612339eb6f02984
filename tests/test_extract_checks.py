"""Self-checks of the column mapping (issue 10, class 4): a table whose header does not fit its
cells is read with the assignment that does fit (and says so), or flagged — never silently misread."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from budgetnlp.cli import app
from budgetnlp.extract import extract_file
from budgetnlp.extract._headers import find_header as _find_header
from budgetnlp.extract._indicators import checked_header
from budgetnlp.io import extract_warnings

from .helpers import SAMPLES, comparable

SAMPLE_004 = SAMPLES / "004_8fe8d81b6e5c8740.txt"
HEADER_LINES = "\t一级指标\n\t二级指标\n\t三级指标\n"


def shifted_dump(extra: int = 2) -> str:
    """Sample 004 (a dump of the samples' family) with ``extra`` leading cells in every indicator
    header row: read as printed, level1 gets the 三级指标, name the 指标值 and value nothing."""
    text = SAMPLE_004.read_text(encoding="utf-8")
    assert text.count(HEADER_LINES) == 9
    lead = "".join(f"\t{cell}\n" for cell in ("序号", "指标类型", "栏目", "备注")[:extra])
    return text.replace(HEADER_LINES, lead + HEADER_LINES)


@pytest.fixture(scope="module")
def sample_004() -> pd.DataFrame:
    return extract_file(SAMPLE_004)


@pytest.mark.parametrize("extra", [1, 2, 3])
def test_header_shifted_by_n_columns_is_read_at_the_right_columns_and_said(tmp_path, sample_004, extra):
    path = tmp_path / "shifted.txt"
    path.write_text(shifted_dump(extra), encoding="utf-8")
    frame = extract_file(path)
    assert comparable(frame) == comparable(sample_004)
    assert frame["extract_warning"].str.contains(f"错开{extra}列").all()
    assert frame["extract_warning"].str.contains("三级指标列多像指标值|指标值列多为空|一级指标列多不是指标类别").all()


def test_samples_pass_the_checks_silently(sample_rows):
    assert (sample_rows["extract_warning"] == "").all()


def _swapped_header_dump() -> str:
    """Sample 004 with 二级指标/三级指标 swapped in the header only: no whole shift fits it."""
    text = SAMPLE_004.read_text(encoding="utf-8")
    return text.replace(HEADER_LINES, "\t一级指标\n\t三级指标\n\t二级指标\n")


def test_a_mapping_no_alternative_fixes_is_flagged(tmp_path):
    path = tmp_path / "swapped.txt"
    path.write_text(_swapped_header_dump(), encoding="utf-8")
    frame = extract_file(path)
    assert len(frame) == 27
    assert frame["extract_warning"].str.startswith("列检查未通过").all()
    assert frame["extract_warning"].str.contains("二级指标列多不是指标类别|三级指标列多是指标类别名").all()


def _table(header: list[str], rows: list[list[str]]) -> list[list[str]]:
    return [header, *rows]


ROWS = [
    ["产出指标", "数量指标", "培训人次", "≥280人次"],
    ["", "质量指标", "验收合格率", "100%"],
    ["效益指标", "社会效益指标", "群众知晓率", "≥90%"],
    ["满意度指标", "服务对象满意度指标", "服务对象满意度", "≥95%"],
]
HEADER = ["一级指标", "二级指标", "三级指标", "指标值"]


@pytest.mark.parametrize("shift", [-3, -2, -1, 1, 2, 3])
def test_checked_header_finds_the_shift(shift):
    pad = abs(shift)
    if shift > 0:  # the header printed right of its columns
        rows = _table([""] * pad + HEADER, [row + [""] * pad for row in ROWS])
    else:  # the rows carry leading cells the header lacks (serial numbers)
        rows = _table(HEADER + [""] * pad, [[str(i)] * pad + row for i, row in enumerate(ROWS, 1)])
    header = _find_header(rows)
    fixed, warning = checked_header(rows, header)
    assert fixed.columns == {name: col - shift for name, col in header.columns.items()}
    side = "左" if shift > 0 else "右"
    assert f"错开{pad}列" in warning and f"{side}移" in warning


def test_checked_header_leaves_a_good_table_alone():
    rows = _table(HEADER, ROWS)
    header = _find_header(rows)
    assert checked_header(rows, header) == (header, "")


def test_textual_values_and_score_notes_are_no_problem():
    rows = _table(HEADER, [
        ["产出指标(50分)", "时效指标", "完成时限", "2021年12月底完成项目规划相关工作。"],
        ["", "质量指标", "项目质量", "严格执行相关财经法规制度"],
        ["成本指标(0-20)分", "经济成本指标", "成本控制", "按照资金测算控制各项成本。"],
        ["(50分)", "社会效益指标", "项目区农村基础设施条件", "持续改善"],
    ])
    header = _find_header(rows)
    assert checked_header(rows, header)[1] == ""


def test_cli_writes_one_warning_line_per_file_and_table(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "shifted.txt").write_text(shifted_dump(2), encoding="utf-8")
    (folder / "swapped.txt").write_text(_swapped_header_dump(), encoding="utf-8")
    out = tmp_path / "rows.csv"
    run = CliRunner().invoke(app, ["extract", str(folder), "-o", str(out)])
    assert run.exit_code == 0, run.output
    errors = pd.read_csv(tmp_path / "rows.errors.csv", encoding="utf-8-sig", keep_default_na=False)
    warnings = errors[errors["kind"] == "warning"]
    assert len(warnings) == 18  # nine tables in each file
    assert not warnings.duplicated(["path", "location", "reason"]).any()
    assert set(warnings["path"].map(lambda p: Path(p).name)) == {"shifted.txt", "swapped.txt"}
    assert warnings["location"].str.fullmatch(r"table \d+").all()
    rows = pd.read_csv(out, encoding="utf-8-sig", keep_default_na=False)
    assert (rows["extract_warning"] != "").all()
    assert "18 warnings" in run.output


def test_extract_warnings_of_a_frame_without_the_column():
    assert extract_warnings(pd.DataFrame({"name": ["x"]})) == []
