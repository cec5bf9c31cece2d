"""dataset: a collection -> split, tokenized, packed Hugging Face DatasetDict."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from application.artifacts import fetch_tree, publish_tree, read_json, write_json
from application.collect import MANIFEST
from application.packing import pack_documents, pad_documents
from application.splits import SPLITS, split_rows
from domain.errors import DatasetError
from domain.ports import Storage

STATS = "stats.json"


@dataclass(frozen=True)
class DatasetRequest:
    task: str = "generation"
    seq_len: int = 512
    pack: bool = True
    seed: int = 42
    ratios: tuple[float, float, float] = (0.9, 0.05, 0.05)
    tokenizer: str = "train"  # "train" or a tokenizer path / hub name
    vocab_size: int = 8000
    kinds: tuple[str, ...] = ("file",)


@dataclass(frozen=True)
class DatasetResult:
    uri: str
    stats: dict


def build_dataset(
    request: DatasetRequest,
    *,
    collection: Storage,
    output: Storage,
    read_shards: Callable[[list[Path]], list[dict]],
    train_tokenizer: Callable,
    load_tokenizer: Callable,
    save_dataset_dict: Callable[[dict[str, list[dict]], Path], dict[str, int]],
) -> DatasetResult:
    """Split without leakage, tokenize, pack and publish; stats.json is written last."""
    if request.task != "generation":
        raise DatasetError(f"--task {request.task}: not supported yet (supported: generation)")
    if abs(sum(request.ratios) - 1.0) > 1e-6:
        raise DatasetError(f"--split {request.ratios}: ratios must sum to 1")
    with tempfile.TemporaryDirectory(prefix="codetrain-dataset-") as tmp:
        root = fetch_tree(collection, Path(tmp) / "collection", MANIFEST, "collection")
        manifest = read_json(collection, MANIFEST)
        rows = [r for r in read_shards([root / s["path"] for s in manifest["shards"]]) if r["kind"] in request.kinds]
        if not rows:
            raise DatasetError(f"{collection.uri}: no units of kind {', '.join(request.kinds)}")
        splits, grouping = split_rows(rows, request.ratios, request.seed)
        if request.tokenizer == "train":
            tokenizer = train_tokenizer((r["content"] for r in splits["train"]), request.vocab_size)
        else:
            tokenizer = load_tokenizer(request.tokenizer)
        eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
        blocks, tokens = {}, {}
        for name in SPLITS:
            docs = tokenizer([r["content"] for r in splits[name]], add_special_tokens=False)["input_ids"] if splits[name] else []
            tokens[name] = sum(len(d) + 1 for d in docs)
            layout = pack_documents(docs, request.seq_len, eos) if request.pack else pad_documents(docs, request.seq_len, eos, pad)
            blocks[name] = list(layout)
        staging = Path(tmp) / "out"
        counts = save_dataset_dict(blocks, staging)
        tokenizer.save_pretrained(str(staging / "tokenizer"))
        stats = {
            "format": "codetrain-dataset/1",
            "task": request.task,
            "collection": {"uri": collection.uri, "sources": manifest.get("sources", [])},
            "grouping": grouping,
            "units": {n: len(splits[n]) for n in SPLITS},
            "tokens": tokens,
            "rows": counts,
            "seq_len": request.seq_len,
            "packed": request.pack,
            "vocab_size": len(tokenizer),
            "eos_token_id": eos,
            "pad_token_id": pad,
            "options": {**request.__dict__, "ratios": list(request.ratios), "kinds": list(request.kinds)},
        }
        if not counts["train"]:
            raise DatasetError(
                f"{collection.uri}: training split has {tokens['train']} tokens, fewer than one "
                f"block of --seq-len {request.seq_len}"
            )
        if output.exists(STATS):
            output.delete(STATS)  # the old dataset stops being complete before it is overwritten
        publish_tree(staging, output)
        write_json(output, STATS, stats)
    return DatasetResult(uri=output.uri, stats=stats)
