"""Per-task row building: texts -> token ids -> rows laid out for the trainer.

Each builder returns the tables to save (split -> {"row_len", "sequences", "values"}, plus
"offsets" and row_len None for rows of varying length) and
the task's part of stats.json. The row schema is documented in `application/dataset/pipeline.py`.
"""
from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Sequence

from application.dataset.tasks import (
    FIM_PREFIX, FIM_TOKENS, SECURITY_LABELS, document_text, fim_transform, label_map,
    recency_weights, security_label,
)
from application.dataset.packing import frame_documents, pad_documents
from application.dataset.splits import SPLITS
from domain.errors import DatasetError
from domain.ports import Tokenizer

if TYPE_CHECKING:  # pipeline.py imports this module
    from application.dataset.pipeline import DatasetTools
    from application.dataset.request import DatasetRequest


def build_rows(splits: dict[str, list[dict]], request: DatasetRequest, tokenizer: Tokenizer,
               tools: DatasetTools) -> tuple[dict, dict]:
    """Tables and task statistics for `request.task`."""
    if request.task == "generation":
        return generation_rows(splits, request, tokenizer, tools)
    if request.task == "classification":
        return classification_rows(splits, request, tokenizer, tools)
    return security_rows(splits, request, tokenizer, tools)


def _tokenize_splits(texts: dict[str, list[str]], tokenizer, tools, num_proc: int) -> dict[str, list[list[int]]]:
    """Tokenize every split in one batched call (one worker pool), then cut per split."""
    everything = tools.tokenize(tokenizer, [t for name in SPLITS for t in texts[name]], num_proc)
    out, start = {}, 0
    for name in SPLITS:
        out[name] = everything[start : start + len(texts[name])]
        start += len(texts[name])
    return out


def _by_language(rows: Sequence[dict], sizes: Sequence[int]) -> dict[str, int]:
    counts: Counter = Counter()
    for row, size in zip(rows, sizes):
        counts[row["language"]] += size
    return dict(counts)


def generation_rows(splits, request, tokenizer, tools) -> tuple[dict, dict]:
    """Causal LM rows: documents + EOS, packed into blocks (or padded), optional FIM and weights."""
    texts = {
        name: [fim_transform(document_text(r, request.header), request.fim_rate, request.seed, r["id"]) for r in rows]
        for name, rows in splits.items()
    }
    docs = _tokenize_splits(texts, tokenizer, tools, request.num_proc)
    check_row_length([len(d) + 1 for d in docs["train"]], request.seq_len, request.pack)  # + EOS each
    weights = _recency(splits, request)
    lay_out = tools.pack if request.pack else pad_documents
    tables, stats = {}, {"tokens": {}, "tokens_by_language": {}, "packing_efficiency": {}}
    for name in SPLITS:
        layout = lay_out(docs[name], request.seq_len, tokenizer.eos_token_id, tokenizer.pad_token_id,
                         weights[name] if weights else None)
        values = {"weight": layout.weights} if weights else {}
        if layout.segments:
            values["seq_lengths"] = layout.segments
        tables[name] = {"row_len": request.seq_len, "sequences": layout.columns, "values": values}
        stats["tokens"][name] = layout.real_tokens
        stats["tokens_by_language"][name] = _by_language(splits[name], [len(d) + 1 for d in docs[name]])
        stats["packing_efficiency"][name] = round(layout.efficiency, 4)
    stats["fim"] = {
        "rate": request.fim_rate,
        "documents": {n: sum(t.startswith(FIM_PREFIX) for t in texts[n]) for n in SPLITS},
        "sentinel_ids": {t: tokenizer.convert_tokens_to_ids(t) for t in FIM_TOKENS} if request.fim_rate else {},
    }
    if weights:
        stats["recency"] = {"half_life_days": request.recency_half_life_days,
                            "undated_units": sum(1 for rows in splits.values() for r in rows if not r.get("commit_date"))}
    return tables, stats


# Below this share of real tokens, 9 in 10 positions the model would process are padding: the
# --seq-len is out of all proportion to the data (a 10M-token row of a 200k-token corpus took
# 3.5 GB to lay out), and a shorter one gives the same documents without the waste.
MIN_REAL_TOKEN_SHARE = 0.1


def check_row_length(lengths: Sequence[int], seq_len: int, pack: bool) -> None:
    """Refuse a `seq_len` the training documents (`lengths` tokens each, EOS included) cannot
    fill, before any row is laid out: packed, their total; padded, each one on its own row(s)."""
    if not lengths:
        return
    rows = -(-sum(lengths) // seq_len) if pack else sum(-(-n // seq_len) for n in lengths)
    share = sum(lengths) / (rows * seq_len)
    if share >= MIN_REAL_TOKEN_SHARE:
        return
    fillable = sum(lengths) if pack else max(lengths)
    held = (f"the training split holds {fillable:,} tokens in all" if pack
            else f"its longest training document has {fillable:,} tokens")
    raise DatasetError(f"--seq-len {seq_len}: {held}, so rows would be {1 - share:.1%} padding; "
                       f"use --seq-len {fillable} or less")


def check_tokenizer_limit(tokenizer: Tokenizer, request: DatasetRequest) -> None:
    """Refuse a `seq_len` beyond what the given tokenizer says its model reads (its
    `model_max_length`; transformers puts 1e30 there when a tokenizer declares none)."""
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and limit < 10**9 and request.seq_len > limit:
        raise DatasetError(f"--seq-len {request.seq_len}: the tokenizer {request.tokenizer} declares "
                           f"model_max_length {limit} (the longest input its model reads); "
                           f"use --seq-len {limit} or less")


def _recency(splits, request) -> dict[str, list[float]] | None:
    """Recency weight per unit, split by split (ages measured against the newest unit overall)."""
    if request.recency_half_life_days is None:
        return None
    everything = [r.get("commit_date") for name in SPLITS for r in splits[name]]
    weights = recency_weights(everything, request.recency_half_life_days)
    if weights is None:
        raise DatasetError("--recency-half-life: no unit has a commit_date (collect records it for git sources)")
    out, start = {}, 0
    for name in SPLITS:
        out[name] = weights[start : start + len(splits[name])]
        start += len(splits[name])
    return out


def _labelled_tables(splits, labels, extra: dict, names: Sequence[str], request, tokenizer, tools) -> tuple[dict, dict]:
    """Rows of (input_ids, labels) in the model's own framing, unpadded, plus class balance.

    `--seq-len` is the cut-off (special tokens included); truncated units are counted per split.
    """
    texts = {name: [r["content"] for r in splits[name]] for name in SPLITS}
    docs = _tokenize_splits(texts, tokenizer, tools, request.num_proc)
    prefix, suffix = tools.special_frame(tokenizer)
    tables = {}
    stats = {"tokens": {}, "tokens_by_language": {}, "truncated_units": {}, "max_row_len": request.seq_len,
             "special_tokens": {"before": prefix, "after": suffix}}
    for name in SPLITS:
        framed = frame_documents(docs[name], request.seq_len, prefix, suffix)
        tables[name] = {"row_len": None, "offsets": framed.offsets, "sequences": {"input_ids": framed.ids},
                        "values": {"labels": labels[name], **{k: v[name] for k, v in extra.items()}}}
        stats["tokens"][name] = framed.real_tokens
        room = request.seq_len - len(prefix) - len(suffix)
        stats["tokens_by_language"][name] = _by_language(splits[name], [min(len(d), room) for d in docs[name]])
        stats["truncated_units"][name] = framed.truncated
    stats["label_names"] = list(names)
    stats["label_map"] = {n: i for i, n in enumerate(names)}
    stats["class_balance"] = {
        name: {label: Counter(labels[name])[k] for k, label in enumerate(names)} for name in SPLITS
    }
    return tables, stats


def classification_rows(splits, request, tokenizer, tools) -> tuple[dict, dict]:
    """Class = the unit's `label_field` value; units without one are dropped."""
    field = request.label_field
    kept = {name: [r for r in splits[name] if r.get(field) is not None] for name in SPLITS}
    mapping = label_map([r[field] for name in SPLITS for r in kept[name]])
    labels = {name: [mapping[str(r[field])] for r in kept[name]] for name in SPLITS}
    tables, stats = _labelled_tables(kept, labels, {}, list(mapping), request, tokenizer, tools)
    stats["unlabelled_units"] = {name: len(splits[name]) - len(kept[name]) for name in SPLITS}
    return tables, stats


def security_rows(splits, request, tokenizer, tools) -> tuple[dict, dict]:
    """Class = does Bandit find an issue at or above `severity` (Bandit test ids kept)."""
    findings = tools.scan_security([r["content"] for name in SPLITS for r in splits[name]], request.num_proc)
    kept, labels, test_ids, seen, start = {}, {}, {}, Counter(), 0
    for name in SPLITS:
        scanned = list(zip(splits[name], findings[start : start + len(splits[name])]))
        start += len(splits[name])
        kept[name] = [r for r, found in scanned if found is not None]  # None: Bandit could not parse it
        pairs = [security_label(found, request.severity, request.bandit_skip) for _, found in scanned if found is not None]
        labels[name] = [label for label, _ in pairs]
        test_ids[name] = [ids for _, ids in pairs]
        seen.update(test for ids in test_ids[name] for test in ids)
    tables, stats = _labelled_tables(kept, labels, {"bandit_test_ids": test_ids}, SECURITY_LABELS,
                                     request, tokenizer, tools)
    stats["bandit"] = {
        "severity": request.severity.lower(),
        "skipped_tests": list(request.bandit_skip),
        "unparsable_units": {name: len(splits[name]) - len(kept[name]) for name in SPLITS},
        "units_by_test": dict(sorted(seen.items())),
    }
    return tables, stats
