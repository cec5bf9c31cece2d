"""dataset on Ray: the heavy stages of `build_dataset` as Ray tasks, results in input order.

The use case is unchanged: it is handed tools whose work runs on Ray. MinHash signing,
tokenization, Bandit scanning and packing map over batches (packing by chunks of documents
laid at their offset in the packed stream, `packed_stream`); split assignment runs as one task
over the rows' keys. Every result is gathered in submission order, so rows are the local run's.
"""
from __future__ import annotations

from typing import Callable, Sequence

import ray

from application.dataset.packing import pack_documents, packed_stream, pad_stream, stream_offsets
from application.dataset.splits import split_rows
from domain.errors import ExecutorError
from infrastructure.dedup.split_duplicates import NearDuplicates

RETRIES = 3
TEXTS_PER_TASK = 2000  # tokenizer/MinHash batches: ~10-50 ms of work each against ~1 ms of task overhead
DOCS_PER_PACK = 20_000  # documents per packing task


def _gather(refs: list) -> list:
    try:
        return ray.get(refs)
    except ray.exceptions.RayError as error:
        raise ExecutorError(f"ray: a dataset task failed after {RETRIES} retries ({str(error).splitlines()[0]})") from None


def _batches(items: Sequence, size: int) -> list[list]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


@ray.remote(max_retries=RETRIES)
def _call(fn: Callable, *args):
    return fn(*args)


def _encode(serialized: str, texts: list[str]) -> list[list[int]]:
    from tokenizers import Tokenizer

    core = Tokenizer.from_str(serialized)
    return [e.ids for e in core.encode_batch(texts, add_special_tokens=False)]


def _sign(num_perm: int, texts: list[str]) -> list:
    return NearDuplicates(num_perm).sign(texts)


def _scan(scan, sources: list[str]) -> list:
    return scan(sources, 1)


class RayNearDuplicates(NearDuplicates):
    """`NearDuplicates` whose signing (the costly part) runs as Ray tasks."""

    def sign(self, texts: Sequence[str]) -> list:
        refs = [_call.remote(_sign, self.num_perm, batch) for batch in _batches(texts, TEXTS_PER_TASK)]
        return [s for part in _gather(refs) for s in part]


def tokenize(tokenizer, texts: Sequence[str], num_proc: int = 1) -> list[list[int]]:
    """Token ids of every text, in order; the tokenizer travels once through the object store."""
    serialized = ray.put(tokenizer.backend_tokenizer.to_str())
    refs = [_call.remote(_encode, serialized, batch) for batch in _batches(texts, TEXTS_PER_TASK)]
    return [ids for part in _gather(refs) for ids in part]


def scanner(scan: Callable) -> Callable:
    """`scan_security` over Ray tasks (Bandit, one process per task)."""

    def scan_on_ray(sources: Sequence[str], num_proc: int = 1) -> list:
        refs = [_call.remote(_scan, scan, batch) for batch in _batches(sources, TEXTS_PER_TASK)]
        return [found for part in _gather(refs) for found in part]

    return scan_on_ray


def pack(docs: Sequence[Sequence[int]], seq_len: int, eos_id: int, pad_id: int, weights=None):
    """`pack_documents`, with chunks of documents packed by tasks at their stream offsets.

    Row weights mix neighbouring documents: with weights, one task packs everything.
    """
    if weights is not None:
        return _gather([_call.remote(pack_documents, list(docs), seq_len, eos_id, pad_id, list(weights))])[0]
    refs = [_call.remote(packed_stream, list(docs[first:stop]), seq_len, eos_id, offset)
            for first, stop, offset in stream_offsets(docs, DOCS_PER_PACK)]
    columns = {"input_ids": [], "position_ids": [], "labels": []}
    for part in _gather(refs):
        for name, values in part.items():
            columns[name] += values
    return pad_stream(columns, seq_len, pad_id)


def assign_splits(keys: list[dict], clusters: list[str], ratios, seed: int, pins=None, stratify_by=None):
    """`split_rows` as a task: the rows' repository, path and label keys travel, not their content."""
    return _gather([_call.remote(split_rows, keys, clusters, ratios, seed, pins, stratify_by)])[0]
