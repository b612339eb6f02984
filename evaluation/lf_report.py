"""Each labeling function's coverage, overlap, conflicts and accuracy on the gold rows
(in the manner of Snorkel's LFAnalysis), then each flag's rules combined by majority vote.

    python evaluation/lf_report.py [--rows ROWS] [--annotations data/annotations]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from budgetnlp.dataset import join_annotations, load_annotations
from budgetnlp.extract import extract
from budgetnlp.io import read_table
from budgetnlp.rules import ABSTAIN, LABELING_FUNCTIONS, apply_rules
from budgetnlp.schema import FLAGS

ROOT = Path(__file__).resolve().parents[1]


def lf_table(votes: pd.DataFrame, gold: pd.DataFrame) -> pd.DataFrame:
    flag_of = {lf.name: lf.flag for lf in LABELING_FUNCTIONS}
    vote_of = {lf.name: lf.vote for lf in LABELING_FUNCTIONS}
    lines = []
    for name in votes.columns:
        flag = flag_of[name]
        mine = votes[name].to_numpy()
        others = votes[[c for c in votes.columns if flag_of[c] == flag and c != name]].to_numpy()
        fired = mine != ABSTAIN
        other_fired = (others != ABSTAIN).any(axis=1) if others.size else np.zeros(len(mine), bool)
        conflict = fired & ((others != ABSTAIN) & (others != mine[:, None])).any(axis=1) if others.size else fired & False
        truth = gold[flag].astype(int).to_numpy()
        correct = (mine == truth) & fired
        lines.append(
            {
                "flag": flag,
                "rule": name,
                "votes": vote_of[name],
                "coverage": fired.mean(),
                "overlap": (fired & other_fired).mean(),
                "conflicts": conflict.mean(),
                "correct": int(correct.sum()),
                "incorrect": int((fired & ~correct).sum()),
                "accuracy": correct.sum() / fired.sum() if fired.any() else np.nan,
            }
        )
    return pd.DataFrame(lines)


def majority(votes: pd.DataFrame, flag: str) -> np.ndarray:
    """Majority of the non-abstaining votes for ``flag``; ties and no votes → 0."""
    columns = [lf.name for lf in LABELING_FUNCTIONS if lf.flag == flag]
    v = votes[columns].to_numpy()
    ones, zeros = (v == 1).sum(axis=1), (v == 0).sum(axis=1)
    return (ones > zeros).astype(int)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=Path, help="row table (default: extract data/samples)")
    parser.add_argument("--annotations", type=Path, nargs="+", default=[ROOT / "data" / "annotations"])
    args = parser.parse_args()
    rows = read_table(args.rows) if args.rows else extract([ROOT / "data" / "samples"]).rows
    gold = join_annotations(rows, load_annotations(args.annotations))
    gold = gold[gold["vague"].notna()].reset_index(drop=True)
    votes = apply_rules(gold).votes
    pd.set_option("display.width", 200)
    table = lf_table(votes, gold)
    print(f"{len(gold)} gold rows, {len(table)} labeling functions\n")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    print("\nmajority vote of each flag's rules against gold:")
    for flag in FLAGS:
        truth = gold[flag].astype(int).to_numpy()
        pred = majority(votes, flag)
        tp = int(((pred == 1) & (truth == 1)).sum())
        precision = tp / max(pred.sum(), 1)
        recall = tp / max(truth.sum(), 1)
        f1 = 2 * precision * recall / max(precision + recall, 1e-9)
        print(f"  {flag:18s} precision {precision:.2f}  recall {recall:.2f}  F1 {f1:.2f}")


if __name__ == "__main__":
    main()
