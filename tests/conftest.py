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


@pytest.fixture(scope="session")
def rows(sample_rows) -> pd.DataFrame:
    """Short name used by most modules (a module may define its own ``rows``)."""
    return sample_rows


@pytest.fixture(scope="session")
def frame(gold_dataset) -> pd.DataFrame:
    return gold_dataset
