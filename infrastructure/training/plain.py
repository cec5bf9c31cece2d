"""A plain saved `DatasetDict` made trainable: the rows, tokenizer and stats.json `dataset` writes.

Users coming from other tools have `DatasetDict`s of `input_ids` (maybe with `labels`,
`position_ids`, `attention_mask`) or of `text`. What is missing is derived: `text` is tokenized
with the model's tokenizer and packed (per-document `position_ids`, like `dataset`); ragged
`input_ids` rows are padded with an `attention_mask`; `labels` default to the tokens, -100 on
padding. Anything that cannot be derived (no tokenizer, no usable column) is one line.
"""
from __future__ import annotations

import json
from pathlib import Path

from application.dataset.packing import pack_documents
from application.train.config import TrainConfig
from domain.errors import TrainingError
from domain.layout import IGNORE_INDEX, STATS, TOKENIZER

SPLIT_NAMES = {"train": "train", "validation": "validation", "valid": "validation", "dev": "validation",
               "test": "test"}
MAX_DEFAULT_LEN = 2048


def _tokenizer(config: TrainConfig, uri: str):
    from transformers import AutoTokenizer

    if not config.model.name_or_path:
        raise TrainingError(f"{uri}: a plain DatasetDict (no stats.json) needs model.name_or_path: its tokenizer "
                            f"reads the rows")
    tokenizer = AutoTokenizer.from_pretrained(config.model.name_or_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _row_length(config: TrainConfig) -> int:
    if config.data.seq_len:
        return config.data.seq_len
    if not config.model.name_or_path:
        return min(config.model.architecture.max_position_embeddings, MAX_DEFAULT_LEN)
    from transformers import AutoConfig

    model = AutoConfig.from_pretrained(config.model.name_or_path)
    return min(getattr(model, "max_position_embeddings", None) or MAX_DEFAULT_LEN, MAX_DEFAULT_LEN)


def _from_text(split, tokenizer, seq_len: int) -> dict[str, list]:
    ids = tokenizer(list(split["text"]), add_special_tokens=False)["input_ids"]
    layout = pack_documents(ids, seq_len, tokenizer.eos_token_id, tokenizer.pad_token_id)
    return {name: [flat[i:i + seq_len] for i in range(0, len(flat), seq_len)] for name, flat in layout.columns.items()}


def _from_ids(split, tokenizer, seq_len: int, derived: set[str]) -> dict[str, list]:
    """Rows cut to `seq_len`; padded (with an attention mask) when their lengths differ."""
    rows = {c: [list(v)[:seq_len] for v in split[c]] for c in ("input_ids", "labels", "position_ids", "attention_mask")
            if c in split.column_names}
    if "labels" not in rows:
        rows["labels"] = [list(ids) for ids in rows["input_ids"]]
        derived.add("labels")
    width = max(map(len, rows["input_ids"]), default=0)
    if all(len(ids) == width for ids in rows["input_ids"]):
        return rows
    if "position_ids" in rows:
        raise TrainingError("rows of different lengths with position_ids: pack them to one length first")
    lengths = [len(ids) for ids in rows["input_ids"]]
    rows["input_ids"] = [ids + [tokenizer.pad_token_id] * (width - len(ids)) for ids in rows["input_ids"]]
    rows["labels"] = [labels + [IGNORE_INDEX] * (width - len(labels)) for labels in rows["labels"]]
    rows["attention_mask"] = [[1] * n + [0] * (width - n) for n in lengths]
    derived.add("attention_mask (padding)")
    return rows


def prepare_plain_dataset(folder: Path, out: Path, config: TrainConfig, uri: str) -> Path:
    """Write `out`: the splits of the DatasetDict in `folder` as trainable rows, the tokenizer and stats.json."""
    from datasets import Dataset, DatasetDict, load_from_disk
    from datasets.utils.logging import disable_progress_bar

    data = load_from_disk(str(folder))
    data = data if isinstance(data, DatasetDict) else DatasetDict({"train": data})
    named = {SPLIT_NAMES[n]: split for n, split in data.items() if n in SPLIT_NAMES}
    if "train" not in named:
        raise TrainingError(f"{uri}: a plain DatasetDict needs a train split (has {', '.join(data) or 'none'})")
    columns = named["train"].column_names
    if "input_ids" not in columns and "text" not in columns:
        raise TrainingError(f"{uri}: a plain DatasetDict needs an input_ids or a text column "
                            f"(has {', '.join(columns)})")
    tokenizer, seq_len, derived = _tokenizer(config, uri), _row_length(config), set()
    if "input_ids" not in columns:
        derived.update({"input_ids (tokenized text)", "position_ids (packed)", "labels"})
    splits = {}
    for name in ("train", "validation", "test"):
        split = named.get(name)
        if split is None:  # empty, with train's columns (a missing validation split is held out below)
            splits[name] = splits["train"].select([])
            continue
        rows = _from_ids(split, tokenizer, seq_len, derived) if "input_ids" in columns else \
            _from_text(split, tokenizer, seq_len)
        splits[name] = Dataset.from_dict(rows)
    if not len(splits["validation"]) and len(splits["train"]) > 1:
        # Training must not call train-split numbers "validation": hold out 5% of the rows (at least
        # one), seeded. A document packed across two rows may then sit on both sides: said in stats.
        held = splits["train"].train_test_split(test_size=max(1, len(splits["train"]) // 20),
                                                seed=config.training.seed, shuffle=True)
        splits["train"], splits["validation"] = held["train"], held["test"]
        derived.add("validation (5% of the train rows, held out)")
    disable_progress_bar()
    # One shard per split at least: datasets writes none for an empty split, then cannot load it.
    DatasetDict(splits).save_to_disk(str(out), num_shards={name: 1 for name in splits})
    tokenizer.save_pretrained(str(out / TOKENIZER))
    width = max((len(r) for r in splits["train"]["input_ids"][:1]), default=seq_len)
    stats = {"task": "generation", "seq_len": width, "packed": "position_ids" in splits["train"].column_names,
             "vocab_size": len(tokenizer), "eos_token_id": tokenizer.eos_token_id,
             "pad_token_id": tokenizer.pad_token_id, "rows": {n: len(s) for n, s in splits.items()},
             "plain_dataset": {"uri": uri, "derived": sorted(derived)},
             "collection": {"uri": None, "sources": []}}
    (out / STATS).write_text(json.dumps(stats, indent=2))
    return out
