"""Shared test helpers: the samples' projects as plain data, to rebuild them in other formats."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from budgetnlp._text import squash
from budgetnlp.extract import extract_file

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
ROW_CELLS = ["level1", "level2", "name", "description", "value", "basis"]
CONTEXT = ["project_code", "project_name", "project_budget", "department", "year"]


def sample_document(file_name: str = "004_8fe8d81b6e5c8740.txt") -> dict:
    """A sample's department, year and projects (each with its rows), as extracted from the text dump."""
    rows = extract_file(SAMPLES / file_name)
    projects = []
    for (code, name), group in rows.groupby(["project_code", "project_name"], sort=False):
        first = group.iloc[0]
        projects.append(
            {
                "code": code,
                "name": name,
                "budget": float(first["project_budget"]),
                "fund_use": first["fund_use"],
                "goals": first["project_goals"],
                "rows": group[ROW_CELLS].to_dict("records"),
            }
        )
    return {
        "department": rows["department"].iloc[0],
        "year": int(rows["year"].iloc[0]),
        "projects": projects,
        "rows": rows,
    }


def comparable(frame: pd.DataFrame) -> list[tuple]:
    """Rows reduced to squashed context + cells, for comparing extractions across formats."""
    out = []
    for record in frame.to_dict("records"):
        budget = record.get("project_budget")
        out.append(
            (
                squash(record["project_code"]),
                squash(record["project_name"]),
                None if budget is None or pd.isna(budget) else round(float(budget), 2),
                squash(record["department"]),
                int(record["year"]) if not pd.isna(record["year"]) else None,
                *(squash(record[c]) for c in ROW_CELLS),
            )
        )
    return out
