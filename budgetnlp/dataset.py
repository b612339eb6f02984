"""Annotations + extracted rows → a labelled ``datasets.DatasetDict`` with source-grouped splits.

Two kinds of gold lines:

- document-joined (gold.csv, review exports): joined to extracted rows by document file name +
  project (code and name) + the six cells compared after NFKC and whitespace removal — never by
  position; their group is the document;
- self-contained (a ``source_id`` column, e.g. gold_localities.csv): the line carries its own
  cells and has no document file; it becomes a row itself (``rows_from_annotations``), its group
  is ``source_id``.

Every row has a ``group`` (what splits and cross-validation keep together), a ``source_kind``
("document" or "locality") and a ``province``. Rows without a human decision get weak labels:
the rules' votes combined per flag by a logistic-regression label model fitted on the gold rows
(each rule's "fired" indicator is one feature), with the model's probability as the weak label's
confidence.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ._text import squash
from .corpus import CorpusStats
from .errors import InputError
from .io import restore_frame
from .rules import ABSTAIN, apply_rules, rules_for
from .schema import ANNOTATION_COLUMNS, FLAGS, METRIC_TYPES  # noqa: F401 - ANNOTATION_COLUMNS re-exported
from .schema import ANNOTATION_CELLS as CELLS
from .schema import LABEL_FIELDS as LABELS
#: columns of self-contained annotation lines (they carry their own cells; no document to join to)
SOURCE_COLUMNS = ["source_id", "locality", "source_url", "layout"]
SPLITS = ("train", "validation", "test")
#: province-level units, so that the first part of a locality names its province
_PROVINCE = re.compile(r"^(.+?(?:特别行政区|自治区|兵团|省|市))")


# ---------------------------------------------------------------- annotations
def _annotation_files(sources) -> list[Path]:
    files: list[Path] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix.lower() in {".csv", ".json"})
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(path, "no such annotation file or folder")
    return files


def load_annotations(sources) -> pd.DataFrame:
    """All decisions from annotation CSVs (gold format) and Label Studio JSON exports, oldest first."""
    frames = []
    for order, path in enumerate(_annotation_files(sources)):
        if path.suffix.lower() == ".json":
            from .labelstudio import read_labelstudio_export

            frame = read_labelstudio_export(path)
        else:
            # cells neutralized for spreadsheets (io.neutralize_cell) read back as written: "=78人" stays "=78人"
            frame = restore_frame(pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig"))
        missing = [c for c in ("doc", "project", *CELLS, *FLAGS) if c not in frame.columns]
        if missing:
            raise InputError(path, f"not an annotation file: missing columns {', '.join(missing)}")
        frame = frame.reindex(columns=[*ANNOTATION_COLUMNS, *SOURCE_COLUMNS], fill_value="")
        frame["decided_by"] = frame["decided_by"].replace("", "gold" if "gold" in path.name else path.stem)
        frame["source_file"] = path.name
        frame["file_order"] = order
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=[*ANNOTATION_COLUMNS, *SOURCE_COLUMNS, "source_file", "file_order"])
    out = pd.concat(frames, ignore_index=True)
    out["line_order"] = np.arange(len(out))
    # by time, whatever its written format (decisions without a time, like the gold, count as oldest)
    out["decided_time"] = pd.to_datetime(out["decided_at"].replace("", None), errors="coerce", utc=True, format="mixed")
    out = out.sort_values(["decided_time", "file_order", "line_order"], kind="stable", na_position="first")
    return out.drop(columns="decided_time").reset_index(drop=True)


def _key(doc: str, code: str, project: str, cells: list[str]) -> tuple:
    return (Path(str(doc)).name, squash(code), squash(project), *(squash(c) for c in cells))


def join_annotations(rows: pd.DataFrame, annotations: pd.DataFrame) -> pd.DataFrame:
    """Attach the newest decision to each extracted row; raise listing annotation lines matching no row."""
    row_keys = [
        _key(r["source_path"], r["project_code"], r["project_name"], [r[c] for c in CELLS])
        for r in rows[["source_path", "project_code", "project_name", *CELLS]].fillna("").to_dict("records")
    ]
    index_of: dict[tuple, list[int]] = {}
    for i, key in enumerate(row_keys):
        index_of.setdefault(key, []).append(i)
    decided: dict[int, dict] = {}
    unmatched = []
    for record in annotations.to_dict("records"):
        key = _key(record["doc"], record["project_code"], record["project"], [record[c] for c in CELLS])
        targets = index_of.get(key)
        if targets is None:  # a review export may omit the code: fall back to name only
            targets = [i for k, ids in index_of.items() if k[0] == key[0] and k[2:] == key[2:] for i in ids]
        if not targets:
            unmatched.append(f"{record['source_file']}: {record['doc']} · {record['project']} · {record['name']} · {record['value']}")
            continue
        for i in targets:
            decided[i] = record  # annotations are sorted oldest first: the newest decision wins
    if unmatched:
        listing = "\n  ".join(unmatched[:50])
        raise InputError("annotations", f"{len(unmatched)} annotation line(s) match no extracted row:\n  {listing}")
    out = rows.copy()
    for label in LABELS:
        out[label] = [decided[i][label] if i in decided else None for i in range(len(out))]
    out["label_agreement"] = [_agreement(decided[i]) if i in decided else None for i in range(len(out))]
    out["decided_by"] = [decided[i]["decided_by"] if i in decided else "" for i in range(len(out))]
    out["decided_at"] = [decided[i]["decided_at"] if i in decided else "" for i in range(len(out))]
    return out


def province_of(locality: object) -> str:
    """The province-level unit a locality starts with ('湖北省黄石市' → '湖北省'); '' when unknown."""
    text = squash(locality)
    match = _PROVINCE.match(text)
    return match.group(1) if match else text


def rows_from_annotations(annotations: pd.DataFrame) -> pd.DataFrame:
    """Row-table frame of self-contained annotation lines (those with a ``source_id``): one row
    per distinct line (the newest decision wins), its labels attached, grouped by source.

    ``doc_id`` and ``group`` are the source id, so corpus statistics count a source as one
    document; level names are normalized as extraction does (schema.normalize_level1/2)."""
    from .extract._indicators import make_row_id
    from .schema import normalize_level1, normalize_level2

    lines = annotations[annotations["source_id"].fillna("").astype(str).str.strip() != ""]
    keyed: dict[tuple, dict] = {}
    occurrences: dict[tuple, int] = {}
    for record in lines.to_dict("records"):  # oldest first: a later decision replaces an earlier one
        cells = (squash(record["source_id"]), squash(record["project_code"]), squash(record["project"]),
                 *(squash(record[c]) for c in CELLS))
        # a line repeated within one file is a repeated table row; across files, a newer decision
        nth = occurrences.get((record["file_order"], cells), 0)
        occurrences[(record["file_order"], cells)] = nth + 1
        keyed[(*cells, nth)] = record
    out = []
    for key, record in keyed.items():
        source, nth = str(record["source_id"]).strip(), key[-1]
        key = key[:-1]
        year = str(record.get("year") or "").strip()
        out.append({
            "row_id": make_row_id(source, key[1:3], key[3:], nth),
            "doc_id": source,
            "source_path": f"{record['source_file']}#{source}",
            "department": record["department"],
            "year": int(year) if year.isdigit() else None,
            "project_code": record["project_code"],
            "project_name": record["project"],
            "project_budget": None,
            "fund_use": "",
            "project_goals": "",
            **{c: record[c] for c in CELLS},
            "level1_norm": normalize_level1(record["level1"], record["level2"]),
            "level2_norm": normalize_level2(record["level2"]),
            "location": record.get("source_url") or "",
            **{label: (record[label] if str(record[label]).strip() != "" else None) for label in LABELS},
            "label_agreement": _agreement(record),
            "decided_by": record["decided_by"],
            "decided_at": record["decided_at"],
            **{c: record.get(c, "") for c in SOURCE_COLUMNS},
            "group": source,
            "source_kind": "locality",
            "province": province_of(record.get("locality")),
        })
    columns = ["row_id", "doc_id", "source_path", "department", "year", "project_code", "project_name",
               "project_budget", "fund_use", "project_goals", *CELLS[:2], "level1_norm", "level2_norm",
               *CELLS[2:], "location", *LABELS, "label_agreement", "decided_by", "decided_at",
               *SOURCE_COLUMNS, "group", "source_kind", "province"]
    return pd.DataFrame(out, columns=columns)


def _agreement(record: dict) -> float:
    """Share of annotators agreeing with the majority, lowest over the four flags (1.0 when no votes)."""
    shares = []
    for flag in FLAGS:
        votes = str(record.get(f"{flag}_votes") or "").replace("|", "")
        if votes:
            shares.append(max(votes.count(v) for v in set(votes)) / len(votes))
    return min(shares) if shares else 1.0


# ---------------------------------------------------------------- weak labels
@dataclass
class LabelModel:
    """Per flag, a logistic regression over which rules fired; fitted on the gold rows."""

    models: dict

    @classmethod
    def fit(cls, votes: pd.DataFrame, labels: pd.DataFrame, seed: int = 0) -> "LabelModel":
        from sklearn.linear_model import LogisticRegression

        models = {}
        for flag in FLAGS:
            columns = [lf.name for lf in rules_for(flag)]
            y = labels[flag].astype(int).to_numpy()
            if len(set(y)) < 2:
                models[flag] = (columns, None, float(y.mean()) if len(y) else 0.5)
                continue
            x = (votes[columns].to_numpy() != ABSTAIN).astype(float)
            model = LogisticRegression(C=1.0, max_iter=1000, random_state=seed).fit(x, y)
            models[flag] = (columns, model, None)
        return cls(models)

    def predict_proba(self, votes: pd.DataFrame) -> pd.DataFrame:
        out = {}
        for flag, (columns, model, constant) in self.models.items():
            if model is None:
                out[flag] = np.full(len(votes), constant)
            else:
                out[flag] = model.predict_proba((votes[columns].to_numpy() != ABSTAIN).astype(float))[:, 1]
        return pd.DataFrame(out, index=votes.index)


def weak_label(rows: pd.DataFrame, corpus: CorpusStats | None = None, seed: int = 0) -> pd.DataFrame:
    """Fill labels of rows without a decision from the rules; label_source says which is which."""
    corpus = corpus or CorpusStats.from_rows(rows)  # once: not per row (that was quadratic)
    rules = apply_rules(rows, corpus)
    out = rows.copy()
    gold = out["vague"].notna() if "vague" in out else pd.Series(False, index=out.index)
    out["label_source"] = np.where(gold, "gold", "weak")
    out["weak_confidence"] = np.nan
    if (~gold).any():
        if gold.sum() == 0:
            raise InputError("annotations", "no gold rows to fit the label model on")
        model = LabelModel.fit(rules.votes[gold], out.loc[gold, FLAGS], seed)
        proba = model.predict_proba(rules.votes[~gold])
        for flag in FLAGS:
            out.loc[~gold, flag] = (proba[flag] >= 0.5).astype(int).astype(str)
        confidence = np.abs(proba[FLAGS].to_numpy() - 0.5).min(axis=1) + 0.5
        out.loc[~gold, "weak_confidence"] = confidence
        weak_index = np.flatnonzero(~gold.to_numpy())
        out.loc[~gold, "metric_type"] = [rules.parsed[i].metric_type for i in weak_index]
        out.loc[~gold, "suggested_metric_type"] = [rules.suggested[i] for i in weak_index]
    for flag in FLAGS:
        out[flag] = out[flag].astype(int)
    return out


# ---------------------------------------------------------------- splits, hash, card
def document_splits(doc_ids: pd.Series, seed: int = 0, held_out: float = 0.15) -> pd.Series:
    """Whole groups (documents, sources) to train/validation/test, seeded: ``held_out`` of the
    groups (at least one each once there are three) go to validation and to test, the rest to train."""
    docs = np.array(sorted(doc_ids.unique()))
    np.random.default_rng(seed).shuffle(docs)
    n_held = max(1, round(len(docs) * held_out)) if len(docs) >= 3 else 0
    assignment = {doc: "test" for doc in docs[:n_held]}
    assignment |= {doc: "validation" for doc in docs[n_held : 2 * n_held]}
    assignment |= {doc: "train" for doc in docs[2 * n_held :]}
    return doc_ids.map(assignment)


def data_hash(frame: pd.DataFrame) -> str:
    """A content hash of rows and labels, recorded beside every model trained on them."""
    columns = ["row_id", *LABELS, "label_source"]
    ordered = frame[columns].astype(str).sort_values("row_id")
    return hashlib.sha256(ordered.to_csv(index=False).encode("utf-8")).hexdigest()[:16]


def _card(frame: pd.DataFrame, digest: str, seed: int) -> str:
    lines = [
        "# budgetnlp labelled dataset",
        "",
        "Indicator rows of Chinese budget disclosures with the labels of LABELS.md.",
        f"Built by `budgetnlp dataset build` (seed {seed}). Data hash: `{digest}`.",
        "",
        f"Rows: {len(frame)}; documents: {frame['doc_id'].nunique()}; groups: {frame['group'].nunique()}.",
        "",
        "## Rows and groups per source kind",
        "",
        *(f"- {kind}: {len(part)} rows, {part['group'].nunique()} groups"
          for kind, part in frame.groupby("source_kind", sort=True)),
        "",
        "## Rows per split and label source",
        "",
        *(f"- {split} / {source}: {count}" for (split, source), count in frame.groupby(["split", "label_source"]).size().items()),
        "",
        "## Positive labels per flag",
        "",
    ]
    for flag in FLAGS:
        lines.append(f"- {flag}: {int(frame[flag].sum())} of {len(frame)}")
    lines += ["", "## Metric types", ""]
    for label in ("metric_type", "suggested_metric_type"):
        counts = frame[label].value_counts()
        lines.append(f"- {label}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    lines += ["", "## Rows per group", ""]
    for (kind, group, name), count in frame.groupby(["source_kind", "group", "source_path"]).size().items():
        lines.append(f"- {kind} `{group}` {Path(name).name}: {count}")
    return "\n".join(lines) + "\n"


def build_dataset(rows: pd.DataFrame, annotation_sources, seed: int = 0) -> pd.DataFrame:
    """Rows + annotations → one labelled frame with ``group``, ``source_kind``, ``province`` and
    ``split`` columns: extracted rows (joined to document-bound decisions) plus the rows of
    self-contained annotation lines."""
    annotations = load_annotations(annotation_sources)
    self_contained = annotations["source_id"].fillna("").astype(str).str.strip() != ""
    joined = join_annotations(rows.reset_index(drop=True), annotations[~self_contained])
    joined["group"] = joined["doc_id"].astype(str)
    joined["source_kind"] = "document"
    joined["province"] = ""
    own = rows_from_annotations(annotations[self_contained])
    clash = set(own["group"]) & set(joined["group"])
    if clash:
        raise InputError("annotations", f"source ids {sorted(clash)} are also document ids")
    combined = pd.concat([joined, own], ignore_index=True) if len(own) else joined
    labelled = weak_label(combined, seed=seed)
    bad = set(labelled["metric_type"]) - set(METRIC_TYPES)
    if bad:
        raise InputError("annotations", f"unknown metric types {sorted(bad)}")
    labelled["split"] = document_splits(labelled["group"], seed)
    return labelled


def save_dataset(frame: pd.DataFrame, out: str | Path, seed: int = 0) -> Path:
    """Save as a DatasetDict (save_to_disk), a Parquet file per split and a dataset card."""
    import datasets
    from datasets import Dataset, DatasetDict

    datasets.disable_progress_bars()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    frame = frame.copy()
    for column in frame.columns:
        if frame[column].dtype == object or str(frame[column].dtype).startswith("str"):
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    frame["year"] = frame["year"].astype("Int64")
    splits = {}
    for split in SPLITS:
        part = frame[frame["split"] == split].reset_index(drop=True)
        part.to_parquet(out / f"{split}.parquet", index=False)
        splits[split] = Dataset.from_pandas(part, preserve_index=False)
    DatasetDict(splits).save_to_disk(str(out / "hf"))
    digest = data_hash(frame)
    (out / "README.md").write_text(_card(frame, digest, seed), encoding="utf-8")
    (out / "meta.json").write_text(json.dumps({"data_hash": digest, "rows": len(frame), "seed": seed}, indent=2), encoding="utf-8")
    return out


def load_dataset_frame(folder: str | Path) -> pd.DataFrame:
    """All splits of a saved dataset as one frame (the ``split`` column says which)."""
    folder = Path(folder)
    parts = [pd.read_parquet(folder / f"{s}.parquet") for s in SPLITS if (folder / f"{s}.parquet").exists()]
    if not parts:
        raise InputError(folder, "no dataset here (run `budgetnlp dataset build` first)")
    return pd.concat(parts, ignore_index=True)
