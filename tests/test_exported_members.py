"""The public surface is a short sorted __all__ whose names all exist (httpx's habit)."""

import budgetnlp


def test_all_is_sorted_and_complete():
    assert budgetnlp.__all__ == sorted(budgetnlp.__all__)
    for name in budgetnlp.__all__:
        assert hasattr(budgetnlp, name), name
    public = {n for n in dir(budgetnlp) if not n.startswith("_") and callable(getattr(budgetnlp, n))}
    assert public <= set(budgetnlp.__all__), public - set(budgetnlp.__all__)


def test_predict_on_a_plain_frame():
    import pandas as pd

    scored = budgetnlp.predict(pd.DataFrame({"name": ["对农村经济社会发展的贡献"], "value": ["成效明显"]}))
    assert scored.loc[0, "vague"] == 1 and scored.loc[0, "metric_type"] == "text"
