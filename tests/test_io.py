"""Row tables on disk: a CSV meant for spreadsheets never carries a live formula, and comes back as written."""

from __future__ import annotations

import pandas as pd
import pytest

from budgetnlp.io import read_table, write_table

CELLS = ["=78人", "=HYPERLINK(\"http://x\",\"点击\")", "+1", "-5%", "@SUM(A1)", "'=already quoted", "≥90%", ""]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_row_table_round_trips_every_cell(tmp_path, suffix):
    frame = pd.DataFrame({"name": [f"指标{i}" for i in range(len(CELLS))], "value": CELLS})
    path = write_table(frame, tmp_path / f"rows{suffix}")
    back = read_table(path)
    assert back["value"].fillna("").tolist() == CELLS


def test_csv_cells_open_as_text_in_a_spreadsheet(tmp_path):
    frame = pd.DataFrame({"name": ["a", "b"], "value": ["=cmd|' /C calc'!A0", "=78人"]})
    raw = pd.read_csv(write_table(frame, tmp_path / "rows.csv"), encoding="utf-8-sig", dtype=str)
    assert raw["value"].tolist() == ["'=cmd|' /C calc'!A0", "'=78人"]  # a leading apostrophe: shown, never run
