"""Training configuration: a YAML file (the shipped default: budgetnlp/resources/default_config.yaml) → a checked dataclass.

Every tunable value of training and scoring is a field here (none is buried in a backend), with
its default equal to the shipped YAML's value; a test compares the two field by field. A field
added later must default to the behaviour before it existed, so that a saved model folder whose
config lacks it loads and predicts as it did.

Checks happen at the door: ``TrainConfig(...)`` refuses a wrong type or an out-of-range value
naming the option; ``load_config`` adds the file; ``config_from_dict`` is the one reader of a
mapping (a YAML file, a model folder's saved config).
"""

from __future__ import annotations

import difflib
import math
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import yaml

from .errors import ConfigError
from .schema import FLAGS

BACKENDS = ("sklearn", "transformer")
CALIBRATIONS = ("sigmoid", "isotonic")
CLASS_WEIGHTS = ("balanced", "none")
FLAG_INPUTS = ("votes", "rules", "dense")
#: scikit-learn's LogisticRegression solvers that fit a binary problem with sample weights
SOLVERS = ("lbfgs", "liblinear", "newton-cg", "newton-cholesky", "sag", "saga")


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
    #: (0: the flag models read no text)
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
    # sklearn backend: the solvers' settings
    #: solver and iteration limit of the per-flag logistic regressions
    flag_solver: str = "liblinear"
    flag_max_iter: int = 2000
    #: the self-supervised category model (text → level2): its character n-grams, C, iteration
    #: limit and the folds of its out-of-fold self-confidence
    category_ngrams: tuple[int, int] = (1, 2)
    category_c: float = 5.0
    category_max_iter: int = 2000
    category_folds: int = 5
    #: the metric-type models' C is ``c`` times this; their iteration limit
    type_c_scale: float = 5.0
    type_max_iter: int = 3000
    # transformer backend
    model_path: str = ""
    epochs: int = 3
    batch_size: int = 16
    learning_rate: float = 5e-5
    max_length: int = 128
    #: the heads learn from scratch in few steps: their learning rate is the encoder's times this
    head_lr_scale: float = 10.0
    #: share of the optimisation steps spent warming the learning rate up (then linear decay)
    warmup_fraction: float = 0.1
    #: AdamW weight decay (not on biases and norms) and the gradient-norm clip
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    #: share of the rows (whole documents where there are several) held out to choose thresholds
    validation_fraction: float = 0.2

    def __post_init__(self) -> None:
        for f in fields(self):
            setattr(self, f.name, _typed(f.name, f.type, getattr(self, f.name)))
        _check_ranges(self)

    def to_dict(self) -> dict:
        """Plain YAML/JSON types (tuples as lists): what a model folder's config.yaml holds."""
        data = asdict(self)
        for f in fields(self):
            if isinstance(data[f.name], tuple):
                data[f.name] = list(data[f.name])
        return data


# ---------------------------------------------------------------- checks
def _fail(name: str, what: str, value, hint: str = "") -> ConfigError:
    """ConfigError("c must be positive, not -1.0"), with the option's name kept as ``key``."""
    error = ConfigError(f"{name} must be {what}, not {value!r}{hint}")
    error.key = name
    return error


def _number(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        hint = ""
        if isinstance(value, str):
            try:
                float(value)
                hint = " (quoted, or an exponent without a dot, which YAML reads as text: write 5.0e-5)"
            except ValueError:
                pass
        raise _fail(name, "a number", value, hint)
    if not math.isfinite(value):
        raise _fail(name, "a finite number", value)
    return float(value)


def _typed(name: str, annotation: str, value):
    """``value`` as the field's type (ints accepted for floats, lists for tuples), else ConfigError."""
    if annotation == "str":
        if not isinstance(value, str):
            raise _fail(name, "text", value)
        return value
    if annotation == "bool":
        if not isinstance(value, bool):
            raise _fail(name, "true or false", value)
        return value
    if annotation == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(name, "a whole number", value)
        return value
    if annotation == "float":
        return _number(name, value)
    if annotation == "list[str]":
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise _fail(name, "a list of names", value)
        return list(value)
    if annotation == "list[float]":
        if not isinstance(value, (list, tuple)):
            raise _fail(name, "a list of numbers", value)
        try:
            return [_number(name, v) for v in value]
        except ConfigError:
            raise _fail(name, "a list of numbers", value) from None
    if annotation == "tuple[int, int]":
        if (not isinstance(value, (list, tuple)) or len(value) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
            raise _fail(name, "[low, high], two whole numbers", value)
        return tuple(value)
    if annotation == "dict[str, float]":
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise _fail(name, "a mapping of names to numbers", value)
        try:
            return {k: _number(name, v) for k, v in value.items()}
        except ConfigError:
            raise _fail(name, "a mapping of names to numbers", value) from None
    raise TypeError(f"TrainConfig.{name}: no check for the annotation {annotation!r}")  # a new field's type


def _check_ranges(config: TrainConfig) -> None:
    def require(ok: bool, name: str, what: str) -> None:
        if not ok:
            raise _fail(name, what, getattr(config, name))

    for name, choices in (("backend", BACKENDS), ("calibration", CALIBRATIONS), ("class_weight", CLASS_WEIGHTS),
                          ("flag_solver", SOLVERS)):
        require(getattr(config, name) in choices, name, " or ".join(repr(c) for c in choices))
    require(0 <= config.seed < 2**32, "seed", "a whole number in [0, 2**32)")
    for name in ("c", "category_c", "type_c_scale", "learning_rate", "head_lr_scale", "max_grad_norm"):
        require(getattr(config, name) > 0, name, "positive")
    for name in ("calibration_folds", "threshold_folds", "category_folds"):
        require(getattr(config, name) >= 2, name, "at least 2")
    for name in ("min_df", "flag_max_iter", "category_max_iter", "type_max_iter", "epochs", "batch_size", "max_length"):
        require(getattr(config, name) >= 1, name, "a positive whole number")
    for name in ("text_weight", "weight_decay", "threshold_margin"):
        require(getattr(config, name) >= 0, name, "zero or positive")
    require(config.explain_tokens >= 0, "explain_tokens", "zero or positive")
    require(config.threshold_margin < 1, "threshold_margin", "below 1 (an F1 gain)")
    require(0.5 <= config.metric_type_override <= 1.0, "metric_type_override", "in [0.5, 1]")
    require(0.0 <= config.group_weight_power <= 1.0, "group_weight_power", "in [0, 1]")
    require(0.0 <= config.warmup_fraction < 1.0, "warmup_fraction", "in [0, 1)")
    require(0.0 < config.validation_fraction < 1.0, "validation_fraction", "in (0, 1)")
    for name in ("char_ngrams", "category_ngrams"):
        low, high = getattr(config, name)
        require(1 <= low <= high, name, "[low, high] with 1 ≤ low ≤ high")
    require(bool(config.flag_inputs) and set(config.flag_inputs) <= set(FLAG_INPUTS), "flag_inputs",
            f"a non-empty list of {', '.join(FLAG_INPUTS)}")
    require(bool(config.threshold_grid) and all(0 < t < 1 for t in config.threshold_grid), "threshold_grid",
            "a non-empty list of numbers in (0, 1)")
    weights = config.risk_weights
    require(sorted(weights) == sorted(FLAGS) and all(w >= 0 for w in weights.values()) and sum(weights.values()) > 0,
            "risk_weights", f"a weight ≥ 0 for each of {', '.join(FLAGS)} (not all 0)")


# ---------------------------------------------------------------- reading
OPTIONS = tuple(f.name for f in fields(TrainConfig))


def _unknown_message(unknown: list[str]) -> str:
    named = []
    for key in unknown:
        close = difflib.get_close_matches(key, OPTIONS, n=1)
        named.append(f"{key} (did you mean {close[0]}?)" if close else key)
    return f"unknown config option(s): {', '.join(named)}"


def config_from_dict(data: Mapping, source: str = "", *, unknown: str = "error") -> TrainConfig:
    """A checked TrainConfig from a mapping of options; errors name ``source`` (a file) and the
    option. Missing options take their defaults. ``unknown``: "error" (a user's file: a typo must
    not be silently ignored), "warn" or "ignore" (a saved model folder written by another
    budgetnlp version: its fitted estimator holds what the option did)."""
    prefix = f"{source}: " if source else ""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{prefix}expected a mapping of options, not {type(data).__name__}")
    extra = sorted(str(k) for k in data if k not in OPTIONS)
    if extra and unknown == "error":
        raise ConfigError(prefix + _unknown_message(extra))
    if extra and unknown == "warn":
        warnings.warn(f"{prefix}ignoring {_unknown_message(extra)} (written by another budgetnlp version?)", stacklevel=2)
    try:
        return TrainConfig(**{k: v for k, v in data.items() if k in OPTIONS})
    except ConfigError as exc:
        if not prefix:
            raise
        error = ConfigError(f"{prefix}{exc}")
        error.__dict__.update(exc.__dict__)
        raise error from None


def load_config(path: str | Path | None = None, **overrides) -> TrainConfig:
    """Read a YAML config (unknown keys are an error), then apply command-line overrides
    (``None``: not given). Errors name the file (or the command line) and the option, e.g.
    ``configs/x.yaml: c must be positive, not -1.0``."""
    data: dict = {}
    source = ""
    if path is not None:
        path = Path(path)
        source = str(path)
        if not path.is_file():
            raise ConfigError(f"{path}: no such config file")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not UTF-8 text") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of options, not {type(data).__name__}")
    given = {k: v for k, v in overrides.items() if v is not None}
    for where, options in ((source, data), ("command line", given)):
        extra = sorted(str(k) for k in options if k not in OPTIONS)
        if extra:
            raise ConfigError(f"{where + ': ' if where else ''}{_unknown_message(extra)}")
    try:
        return config_from_dict({**data, **given})
    except ConfigError as exc:
        where = "command line" if getattr(exc, "key", None) in given else source
        if not where:
            raise
        error = ConfigError(f"{where}: {exc}")
        error.__dict__.update(exc.__dict__)
        raise error from None
