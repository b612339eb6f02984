"""Training configuration: a YAML file (the shipped default: budgetnlp/resources/default_config.yaml) → a checked dataclass."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import yaml

from .errors import ConfigError


@dataclass
class TrainConfig:
    """Everything a user may tune about training; defaults match budgetnlp/resources/default_config.yaml."""

    backend: str = "sklearn"
    seed: int = 0
    #: inverse regularisation of the per-flag logistic regressions
    c: float = 3.0
    #: calibration of flag probabilities: "sigmoid" (Platt) or "isotonic"
    calibration: str = "sigmoid"
    #: grouped folds (whole documents/sources) of each flag's calibration
    calibration_folds: int = 3
    #: calibrate on grouped folds (whole sources held out) rather than stratified ones
    calibration_grouped: bool = True
    #: the category model's out-of-fold self-confidence over grouped folds
    category_grouped: bool = True
    #: grouped folds of the out-of-fold probabilities each flag's threshold is chosen on
    threshold_folds: int = 5
    #: class weighting of the flag regressions: "balanced" or "none"
    class_weight: str = "none"
    #: a group (document, source) of n rows weighs n**power in the flag models (1: rows count
    #: the same; 0: groups count the same)
    group_weight_power: float = 1.0
    #: what each flag model reads besides text: "votes" (its rules' vote summary), "rules" (its
    #: rules one by one), "dense" (parsed value, category, repetition and overlap features)
    flag_inputs: list[str] = field(default_factory=lambda: ["votes"])
    char_ngrams: tuple[int, int] = (1, 3)
    min_df: int = 1
    #: scale of the text blocks (words, characters) against the rule/value/category features
    text_weight: float = 0.1
    #: candidate decision thresholds, chosen per flag by grouped cross-validation
    threshold_grid: list[float] = field(default_factory=lambda: [round(0.05 * i, 2) for i in range(2, 19)])
    #: a threshold moves away from 0.5 only when it raises the out-of-fold F1 by this much
    threshold_margin: float = 0.02
    #: the parser's metric_type is overruled only at this model confidence or above
    metric_type_override: float = 0.99
    #: how many tokens to name in a flag's explanation
    explain_tokens: int = 3
    #: weights of the four flag probabilities in the risk score
    risk_weights: dict[str, float] = field(
        default_factory=lambda: {"vague": 1.0, "boilerplate": 0.6, "category_mismatch": 0.8, "unmeasurable": 1.2}
    )
    # transformer backend
    model_path: str = ""
    epochs: int = 3
    batch_size: int = 16
    learning_rate: float = 5e-5
    max_length: int = 128

    def __post_init__(self) -> None:
        if self.backend not in {"sklearn", "transformer"}:
            raise ConfigError(f"backend must be 'sklearn' or 'transformer', not {self.backend!r}")
        if self.calibration not in {"sigmoid", "isotonic"}:
            raise ConfigError(f"calibration must be 'sigmoid' or 'isotonic', not {self.calibration!r}")
        if self.c <= 0:
            raise ConfigError(f"c must be positive, not {self.c}")
        if not 0.5 <= self.metric_type_override <= 1.0:
            raise ConfigError("metric_type_override must lie in [0.5, 1]")
        self.char_ngrams = tuple(self.char_ngrams)
        if len(self.char_ngrams) != 2 or not 1 <= self.char_ngrams[0] <= self.char_ngrams[1]:
            raise ConfigError(f"char_ngrams must be [low, high] with 1 ≤ low ≤ high, not {self.char_ngrams}")
        if self.class_weight not in {"balanced", "none"}:
            raise ConfigError(f"class_weight must be 'balanced' or 'none', not {self.class_weight!r}")
        if not 0.0 <= self.group_weight_power <= 1.0:
            raise ConfigError("group_weight_power must lie in [0, 1]")
        unknown = set(self.flag_inputs) - {"votes", "rules", "dense"}
        if not self.flag_inputs or unknown:
            raise ConfigError(f"flag_inputs must be a non-empty list of votes, rules, dense (not {sorted(unknown)})")
        if self.calibration_folds < 2 or self.threshold_folds < 2:
            raise ConfigError("calibration_folds and threshold_folds must be at least 2")
        if not self.threshold_grid or not all(0 < t < 1 for t in self.threshold_grid):
            raise ConfigError("threshold_grid must be a non-empty list of numbers in (0, 1)")

    def to_dict(self) -> dict:
        data = asdict(self)
        data["char_ngrams"] = list(self.char_ngrams)
        return data


def load_config(path: str | Path | None = None, **overrides) -> TrainConfig:
    """Read a YAML config (unknown keys are an error), then apply command-line overrides."""
    data: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: no such config file")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of options")
    data.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown config option(s): {', '.join(unknown)}")
    try:
        return TrainConfig(**data)
    except TypeError as exc:
        raise ConfigError(str(exc)) from None
