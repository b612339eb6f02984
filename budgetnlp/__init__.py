"""budgetnlp: reads Chinese public-budget disclosures and flags weak performance targets.

    rows = budgetnlp.extract(["data/samples"]).rows      # indicator rows with project context
    scored = budgetnlp.predict(rows)                       # flags, probabilities, reasons, suggestions
    budgetnlp.score(["data/samples"], "out/")              # files and reports for a whole batch
"""

from ._version import __version__
from .errors import BudgetNLPError, ConfigError, InputError, ModelError  # noqa: E402
from .extract import extract, extract_file  # noqa: E402
from .normalize import NormalizedValue, parse_value  # noqa: E402


def load_model(model="default"):
    """Load a model folder ("default", a name under models/, or a path)."""
    from .models import load_model as _load

    return _load(model)


def predict(rows, model="default"):
    """Score a DataFrame of indicator rows (only ``name`` and ``value`` are required) with a model
    (its name, folder or a loaded Model); returns the ScoredRow columns of DESIGN.md + ``suggestion``."""
    loaded = load_model(model) if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__") else model
    return loaded.predict(rows)


def score(inputs, out, model="default", **options):
    """Score files and folders into ``out`` (scored.csv/.parquet/.xlsx, report.html, summary.json, errors.csv)."""
    from .scoring import score as _score

    return _score(inputs, out, model, **options)


__all__ = sorted(
    [
        "BudgetNLPError",
        "ConfigError",
        "InputError",
        "ModelError",
        "NormalizedValue",
        "__version__",
        "extract",
        "extract_file",
        "load_model",
        "parse_value",
        "predict",
        "score",
    ]
)
