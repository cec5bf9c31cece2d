"""The distributed executor's pure pieces against the local run's: the keep rule replayed over
groups and verified bucket pairs gives the local Deduplicator's decisions, and shards are cut
where the local run flushes."""
from __future__ import annotations

import random
from collections import defaultdict

import numpy as np
import pytest

from application.collect.dedup import Deduplicator
from application.collect.distributed import resolve_duplicates, shard_pieces, shard_ranges
from application.collect.files import content_hash
from application.dataset.packing import pack_documents, packed_stream, pad_stream, stream_offsets
from infrastructure.dedup.minhash import LSHIndex, MinHasher, exact_jaccard, shingle_set, verified_similarities

WIDTH = 256 * 4


def texts(seed: int) -> list[tuple[str, str]]:
    """(kind, text): families of near copies, reformatted and exact copies, short texts."""
    rng = random.Random(seed)
    out = []
    for family in range(12):
        lines = [f"value_{family}_{i} = compute(item_{i}, {rng.randrange(100)}) + offset" for i in range(12)]
        kind = rng.choice(["file", "function"])
        for _ in range(rng.randrange(1, 6)):
            variant = [f"edit_{rng.randrange(10**6)} = 0" if rng.random() < rng.choice([0.05, 0.15, 0.3]) else line
                       for line in lines]
            text = "\n".join(variant)
            out.append((kind, text))
            if rng.random() < 0.4:
                out.append((kind, text.replace(" = ", "=")))  # same tokens: same signature, new content hash
            if rng.random() < 0.4:
                out.append((kind, text + "\n"))  # same content hash: an exact copy
            if rng.random() < 0.2:
                out.append(("class" if kind == "file" else "file", text))  # another kind never meets it
    out += [("function", "def f(): pass"), ("function", "def f():  pass"), ("file", "x = 1")]
    rng.shuffle(out)
    return out


def rows_of(seed: int) -> list[dict]:
    hasher = MinHasher(banding=LSHIndex(0.7).banding)  # band hashes appended, as collect signs
    return [{"gid": gid, "id": f"id{gid}", "kind": kind, "content_hash": content_hash(text), "content": text,
             "signature": hasher.sign(text)} for gid, (kind, text) in enumerate(texts(seed))]


def local_decisions(rows) -> dict[int, tuple[str, int]]:
    """The local run's decisions: dropped gid -> (how, gid of the kept row), from its journal."""
    dedup = Deduplicator(LSHIndex(0.7))
    decided, by_id = {}, {r["id"]: r["gid"] for r in rows}
    for row in rows:
        if dedup.admit(dict(row), row["signature"]) is None:
            decision = dedup.take_journal()[-1]
            decided[row["gid"]] = (decision["d"], by_id[decision["c"]], decision["j"])
    return decided


def shuffled_facts(rows):
    """What the shuffle finds, computed by brute force: groups of exact copies, and verified
    pairs of their firsts sharing a bucket."""
    members = defaultdict(list)
    for row in rows:
        members[(row["kind"], row["content_hash"])].append(row)
    groups = [(m[0]["gid"], [(r["gid"], True) for r in m[1:]]) for m in members.values() if len(m) > 1]
    firsts = [m[0] for m in members.values() if m[0]["signature"]]
    edges = []
    for i, a in enumerate(firsts):
        for b in firsts[i + 1:]:
            if a["kind"] != b["kind"] or not set(bands(a).tolist()) & set(bands(b).tolist()):
                continue
            estimate = np.array([int((sig(a) == sig(b)).sum()) / 256])
            (similarity,) = verified_similarities(
                estimate, 0.7, lambda _: exact_jaccard(shingle_set(a["content"]), shingle_set(b["content"])))
            if similarity >= 0.7:
                edges.append((a["gid"], b["gid"], similarity))
    return groups, edges


def sig(row):
    return np.frombuffer(row["signature"], dtype=np.uint32, count=256)


def bands(row):
    return np.frombuffer(row["signature"], dtype=np.uint64, offset=WIDTH)


@pytest.mark.parametrize("seed", range(6))
def test_the_keep_rule_over_groups_and_pairs_is_the_local_one(seed):
    rows = rows_of(seed)
    expected = local_decisions(rows)
    assert any(how == "near" for how, _, _ in expected.values()) and any(how == "exact" for how, _, _ in expected.values())
    resolved = resolve_duplicates(*shuffled_facts(rows))
    assert {gid: (how, kept, round(similarity, 4)) for gid, (how, kept, similarity) in resolved.items()} == expected


def test_a_later_copy_of_a_near_duplicate_joins_the_best_row_kept_before_it():
    # 0 kept; 1 near-duplicates 0; 2 kept (unlike 0); 3 is a copy of 1, closer to 2 than to 0
    edges = [(0, 1, 0.72), (1, 2, 0.9)]
    groups = [(1, [(3, True)])]
    assert resolve_duplicates(groups, edges) == {1: ("near", 0, 0.72), 3: ("near", 2, 0.9)}


def local_flushes(rows_per_task: list[int], shard_rows: int) -> list[int]:
    sizes, buffer = [], 0
    for n in rows_per_task:
        buffer += n
        if buffer >= shard_rows:
            sizes.append(buffer)
            buffer = 0
    if buffer or not sizes:
        sizes.append(buffer)
    return sizes


@pytest.mark.parametrize("shard_rows", [1, 5, 17, 1000])
def test_shards_are_cut_where_the_local_run_flushes(shard_rows):
    rng = random.Random(shard_rows)
    batches = [[rng.choice([0, 0, 1, 3, 8]) for _ in range(rng.randrange(1, 9))] for _ in range(7)]
    flat = [n for batch in batches for n in batch]
    assert [b - a for a, b in shard_ranges(flat, shard_rows)] == local_flushes(flat, shard_rows)
    pieces = shard_pieces(batches, shard_rows)
    assert [sum(stop - start for _, start, stop in shard) for shard in pieces] == local_flushes(flat, shard_rows)
    covered = [(b, i) for shard in pieces for b, start, stop in shard for i in range(start, stop)]
    assert covered == [(b, i) for b, batch in enumerate(batches) for i in range(sum(batch))]


def test_nothing_left_is_one_empty_shard():
    assert shard_pieces([[0, 0], [0]], 10) == [[]]


@pytest.mark.parametrize("seq_len,chunk", [(7, 1), (16, 3), (64, 5)])
def test_packing_chunks_at_their_offsets_equals_packing_everything(seq_len, chunk):
    rng = random.Random(seq_len)
    docs = [[rng.randrange(2, 50) for _ in range(rng.randrange(0, 40))] for _ in range(23)]
    whole = pack_documents(docs, seq_len, eos_id=0, pad_id=1)
    columns = {"input_ids": [], "position_ids": [], "labels": []}
    for first, stop, offset in stream_offsets(docs, chunk):
        for name, values in packed_stream(docs[first:stop], seq_len, 0, offset).items():
            columns[name] += values
    parts = pad_stream(columns, seq_len, pad_id=1)
    assert parts.columns == whole.columns and parts.real_tokens == whole.real_tokens
