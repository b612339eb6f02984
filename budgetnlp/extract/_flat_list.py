"""Flat indicator lists, whatever the format: one header row holding 项目名称 next to 三级指标, one
row per indicator, the project repeated or merged down on every row (an xlsx sheet, a Word or
HTML table, a text dump).

``flat_list_blocks`` turns such a grid into one table per project: a 项目名称/项目编码/预算数 label
row, 资金用途 and 绩效目标 rows where the list has such columns, then the header row(s) and the
project's indicator rows, which is the layout the shared row finder (``_indicators``) reads. The
Excel reader splits its sheets' tables as it builds them; the row finder splits the tables of
every other format.
"""

from __future__ import annotations

import re

from .._text import nfkc, squash
from ._blocks import Block, Paragraph, Table
from ._headers import BUDGET_LABEL, CODE_LABELS, GOAL_LABELS, NAME_LABELS, cell_field, find_header

_UNIT_NAME_LABELS = {"单位名称", "预算单位", "部门名称", "预算单位名称", "部门(单位)名称"}
_UNIT_CODE_LABELS = {"单位编码", "单位代码", "预算单位编码", "部门编码", "部门代码"}
_SERIAL_LABELS = {"序号", "编号", "行次"}


def _is_flat_header(row: list[str]) -> bool:
    return any(squash(cell) in NAME_LABELS for cell in row) and find_header([row]) is not None


def _column_role(cell: str) -> str | None:
    key = squash(cell)
    if key in NAME_LABELS:
        return "name"
    if key in CODE_LABELS:
        return "code"
    if BUDGET_LABEL.match(key):
        return "budget"
    if "资金用途" in key:
        return "fund_use"
    if key in GOAL_LABELS:
        return "goals"
    if key in _UNIT_NAME_LABELS:
        return "department"
    if key in _UNIT_CODE_LABELS:
        return "unit_code"
    if key in _SERIAL_LABELS:
        return "serial"
    return None


def flat_list_blocks(grid: list[list[str]]) -> list[Block] | None:
    """A flat indicator list as one table per project, or None when ``grid`` is not one."""
    index = next((i for i, row in enumerate(grid) if _is_flat_header(row)), None)
    if index is None:
        return None
    header_rows = [grid[index]]
    below = grid[index + 1] if index + 1 < len(grid) else []
    if sum(1 for cell in below if cell_field(cell)) >= 2 and not any(cell_field(c) == "name" for c in below):
        header_rows.append(below)
    roles = {col: role for col, cell in enumerate(grid[index]) if (role := _column_role(cell))}
    kept = [col for col in range(len(grid[index])) if col not in roles]
    labels = {role: grid[index][col] for col, role in roles.items()}
    columns = {role: col for col, role in reversed(list(roles.items()))}

    projects: list[dict] = []
    for row in grid[index + len(header_rows):]:
        if _is_flat_header(row) or not any(cell.strip() for cell in row):
            continue
        values = {role: row[col].strip() if col < len(row) else "" for role, col in columns.items()}
        key = (squash(values.get("name", "")), squash(values.get("code", "")))
        if not any(key) and projects:
            project = projects[-1]
        elif projects and key == projects[-1]["key"]:
            project = projects[-1]
        else:
            project = {"key": key, "values": {}, "rows": []}
            projects.append(project)
        for role, value in values.items():
            if value and not project["values"].get(role):
                project["values"][role] = value
        project["rows"].append([row[col] if col < len(row) else "" for col in kept])

    blocks: list[Block] = []
    if index:
        blocks.append(Table(rows=grid[:index]))
    departments = {squash(p["values"].get("department", "")) for p in projects} - {""}
    if len(departments) == 1:
        name = next(p["values"]["department"] for p in projects if p["values"].get("department"))
        blocks.append(Paragraph(f"预算单位：{name}"))
    for project in projects:
        values = project["values"]
        label_row = [labels.get("name", "项目名称"), values.get("name", "")]
        for role in ("code", "budget"):
            if role in labels:
                value = values.get(role, "")
                if role == "budget" and value and re.fullmatch(r"[\d,.\s]+", value):
                    unit = re.search(r"\((万元|元|亿元)\)$", nfkc(labels[role]))
                    value += unit.group(1) if unit else ""
                label_row += [labels[role], value]
        rows = [label_row]
        unit_code = re.sub(r"\s", "", values.get("unit_code", ""))
        if values.get("department") and re.fullmatch(r"\d{3,}", unit_code):
            rows.append([f"{unit_code}{values['department']}"])  # read like a unit line "430002XX局"
        for role in ("fund_use", "goals"):
            if values.get(role):
                rows.append([labels[role], values[role]])
        rows.extend([row[col] if col < len(row) else "" for col in kept] for row in header_rows)
        rows.extend(project["rows"])
        width = max(len(row) for row in rows)
        blocks.append(Table(rows=[row + [""] * (width - len(row)) for row in rows]))
    return blocks
