"""The layout zoo (tests/zoo.py): real rows rendered into hypothesis-drawn layouts of each format
come back exactly, with no self-check warning; a header printed out of line with its rows comes
back exactly too, with a warning saying so.

A seeded (derandomized) run of a few hundred layouts; evaluation/zoo_report.py runs a longer one.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from budgetnlp.extract import extract_file

from .zoo import expected_rows, layout_specs, layout_strategy, mismatches, render

#: layouts per format in the normal suite (docx/xlsx cost more to write than text/html)
EXAMPLES = {"text": 90, "html": 70, "docx": 40, "xlsx": 45}


def _round_trip(layout):
    with tempfile.TemporaryDirectory() as folder:
        return extract_file(render(layout, Path(folder)))


def _settings(examples: int):
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@pytest.mark.parametrize("fmt", sorted(EXAMPLES))
def test_zoo_round_trip(fmt):
    @_settings(EXAMPLES[fmt])
    @given(layout_strategy(formats=(fmt,)))
    def check(layout):
        frame = _round_trip(layout)
        assert mismatches(frame, layout) == [], layout
        assert (frame["extract_warning"] == "").all(), (frame["extract_warning"].iloc[0], layout)

    check()


@pytest.mark.parametrize("shift", [-2, -1, 1, 2])
def test_zoo_shifted_header_is_corrected_and_said(shift):
    layouts = [
        replace(layout, header_shift=shift)
        for layout in layout_specs(40, seed=100 + shift, added=True)
        if layout.context != "flat"
    ][:12]
    for layout in layouts:
        frame = _round_trip(layout)
        assert mismatches(frame, layout) == [], layout
        assert frame["extract_warning"].str.contains(f"错开{abs(shift)}列").all(), layout


def test_specs_are_reproducible_and_varied():
    first, again = layout_specs(60, seed=5, added=True), layout_specs(60, seed=5, added=True)
    assert first == again
    base = layout_specs(60, seed=5)  # the same layouts without the added dimensions
    assert [replace(b, columns=f.columns, headers=f.headers, header_breaks=f.header_breaks) for b, f in zip(base, first)] == first
    assert any("serial" in layout.columns for layout in first) and any(layout.header_breaks for layout in first)
    assert {layout.format for layout in first} == {"text", "docx", "xlsx", "html"}
    assert len({layout.value_style for layout in first}) == 5
    assert len({layout.context for layout in first}) >= 6
    assert all(expected_rows(layout) for layout in first)
