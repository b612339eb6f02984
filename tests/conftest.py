"""Fixtures shared by several test modules: the samples extracted once, and their gold dataset."""

from __future__ import annotations

import pandas as pd
import pytest

from budgetnlp.dataset import build_dataset
from budgetnlp.extract import extract

from .helpers import ROOT, SAMPLES


@pytest.fixture(scope="session")
def sample_rows() -> pd.DataFrame:
    """All rows of the three samples (a fresh copy per test that wants to change it: use .copy())."""
    return extract([SAMPLES]).rows


@pytest.fixture(scope="session")
def gold_dataset(sample_rows) -> pd.DataFrame:
    """The samples with the gold annotations joined (all 278 rows gold)."""
    return build_dataset(sample_rows, [ROOT / "data" / "annotations"])
