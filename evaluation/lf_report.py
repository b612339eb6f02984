"""Each labeling function's coverage, overlap, conflicts and accuracy on the gold rows (in the
manner of Snorkel's LFAnalysis), its coverage and precision per source group, then each flag's
rules combined by majority vote.

Groups: each sample document (gold.csv joined to the extracted rows) and each locality source
(gold_localities.csv: rows built from the annotation's own cells by
``budgetnlp.dataset.rows_from_annotations``). "Precision" of a rule is the share of the rows it
fires on whose gold label equals its vote — so a rule that transfers keeps it on the localities.
The locality sources of evaluation/holdout_sources.txt are left out unless ``--include-holdout``.

Repetition evidence (repeated_in_corpus) is counted over the batch being reported on — every
row of the sample documents and of the locality sources together — as at scoring time, where
the run's own rows are counted with the training corpus.

    python evaluation/lf_report.py [--include-holdout] [--rows ROWS] [--annotations FILE_OR_DIR ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from budgetnlp.corpus import CorpusStats
from budgetnlp.dataset import join_annotations, load_annotations, rows_from_annotations
from budgetnlp.extract import extract
from budgetnlp.io import read_table
from budgetnlp.rules import ABSTAIN, LABELING_FUNCTIONS, apply_rules
from budgetnlp.schema import FLAGS

ROOT = Path(__file__).resolve().parents[1]
HOLDOUT_FILE = ROOT / "evaluation" / "holdout_sources.txt"
#: a rule whose precision on the localities falls this far below its vote does not transfer
TRANSFER_PRECISION = 0.7


def default_annotations() -> list[Path]:
    """data/annotations/gold.csv and gold_localities.csv (falling back to ../shared/annotations)."""
    files = []
    for name in ("gold.csv", "gold_localities.csv"):
        for folder in (ROOT / "data" / "annotations", ROOT.parent / "shared" / "annotations"):
            if (folder / name).is_file():
                files.append(folder / name)
                break
    return files


def holdout_sources() -> set[str]:
    return set(HOLDOUT_FILE.read_text(encoding="utf-8").split()) if HOLDOUT_FILE.is_file() else set()


def gold_rows(rows: pd.DataFrame, annotation_files, include_holdout: bool = False) -> pd.DataFrame:
    """Gold rows of both kinds with ``group`` and ``source_kind`` columns (holdout left out by default)."""
    annotations = load_annotations(annotation_files)
    own = annotations["source_id"].fillna("").astype(str).str.strip() != ""
    if not include_holdout:
        annotations = annotations[~own | ~annotations["source_id"].isin(holdout_sources())]
        own = annotations["source_id"].fillna("").astype(str).str.strip() != ""
    parts = []
    if (~own).any():
        joined = join_annotations(rows, annotations[~own])
        joined = joined[joined["vague"].notna()].copy()
        joined["group"] = joined["doc_id"].astype(str)
        joined["source_kind"] = "document"
        parts.append(joined)
    if own.any():
        parts.append(rows_from_annotations(annotations[own]))
    gold = pd.concat(parts, ignore_index=True)
    return gold[gold["vague"].notna()].reset_index(drop=True)


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


def group_table(votes: pd.DataFrame, gold: pd.DataFrame) -> pd.DataFrame:
    """One line per (rule, group): rows, rows fired on, coverage, precision (correct / fired)."""
    flag_of = {lf.name: lf.flag for lf in LABELING_FUNCTIONS}
    groups = gold["group"].astype(str).to_numpy()
    kinds = gold["source_kind"].astype(str).to_numpy()
    lines = []
    for name in votes.columns:
        mine = votes[name].to_numpy()
        truth = gold[flag_of[name]].astype(int).to_numpy()
        for group in dict.fromkeys(groups):
            mask = groups == group
            fired = mask & (mine != ABSTAIN)
            correct = int((fired & (mine == truth)).sum())
            lines.append({
                "rule": name, "group": group, "kind": kinds[mask][0], "rows": int(mask.sum()),
                "fired": int(fired.sum()), "coverage": fired.sum() / mask.sum(),
                "precision": correct / fired.sum() if fired.any() else np.nan, "correct": correct,
            })
    return pd.DataFrame(lines)


def transfer_table(per_group: pd.DataFrame) -> pd.DataFrame:
    """Per rule: coverage and pooled precision on the documents and on the localities, the number
    of locality groups it fires in, and those where it is wrong more often than right."""
    lines = []
    for rule, rows in per_group.groupby("rule", sort=False):
        line = {"rule": rule}
        for kind, short in (("document", "doc"), ("locality", "loc")):
            part = rows[rows["kind"] == kind]
            fired, total = part["fired"].sum(), part["rows"].sum()
            line[f"{short}_cov"] = fired / total if total else np.nan
            line[f"{short}_prec"] = part["correct"].sum() / fired if fired else np.nan
            line[f"{short}_fired"] = int(fired)
        local = rows[(rows["kind"] == "locality") & (rows["fired"] > 0)]
        line["loc_groups"] = len(local)
        bad = local[local["precision"] < 0.5]
        line["wrong_in"] = " ".join(f"{g}({c}/{f})" for g, c, f in bad[["group", "correct", "fired"]].itertuples(index=False))
        lines.append(line)
    return pd.DataFrame(lines)


def majority(votes: pd.DataFrame, flag: str) -> np.ndarray:
    """Majority of the non-abstaining votes for ``flag``; ties and no votes → 0."""
    columns = [lf.name for lf in LABELING_FUNCTIONS if lf.flag == flag]
    v = votes[columns].to_numpy()
    ones, zeros = (v == 1).sum(axis=1), (v == 0).sum(axis=1)
    return (ones > zeros).astype(int)


def _prf(truth: np.ndarray, pred: np.ndarray) -> tuple[float, float, float]:
    tp = int(((pred == 1) & (truth == 1)).sum())
    precision = tp / max(pred.sum(), 1)
    recall = tp / max(truth.sum(), 1)
    return precision, recall, 2 * precision * recall / max(precision + recall, 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=Path, help="row table of the sample documents (default: extract data/samples)")
    parser.add_argument("--annotations", type=Path, nargs="+", help="gold files (default: gold.csv, gold_localities.csv)")
    parser.add_argument("--include-holdout", action="store_true", help="add the held-out locality sources")
    parser.add_argument("--csv", type=Path, help="also write the rule × group table here")
    args = parser.parse_args()
    try:
        rows = read_table(args.rows) if args.rows else extract([ROOT / "data" / "samples"]).rows
        gold = gold_rows(rows, args.annotations or default_annotations(), args.include_holdout)
    except Exception as error:  # noqa: BLE001 — one clear line, never a traceback
        sys.exit(f"lf_report: {error}")
    corpus = CorpusStats.from_rows(gold)
    result = apply_rules(gold, corpus=corpus)
    votes = result.votes
    pd.set_option("display.width", 250)
    pd.set_option("display.max_colwidth", 120)
    table = lf_table(votes, gold)
    kinds = gold["source_kind"].value_counts()
    scope = "all sources" if args.include_holdout else "holdout sources left out"
    print(f"{len(gold)} gold rows, {len(table)} labeling functions "
          f"({kinds.get('document', 0)} document rows, {kinds.get('locality', 0)} locality rows, "
          f"{gold['group'].nunique()} groups; {scope})\n")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.2f}"))

    per_group = group_table(votes, gold)
    transfer = transfer_table(per_group)
    print("\ncoverage and precision by source kind (precision = gold equals the rule's vote where it fires);")
    print("wrong_in: locality groups where the rule is wrong more often than right (correct/fired):")
    print(transfer.to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    weak = transfer[(transfer["loc_fired"] >= 3) & (transfer["loc_prec"] < TRANSFER_PRECISION)]
    print(f"\nrules that do not transfer (≥3 locality rows fired, precision < {TRANSFER_PRECISION}): "
          + (", ".join(weak["rule"]) if len(weak) else "none"))
    if args.csv:
        per_group.to_csv(args.csv, index=False)

    print("\nmajority vote of each flag's rules against gold:")
    masks = {"all": np.ones(len(gold), bool), "documents": (gold["source_kind"] == "document").to_numpy(),
             "localities": (gold["source_kind"] == "locality").to_numpy()}
    for flag in FLAGS:
        truth = gold[flag].astype(int).to_numpy()
        pred = majority(votes, flag)
        precision, recall, f1 = _prf(truth, pred)
        by_kind = "  ".join(f"{kind} F1 {_prf(truth[m], pred[m])[2]:.2f}" for kind, m in masks.items() if kind != "all" and m.any())
        print(f"  {flag:18s} precision {precision:.2f}  recall {recall:.2f}  F1 {f1:.2f}   ({by_kind})")

    parsed_type = np.array([p.metric_type for p in result.parsed])
    suggested = np.array(result.suggested)
    print("\nparser metric_type and rules' suggested_metric_type against gold (accuracy):")
    for kind, m in masks.items():
        if m.any():
            mt = (parsed_type[m] == gold["metric_type"].to_numpy()[m]).mean()
            st = (suggested[m] == gold["suggested_metric_type"].to_numpy()[m]).mean()
            print(f"  {kind:10s} metric_type {mt:.3f}  suggested_metric_type {st:.3f}  ({int(m.sum())} rows)")


if __name__ == "__main__":
    main()
