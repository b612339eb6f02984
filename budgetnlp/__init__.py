"""budgetnlp: reads Chinese public-budget disclosures and flags weak performance targets."""

__version__ = "0.1.0"

from .errors import BudgetNLPError, ConfigError, InputError, ModelError  # noqa: E402
from .extract import extract, extract_file  # noqa: E402

__all__ = sorted(
    [
        "BudgetNLPError",
        "ConfigError",
        "InputError",
        "ModelError",
        "__version__",
        "extract",
        "extract_file",
    ]
)
