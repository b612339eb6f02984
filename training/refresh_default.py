"""Maintainers: refresh the default model shipped inside the package from data/ (the samples and
the gold annotations): the labelled rows it is trained on (budgetnlp/resources/default_dataset.parquet,
all `budgetnlp model rebuild` needs on a user's machine) and the model itself
(budgetnlp/resources/models/default), with the shipped config (budgetnlp/resources/default_config.yaml).

    python training/refresh_default.py [--no-cv]

tests/test_package.py checks that data/, the shipped rows and the shipped model agree (one data hash).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from budgetnlp.config import load_config
from budgetnlp.dataset import build_dataset
from budgetnlp.extract import extract
from budgetnlp.models import SHIPPED_MODELS
from budgetnlp.training import DEFAULT_CONFIG, DEFAULT_DATASET, train

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-cv", dest="cv", action="store_false", help="skip the cross-validated metrics")
    args = parser.parse_args()
    config = load_config(DEFAULT_CONFIG)
    frame = build_dataset(extract([ROOT / "data" / "samples"]).rows, [ROOT / "data" / "annotations"], seed=config.seed)
    frame.to_parquet(DEFAULT_DATASET, index=False)
    model = train(frame, config, SHIPPED_MODELS / "default", force=True, cv=args.cv)
    print(f"{len(frame)} rows → {DEFAULT_DATASET}; model {model.label} → {model.folder}")


if __name__ == "__main__":
    main()
