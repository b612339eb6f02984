"""The optional transformer backend: fine-tune a local Hugging Face encoder on the labelled rows.

    row ──text──▶ "level2 [SEP] name [SEP] value [SEP] hints [SEP] description [SEP] project"
        ──encoder (AutoModel, [CLS] vector)──▶ flag head  (4 logits, BCEWithLogitsLoss)
                                           └─▶ type head  (8 logits over LABELS.md types, CrossEntropy)

- The encoder comes from a local folder (``config.model_path``, e.g. bert-base-chinese or
  chinese-roberta-wwm-ext saved with ``save_pretrained``); nothing is ever downloaded
  (``local_files_only=True`` everywhere, HF_HUB_OFFLINE set before transformers is imported).
- "hints" are short Chinese words for what the parser and the rules found (类型百分比, 规则模糊…),
  so the encoder can lean on them the way the sklearn backend leans on the rules' votes.
- Training: a plain torch loop (AdamW, linear warmup then decay, gradient clipping), seeded,
  on CUDA when available (``BUDGETNLP_DEVICE=cpu`` forces the CPU); its settings (epochs,
  batch size, learning rates, warmup, weight decay, clipping) are TrainConfig fields. Decision
  thresholds are chosen on a held-out ``validation_fraction`` (~20%) of the rows (whole documents when there are at least two), with the
  config's ``threshold_grid``/``threshold_margin`` rule; then the model is refitted on all rows.
- metric_type is the parser's (confidence 1.0): the transformer does not overrule it.
- Evidence: leave-one-word-out occlusion over the jieba words of name and value, for the flags a
  row is flagged with: the words whose masking lowers that flag's probability most.
- Saved as: ``encoder/`` (save_pretrained, safetensors, with its tokenizer), ``heads.safetensors``
  and ``transformer.json`` (thresholds, label lists, text format). No pickle anywhere.
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from .._text import nfkc
from ..config import TrainConfig
from ..errors import ModelError
from ..features import RowFeatures
from ..schema import FLAG_LABELS, FLAGS, METRIC_TYPE_LABELS, METRIC_TYPES, VALUE_ISSUE_LABELS
from ._artifact import ENCODER_DIR, HEADS_FILE, TRANSFORMER_FILE  # the model folder's names

INSTALL_HINT = "the transformer backend needs: pip install 'budgetnlp[transformer]' torch==2.13.0"
FORMAT = 1

CONFIG_FILES = ("config.json",)
WEIGHT_PATTERNS = ("*.safetensors", "*.bin")
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer.model", "spiece.model", "sentencepiece.bpe.model", "vocab.json")

#: fewer rows than this: no held-out split, every threshold stays 0.5
MIN_ROWS_FOR_VALIDATION = 10
#: up to this many documents every subset is tried for the held-out set, beyond it a greedy pick
MAX_DOCS_EXHAUSTIVE = 12
#: at most this many words of name + value are occluded per flagged row
MAX_OCCLUDED_WORDS = 12
#: a word is evidence only if masking it lowers the flag's probability by at least this much
MIN_EVIDENCE_DROP = 0.01

#: hint words are schema's Chinese names (one vocabulary); "none" is no issue, so no hint
_TYPE_WORDS = METRIC_TYPE_LABELS
_ISSUE_WORDS = {issue: label for issue, label in VALUE_ISSUE_LABELS.items() if issue != "none"}
_FLAG_WORDS = FLAG_LABELS
_FUNCTION_WORDS = set("的了和与及或对在为是把被等个年月日")


# ---------------------------------------------------------------- optional imports and the model folder
def _torch():
    """torch, transformers and safetensors, imported on first use (habit 6: fail politely)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import safetensors.torch  # noqa: F401
        import torch
        import transformers
    except ImportError:
        raise ModelError(INSTALL_HINT) from None
    return torch, transformers


def check_encoder_dir(path: str | Path | None) -> Path:
    """A local Hugging Face encoder folder with a config, weights and tokenizer files, else ModelError."""
    if path is None or not str(path).strip():
        raise ModelError("the transformer backend needs a local encoder folder: --model-path DIR (config model_path)")
    folder = Path(path).expanduser()
    if not folder.exists():
        raise ModelError(f"{folder}: model folder not found (the transformer backend never downloads; "
                         "copy a saved encoder such as bert-base-chinese there)")
    if not folder.is_dir():
        raise ModelError(f"{folder}: not a folder (expected a Hugging Face model folder)")
    missing = []
    if not any((folder / name).is_file() for name in CONFIG_FILES):
        missing.append("config.json")
    if not any(any(folder.glob(pattern)) for pattern in WEIGHT_PATTERNS):
        other = sorted(p.name for p in folder.glob("*.h5")) + sorted(p.name for p in folder.glob("*.msgpack"))
        extra = f"; found only {', '.join(other)}, which PyTorch cannot read" if other else ""
        missing.append(f"weights (*.safetensors or *.bin{extra})")
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        missing.append("tokenizer files (tokenizer.json or vocab.txt, …)")
    if missing:
        raise ModelError(f"{folder}: incomplete model folder, missing {'; '.join(missing)}")
    return folder


@contextmanager
def _quiet_transformers(transformers):
    """Keep transformers' load reports (unused pooler/MLM weights, …) out of the user's terminal."""
    logging = transformers.utils.logging
    level, bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        logging.set_verbosity(level)
        if bars:
            logging.enable_progress_bar()


def _load_encoder(folder: Path):
    torch, transformers = _torch()
    with _quiet_transformers(transformers):
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        except Exception as exc:
            raise ModelError(f"{folder}: cannot load the tokenizer ({type(exc).__name__}: {exc})") from None
        try:
            encoder = transformers.AutoModel.from_pretrained(str(folder), local_files_only=True, dtype=torch.float32)
        except Exception as exc:
            raise ModelError(f"{folder}: cannot load the encoder ({type(exc).__name__}: {exc})") from None
    if tokenizer.sep_token is None:
        raise ModelError(f"{folder}: the tokenizer has no separator token; use a BERT-style encoder")
    return tokenizer, encoder


def _device(torch):
    wanted = os.environ.get("BUDGETNLP_DEVICE", "").strip()
    if wanted:
        return torch.device(wanted)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _build_net(torch, encoder, n_flags: int, n_types: int):
    """Encoder + dropout + the two linear heads on the first ([CLS]) token's vector."""

    class _Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            hidden = encoder.config.hidden_size
            self.dropout = torch.nn.Dropout(getattr(encoder.config, "hidden_dropout_prob", 0.1) or 0.1)
            self.flag_head = torch.nn.Linear(hidden, n_flags)
            self.type_head = torch.nn.Linear(hidden, n_types)

        def forward(self, **inputs):
            vector = self.dropout(self.encoder(**inputs).last_hidden_state[:, 0])
            return self.flag_head(vector), self.type_head(vector)

        def heads_state(self) -> dict:
            return {f"{name}.{key}": value.detach().cpu().contiguous()
                    for name in ("flag_head", "type_head")
                    for key, value in getattr(self, name).state_dict().items()}

    return _Net()


@contextmanager
def _seeded(torch, seed: int, device):
    """Seed torch (in a forked RNG, so the caller's stream is untouched), numpy and random;
    deterministic kernels for the duration, then the previous setting back."""
    devices = [device.index or 0] if device.type == "cuda" else []
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    was, was_warn = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        np.random.seed(seed)
        random.seed(seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(was, warn_only=was_warn)


# ---------------------------------------------------------------- input text
def _rule_verdicts(features: RowFeatures) -> list[list[str]]:
    """Per row, the flags whose rules vote more often 'weak' than 'fine'."""
    from ..rules import rules_for

    votes = features.rules.votes
    out = [[] for _ in range(len(votes))]
    for flag in FLAGS:
        names = [lf.name for lf in rules_for(flag) if lf.name in votes.columns]
        if not names:
            continue
        own = votes[names].to_numpy()
        weak = (own == 1).sum(axis=1) > (own == 0).sum(axis=1)
        for i in np.flatnonzero(weak):
            out[i].append(flag)
    return out


def _segments(rows: pd.DataFrame, features: RowFeatures) -> list[list[str]]:
    """Per row: level2, name, value, hints, description, project name (short essentials first,
    so truncation cuts the long context, never the name or the value)."""
    verdicts = _rule_verdicts(features)
    out = []
    records = getattr(features, "records", None) or rows.to_dict("records")
    for i, record in enumerate(records):
        parsed = features.rules.parsed[i]
        hints = "类型" + _TYPE_WORDS.get(parsed.metric_type, parsed.metric_type)
        if parsed.issue in _ISSUE_WORDS:
            hints += " " + _ISSUE_WORDS[parsed.issue]
        hints += " 规则" + ("、".join(_FLAG_WORDS[f] for f in verdicts[i]) or "无")
        level2 = record.get("level2_norm") or record.get("level2")
        out.append([nfkc(level2).strip(), nfkc(record.get("name")).strip(), nfkc(record.get("value")).strip(), hints,
                    nfkc(record.get("description")).strip(), nfkc(record.get("project_name")).strip()])
    return out


def _join(segments: list[str], sep: str) -> str:
    return f" {sep} ".join(segments)


# ---------------------------------------------------------------- thresholds
def _validation_mask(groups: np.ndarray | None, n: int, seed: int,
                     fraction: float = TrainConfig.validation_fraction) -> np.ndarray | None:
    """About ``fraction`` (config: validation_fraction) of the rows held out: whole documents when there are ≥ 2 (the set
    of documents whose row count comes closest to the fraction), else random rows; None if too few rows."""
    if n < MIN_ROWS_FOR_VALIDATION:
        return None
    rng = np.random.default_rng(seed)
    target = fraction * n
    if groups is not None and len(set(groups)) >= 2:
        labels = np.asarray(groups).astype(str)
        docs, counts = np.unique(labels, return_counts=True)
        order = rng.permutation(len(docs))  # ties go to the first in this seeded order
        if len(docs) <= MAX_DOCS_EXHAUSTIVE:  # the proper subset of documents closest to the target
            best, best_gap = None, None
            for bits in range(1, 2 ** len(docs) - 1):
                chosen = [order[j] for j in range(len(docs)) if bits >> j & 1]
                gap = abs(counts[chosen].sum() - target)
                if best_gap is None or gap < best_gap - 1e-9:
                    best, best_gap = chosen, gap
            chosen = best
        else:  # greedy in the seeded order: take a document when it brings the total closer
            chosen, total = [], 0
            for j in order:
                if abs(total + counts[j] - target) < abs(total - target) and total + counts[j] < n:
                    chosen.append(j)
                    total += counts[j]
            chosen = chosen or [int(np.argmin(counts))]
        return np.isin(labels, docs[chosen])
    mask = np.zeros(n, dtype=bool)
    mask[rng.permutation(n)[: max(1, round(target))]] = True
    return mask


def _pick_threshold(proba: np.ndarray, y: np.ndarray, grid: list[float], margin: float) -> tuple[float, float]:
    """The grid threshold with the best F1 on held-out rows; it leaves 0.5 (or the nearest grid
    point) only for a gain of more than ``margin``. Returns (threshold, F1 there)."""
    best, best_f1 = 0.5, -1.0
    for t in sorted(grid, key=lambda t: (abs(t - 0.5), t)):
        pred = proba >= t
        tp = float((pred & (y == 1)).sum())
        f1 = 2 * tp / max(float(pred.sum() + (y == 1).sum()), 1.0)
        if f1 > best_f1 + (margin if best_f1 >= 0 else 0):
            best, best_f1 = t, f1
    return float(best), float(max(best_f1, 0.0))


# ---------------------------------------------------------------- the backend
class TransformerBackend:
    """A fine-tuned local encoder with a multi-label flag head and a suggested-type head."""

    name = "transformer"

    def __init__(self, config: TrainConfig) -> None:
        if not isinstance(config, TrainConfig):
            raise TypeError(f"TransformerBackend takes a TrainConfig, not {type(config).__name__}")
        self.config = config
        self.flags_: list[str] = list(FLAGS)
        self.types_: list[str] = list(METRIC_TYPES)
        self.thresholds_: dict[str, float] = {flag: 0.5 for flag in FLAGS}
        self.validation_: dict = {}
        self.max_length_: int = config.max_length
        self.base_model_: str = config.model_path
        self.net_ = None
        self.tokenizer_ = None

    # ------------------------------------------------------------ training
    def fit(self, frame: pd.DataFrame, features: RowFeatures, groups: np.ndarray | None = None) -> "TransformerBackend":
        folder = check_encoder_dir(self.config.model_path)
        torch, _ = _torch()
        if len(frame) == 0:
            raise ModelError("no labelled rows to train the transformer backend on")
        seed = self.config.seed
        y_flags = np.column_stack([pd.to_numeric(frame[f], errors="coerce").to_numpy(dtype=float, na_value=np.nan) for f in FLAGS])
        index = {t: i for i, t in enumerate(self.types_)}
        types = frame["suggested_metric_type"] if "suggested_metric_type" in frame else [None] * len(frame)
        y_type = np.array([index.get(str(t), -100) for t in types], dtype=np.int64)
        segments = _segments(frame, features)

        held = _validation_mask(groups, len(frame), seed, self.config.validation_fraction)
        if held is not None and (~held).any():
            self._say(f"validation run: {int((~held).sum())} rows to train, {int(held.sum())} held out to choose thresholds")
            tokenizer, net = self._train(folder, [s for s, h in zip(segments, held) if not h], y_flags[~held], y_type[~held])
            proba = self._proba(net, tokenizer, [s for s, h in zip(segments, held) if h])[0]
            self.validation_ = {"rows": int(held.sum()), "documents": int(len(set(np.asarray(groups)[held]))) if groups is not None else 0}
            for j, flag in enumerate(FLAGS):
                y = y_flags[held, j]
                known = ~np.isnan(y)
                threshold, f1 = _pick_threshold(proba[known, j], y[known].astype(int),
                                                self.config.threshold_grid, self.config.threshold_margin)
                self.thresholds_[flag] = threshold
                self.validation_[flag] = {"threshold": threshold, "f1": round(f1, 4), "support": int(np.nansum(y))}
            del net
        self._say(f"final run: {len(frame)} rows")
        self.tokenizer_, self.net_ = self._train(folder, segments, y_flags, y_type)
        return self

    def _train(self, folder: Path, segments: list[list[str]], y_flags: np.ndarray, y_type: np.ndarray):
        torch, transformers = _torch()
        c = self.config
        seed, epochs, batch_size, lr = c.seed, c.epochs, c.batch_size, c.learning_rate
        device = _device(torch)
        with _seeded(torch, seed, device):
            tokenizer, encoder = _load_encoder(folder)
            self.max_length_ = self._max_length(tokenizer, encoder)
            net = _build_net(torch, encoder, len(self.flags_), len(self.types_)).to(device)
            texts = [_join(s, tokenizer.sep_token) for s in segments]
            flags_t = torch.tensor(np.nan_to_num(y_flags, nan=0.0), dtype=torch.float32)
            known_t = torch.tensor(~np.isnan(y_flags), dtype=torch.float32)
            type_t = torch.tensor(y_type, dtype=torch.long)

            groups: dict[tuple[bool, bool], list] = {}
            for n, p in net.named_parameters():  # (head?, decayed?): no decay on biases and norms
                groups.setdefault((not n.startswith("encoder."), p.ndim > 1 and "norm" not in n.lower()), []).append(p)
            optimizer = torch.optim.AdamW([
                {"params": params, "lr": lr * (c.head_lr_scale if head else 1.0), "weight_decay": c.weight_decay if decay else 0.0}
                for (head, decay), params in sorted(groups.items())
            ])
            steps = epochs * math.ceil(len(texts) / batch_size)
            scheduler = transformers.get_linear_schedule_with_warmup(optimizer, int(c.warmup_fraction * steps), steps)
            bce = torch.nn.BCEWithLogitsLoss(reduction="none")
            ce = torch.nn.CrossEntropyLoss(ignore_index=-100)
            order_rng = np.random.default_rng(seed)
            net.train()
            for epoch in range(epochs):
                start, total, batches = time.monotonic(), 0.0, 0
                for batch in np.array_split(order_rng.permutation(len(texts)), math.ceil(len(texts) / batch_size)):
                    inputs = self._encode(tokenizer, [texts[i] for i in batch], device)
                    flag_logits, type_logits = net(**inputs)
                    known = known_t[batch].to(device)
                    loss = (bce(flag_logits, flags_t[batch].to(device)) * known).sum() / known.sum().clamp(min=1.0)
                    types = type_t[batch].to(device)
                    if (types >= 0).any():
                        loss = loss + ce(type_logits, types)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(net.parameters(), c.max_grad_norm)
                    optimizer.step()
                    scheduler.step()
                    total, batches = total + float(loss.detach()), batches + 1
                self._say(f"epoch {epoch + 1}/{epochs}: loss {total / max(batches, 1):.4f}, "
                          f"{time.monotonic() - start:.1f} s on {device}")
            net.eval()
        return tokenizer, net

    def _max_length(self, tokenizer, encoder) -> int:
        limit = self.config.max_length
        positions = getattr(encoder.config, "max_position_embeddings", None)
        return min(limit, int(positions)) if positions else limit

    def _encode(self, tokenizer, texts: list[str], device):
        inputs = tokenizer(texts, truncation=True, max_length=self.max_length_, padding=True, return_tensors="pt")
        return {k: v.to(device) for k, v in inputs.items()}

    def _proba(self, net, tokenizer, segments: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        """Flag probabilities (n × 4) and type probabilities (n × 8), in batches, without gradients."""
        torch, _ = _torch()
        device = next(net.parameters()).device
        texts = [_join(s, tokenizer.sep_token) for s in segments]
        step = self.config.batch_size * 2
        flags, types = [np.zeros((0, len(self.flags_)))], [np.zeros((0, len(self.types_)))]
        net.eval()
        with torch.inference_mode():
            for start in range(0, len(texts), step):
                flag_logits, type_logits = net(**self._encode(tokenizer, texts[start : start + step], device))
                flags.append(torch.sigmoid(flag_logits).double().cpu().numpy())
                types.append(torch.softmax(type_logits, dim=-1).double().cpu().numpy())
        return np.concatenate(flags), np.concatenate(types)

    @staticmethod
    def _say(message: str) -> None:
        print(f"budgetnlp transformer: {message}", file=sys.stderr, flush=True)

    # ------------------------------------------------------------ predicting
    def predict(self, rows: pd.DataFrame, features: RowFeatures) -> dict:
        """Flag probabilities, suggested types, the parser's metric types and occlusion evidence."""
        if self.net_ is None:
            raise ModelError("the transformer backend is not fitted (call fit or TransformerBackend.load)")
        segments = _segments(rows, features)
        flag_p, type_p = self._proba(self.net_, self.tokenizer_, segments)
        n = len(rows)
        best = type_p.argmax(axis=1) if n else np.zeros(0, dtype=int)
        return {
            "proba": pd.DataFrame(flag_p, columns=self.flags_, index=rows.index)[FLAGS],
            "suggested": [self.types_[j] for j in best],
            "suggested_confidence": type_p.max(axis=1) if n else np.zeros(0),
            "metric": [p.metric_type for p in features.rules.parsed],
            "metric_confidence": np.ones(n),
            "evidence": self._evidence(segments, flag_p),
            "category_issue": None,
        }

    def _evidence(self, segments: list[list[str]], flag_p: np.ndarray) -> dict[str, list[list[str]]]:
        """Leave-one-word-out: for each flag a row is flagged with, the words of its name and value
        whose masking lowers that flag's probability most (at least MIN_EVIDENCE_DROP; at most
        ``explain_tokens``)."""
        from ..tokenize import tokenize

        k = self.config.explain_tokens
        out = {flag: [[] for _ in segments] for flag in FLAGS}
        mask = self.tokenizer_.mask_token or self.tokenizer_.unk_token or ""
        columns = [self.flags_.index(f) for f in FLAGS]
        variants, owners = [], []
        for i, seg in enumerate(segments):
            if k <= 0 or not any(flag_p[i, columns[j]] >= self.thresholds_[f] for j, f in enumerate(FLAGS)):
                continue
            words = []
            for word in tokenize(seg[1]) + tokenize(seg[2]):
                if word not in words and not all(ch in _FUNCTION_WORDS for ch in word):
                    words.append(word)
            for word in words[:MAX_OCCLUDED_WORDS]:
                masked = list(seg)
                masked[1], masked[2] = seg[1].replace(word, mask * len(word)), seg[2].replace(word, mask * len(word))
                variants.append(masked)
                owners.append((i, word))
        if not variants:
            return out
        occluded = self._proba(self.net_, self.tokenizer_, variants)[0]
        drops: dict[int, list[tuple[str, np.ndarray]]] = {}
        for (i, word), p in zip(owners, occluded):
            drops.setdefault(i, []).append((word, flag_p[i] - p))
        for i, items in drops.items():
            for j, flag in enumerate(FLAGS):
                col = columns[j]
                if flag_p[i, col] < self.thresholds_[flag]:
                    continue
                ranked = sorted((w for w in items if w[1][col] >= MIN_EVIDENCE_DROP), key=lambda w: -w[1][col])
                out[flag][i] = [word for word, _ in ranked[:k]]
        return out

    # ------------------------------------------------------------ saving and loading
    def save(self, folder: str | Path) -> None:
        """encoder/ (save_pretrained: safetensors + tokenizer), heads.safetensors, transformer.json."""
        if self.net_ is None:
            raise ModelError("the transformer backend is not fitted: nothing to save")
        from safetensors.torch import save_file

        folder = Path(folder)
        encoder_dir = folder / ENCODER_DIR
        encoder_dir.mkdir(parents=True, exist_ok=True)
        _, transformers = _torch()
        with _quiet_transformers(transformers):
            self.net_.encoder.save_pretrained(str(encoder_dir))
            self.tokenizer_.save_pretrained(str(encoder_dir))
        save_file(self.net_.heads_state(), str(folder / HEADS_FILE))
        meta = {
            "format": FORMAT,
            "flags": self.flags_,
            "metric_types": self.types_,
            "thresholds": self.thresholds_,
            "max_length": self.max_length_,
            "pooling": "cls",
            "text": "level2_norm [SEP] name [SEP] value [SEP] hints [SEP] description [SEP] project_name",
            "base_model": self.base_model_,
            "validation": self.validation_,
        }
        (folder / TRANSFORMER_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, folder: str | Path, config: TrainConfig) -> "TransformerBackend":
        folder = Path(folder)
        meta_path, heads_path = folder / TRANSFORMER_FILE, folder / HEADS_FILE
        for path in (meta_path, heads_path):
            if not path.is_file():
                raise ModelError(f"{folder}: not a transformer model folder (no {path.name})")
        encoder_dir = check_encoder_dir(folder / ENCODER_DIR)
        torch, _ = _torch()
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ModelError(f"{meta_path}: unreadable ({exc})") from None
        if meta.get("format") != FORMAT:
            raise ModelError(f"{meta_path}: format {meta.get('format')!r}, this budgetnlp reads format {FORMAT}")
        backend = cls(config)
        backend.flags_, backend.types_ = list(meta["flags"]), list(meta["metric_types"])
        if sorted(backend.flags_) != sorted(FLAGS):
            raise ModelError(f"{meta_path}: flags {backend.flags_} differ from {FLAGS}")
        backend.thresholds_ = {flag: float(meta["thresholds"][flag]) for flag in FLAGS}
        backend.max_length_ = int(meta["max_length"])
        backend.base_model_ = meta.get("base_model", "")
        backend.validation_ = meta.get("validation", {})
        tokenizer, encoder = _load_encoder(encoder_dir)
        net = _build_net(torch, encoder, len(backend.flags_), len(backend.types_))
        from safetensors.torch import load_file

        try:
            state = load_file(str(heads_path))
        except Exception as exc:
            raise ModelError(f"{heads_path}: unreadable ({type(exc).__name__}: {exc})") from None
        expected = set(net.heads_state())
        if set(state) != expected:
            raise ModelError(f"{heads_path}: expected tensors {sorted(expected)}, found {sorted(state)}")
        for name in ("flag_head", "type_head"):
            try:
                getattr(net, name).load_state_dict({k.split(".", 1)[1]: v for k, v in state.items() if k.startswith(name + ".")})
            except RuntimeError as exc:
                raise ModelError(f"{heads_path}: heads do not fit the encoder ({exc})") from None
        backend.tokenizer_, backend.net_ = tokenizer, net.to(_device(torch)).eval()
        return backend
