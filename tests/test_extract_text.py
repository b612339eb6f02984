"""Fixed points of the text-dump extractor on the bundled samples, and its layout rules."""

from __future__ import annotations

import pandas as pd
import pytest

from budgetnlp.extract import extract_file
from budgetnlp.extract._blocks import Table
from budgetnlp.extract._indicators import rows_from_blocks
from budgetnlp.extract.text import parse_text_dump
from budgetnlp.schema import ROW_COLUMNS

from .helpers import SAMPLES


@pytest.fixture(scope="module")
def rows() -> dict[str, pd.DataFrame]:
    return {path.name[:3]: extract_file(path) for path in sorted(SAMPLES.glob("*.txt"))}


def _tables(frame: pd.DataFrame) -> int:
    return frame[["project_code", "project_name"]].drop_duplicates().shape[0]


def test_001_fixed_points(rows):
    frame = rows["001"]
    assert len(frame) == 48
    assert _tables(frame) == 8
    assert set(frame["year"]) == {2023}
    assert set(frame["department"]) == {"高新区三女河办事处"}


def test_002_fixed_points(rows):
    frame = rows["002"]
    assert len(frame) == 203
    assert _tables(frame) == 27
    assert frame["project_name"].nunique() == 25
    assert set(frame["year"]) == {2024}
    assert "13091124P005271100026" in set(frame["project_code"])
    assert set(frame["department"]) == {"中共河北沧州经济开发区工委组织人事部"}
    # the two projects that share a name have different codes
    shared = frame.groupby("project_name")["project_code"].nunique()
    assert sorted(shared[shared > 1].index) == ["劳动仲裁", "城乡居民养老保险发放及缴费补贴县级配套"]


def test_002_repeated_section_collapsed_keeping_first_location():
    text = (SAMPLES / "002_25a7642d433ed1a7.txt").read_text(encoding="utf-8")
    blocks = parse_text_dump(text)
    all_rows = rows_from_blocks(blocks, "d", "p", dedupe=False)
    once = rows_from_blocks(blocks, "d", "p")
    assert len(all_rows) == 406
    assert len(once) == 203
    first_half = {r["location"] for r in all_rows[:203]}
    assert {r["location"] for r in once} == first_half


def test_004_fixed_points(rows):
    frame = rows["004"]
    assert len(frame) == 27
    assert _tables(frame) == 9
    assert set(frame["year"]) == {2020}
    assert (frame["value"] == "≥9090%及以上").sum() == 18
    assert (frame["value"] == "≥8080%及以上").sum() == 9
    assert (frame["basis"] == "").all()  # empty basis kept empty
    last = frame.iloc[-1]  # the last table ends mid-row: its basis cell is missing
    assert (last["project_name"], last["name"], last["value"]) == ("综合办公楼水电费", "服务对象满意度", "≥8080%及以上")


def test_columns_and_context(rows):
    frame = rows["001"]
    assert list(frame.columns[: len(ROW_COLUMNS)]) == ROW_COLUMNS
    first = frame.iloc[0]
    assert first["project_name"] == "村干部工资、保险和聘用人员工资"
    assert first["project_budget"] == pytest.approx(161.93)
    assert first["fund_use"] == "资金主要用于村干部和聘用人员的基础职务补贴、工资和保险。"
    assert first["project_goals"].splitlines() == [
        "目标1：发放村级人员工资报酬，保障社会稳定。",
        "目标2：以资金执行、支付、按政策执行等进行绩效。",
    ]
    assert first["spend_plan"] == "3月底:25%;6月底:50%;10月底:75%;12月底:100%"
    assert frame["row_id"].is_unique
    assert frame["location"].str.match(r"table \d+, row \d+").all()


def test_levels_carried_down_and_normalized(rows):
    frame = rows["001"]
    project = frame[frame["project_name"] == "村干部工资、保险和聘用人员工资"]
    # "产出\n\n指标" is one merged cell spanning four rows: carried down, line breaks removed
    assert list(project["level1"]) == ["产出指标"] * 4 + ["效果指标", "满意度指标"]
    assert list(project["level1_norm"]) == ["产出指标"] * 4 + ["效益指标", "满意度指标"]
    assert project.iloc[1]["level2"] == "质量指标"
    alias = frame[frame["level2"] == "可持续性影响"]
    assert len(alias) == 2 and set(alias["level2_norm"]) == {"可持续影响指标"}


def test_cell_with_trailing_blank_paragraphs_stays_in_its_row(rows):
    # 002 "资金到位率" is followed by two blank lines and then the rest of its row
    frame = rows["002"]
    row = frame[(frame["project_code"] == "13091124P00584210007N") & (frame["name"] == "资金到位率")].iloc[0]
    assert row["value"] == "≥90%"
    assert row["basis"] == "上级下达任务"
    assert row["description"].startswith("使用罪犯劳动补偿费")


def test_multiline_cell_joined():
    frame = extract_file(SAMPLES / "004_8fe8d81b6e5c8740.txt")
    assert "后勤管理经费到位率" in set(frame["name"])


def test_layout_rules_on_a_small_dump():
    dump = "标题\n\n\t项目名称\n\tX项目\n\n\t一级指标\n\t二级指标\n\t三级指标\n\t指标值\n\n\t产出\n\n指标\n\t数量指标\n\t人数\n\t=5人\n\n\t\n\t\n\t次数\n\t≥1次\n\n\n正文"
    blocks = parse_text_dump(dump)
    assert [type(b).__name__ for b in blocks] == ["Paragraph", "Table", "Paragraph"]
    table = blocks[1]
    assert isinstance(table, Table)
    assert table.rows[2][0] == "产出\n\n指标"
    rows = rows_from_blocks(blocks, "d", "p")
    assert [(r["level1"], r["level2"], r["name"], r["value"]) for r in rows] == [
        ("产出指标", "数量指标", "人数", "=5人"),
        ("产出指标", "数量指标", "次数", "≥1次"),
    ]
    assert rows[0]["project_name"] == "X项目"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk"])
def test_encodings(tmp_path, encoding):
    text = (SAMPLES / "004_8fe8d81b6e5c8740.txt").read_text(encoding="utf-8")
    text = text.replace("“", '"').replace("”", '"') if encoding == "gbk" else text
    path = tmp_path / f"doc-{encoding}.txt"
    path.write_bytes(text.encode(encoding))
    frame = extract_file(path)
    assert len(frame) == 27
    assert frame.iloc[0]["value"] == "≥9090%及以上"


#: (header, rows) of the indicator table: with level columns, and one that opens with 三级指标
GLUED_TABLES = {
    "levels": (
        ["一级指标", "二级指标", "三级指标", "指标值", "指标值确定依据"],
        [["产出指标", "数量指标", "信息员人数", "≥12人", "计划"], ["", "时效指标", "信息报送及时率", "100%", ""]],
    ),
    "names_first": (
        ["三级指标", "指标值", "指标值确定依据"],
        [["信息员人数", "≥12人", "计划"], ["信息报送及时率", "100%", ""]],
    ),
}


def _glued_dump(blank_lines: int, table: str) -> str:
    """Issue 10, class 1: five-cell 资金支出计划 rows, a two-cell 绩效目标 row, then blank lines
    and the indicator header: the header must start its own row, not extend the 绩效目标 row."""
    header, rows = GLUED_TABLES[table]
    lines = [
        "\t项目名称", "\t安全生产信息员", "",
        "\t资金支出计划（%）", "\t3月底", "\t6月底", "\t10月底", "\t12月底", "",
        "\t", "\t25%", "\t50%", "\t75%", "\t100%", "",
        "\t绩效目标", "\t1、及时报送安全生产信息。",
        *[""] * blank_lines,
    ]
    for row in [header, *rows]:
        lines += [*(f"\t{cell}" for cell in row), ""]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("blank_lines", [2, 3, 4])
@pytest.mark.parametrize("table", sorted(GLUED_TABLES))
def test_header_after_blank_lines_is_not_glued_to_a_short_row(blank_lines, table):
    blocks = parse_text_dump(_glued_dump(blank_lines, table))
    tables = [b for b in blocks if isinstance(b, Table)]
    goal_row = next(row for t in tables for row in t.rows if row[0] == "绩效目标")
    assert goal_row == ["绩效目标", "1、及时报送安全生产信息。"]
    rows = rows_from_blocks(blocks, "d", "p")
    assert [(r["name"], r["value"]) for r in rows] == [("信息员人数", "≥12人"), ("信息报送及时率", "100%")]
    assert rows[0]["project_goals"] == "1、及时报送安全生产信息。"
    assert rows[0]["project_name"] == "安全生产信息员"
    assert all(r["extract_warning"] == "" for r in rows)


def test_rows_after_two_or_three_blank_lines_continue_the_table():
    dump = "\t三级指标\n\t指标值\n\n\n\t人数\n\t5人\n\n\n\n\t次数\n\t≥1次\n"
    rows = rows_from_blocks(parse_text_dump(dump), "d", "p")
    assert [(r["name"], r["value"]) for r in rows] == [("人数", "5人"), ("次数", "≥1次")]
