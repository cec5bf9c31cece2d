"""MinHash, the LSH index and the keep/drop decisions, on texts made in the test."""
from __future__ import annotations

import random
import re

import pytest

from application.collect.dedup import Deduplicator
from infrastructure.dedup.minhash import LSHIndex, MinHasher, optimal_bands

BASE = "\n".join(f"def handler_{i}(request, value):\n    total = compute(request.items, value * {i})\n"
                 f"    return respond(total, status={200 + i})" for i in range(40))


def jaccard(a: str, b: str, n: int = 5) -> float:
    def shingles(text):
        tokens = re.findall(r"\w+|[^\w\s]", text)
        return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}
    x, y = shingles(a), shingles(b)
    return len(x & y) / len(x | y)


def edited(text: str, share: float, seed: int) -> str:
    rng = random.Random(seed)
    return "\n".join(f"x_{rng.randrange(10**9)} = {rng.randrange(10**9)}" if rng.random() < share else line
                     for line in text.split("\n"))


@pytest.mark.parametrize("share", [0.02, 0.1, 0.3, 0.6])
def test_signature_agreement_estimates_jaccard(share):
    hasher = MinHasher()
    other = edited(BASE, share, seed=int(share * 100))
    a, b = hasher.signature(BASE), hasher.signature(other)
    estimate = float((a == b).mean())
    assert abs(estimate - jaccard(BASE, other)) < 0.1  # 256 permutations: std error <= 0.032


def test_short_texts_get_no_signature_and_signatures_are_stable():
    hasher = MinHasher(min_tokens=20)
    assert hasher.sign("def f(): pass") is None
    assert hasher.sign(BASE) == MinHasher().sign(BASE)  # same seed, same permutations: resumable


def test_index_finds_near_copies_of_the_same_kind_only():
    hasher, index = MinHasher(), LSHIndex(threshold=0.7)
    index.add("file", hasher.sign(BASE), "cluster-a")
    close, far = edited(BASE, 0.02, 1), edited(BASE, 0.7, 2)
    assert jaccard(BASE, close) > 0.8 and jaccard(BASE, far) < 0.4
    assert index.query("file", hasher.sign(close)) == "cluster-a"
    assert index.query("file", hasher.sign(far)) is None
    assert index.query("function", hasher.sign(close)) is None


def test_bands_rise_below_the_threshold():
    from infrastructure.dedup.minhash import candidate_probability

    bands, rows = optimal_bands(0.7, 256)
    assert bands * rows <= 256
    assert candidate_probability(0.7, bands, rows) >= 0.99  # pairs at the threshold are compared
    assert candidate_probability(0.3, bands, rows) < 0.05  # unrelated code rarely is
    assert (1 / bands) ** (1 / rows) < 0.6  # the S-curve's midpoint sits below the threshold


def test_candidates_are_verified_by_exact_jaccard():
    # A pair whose signature estimate and exact similarity differ: the exact one decides.
    hasher, index = MinHasher(), LSHIndex(threshold=0.7)
    index.add("file", hasher.sign(BASE), "kept")
    for share, seed in ((0.05, 3), (0.25, 4), (0.35, 5), (0.5, 6)):
        variant = edited(BASE, share, seed)
        found = index.match("file", hasher.sign(variant))
        truth = jaccard(BASE, variant)
        if found is not None:
            assert found == ("kept", pytest.approx(truth, abs=0.02))  # hashed shingles: ~exact
        assert (found is not None) == (truth >= 0.7)


def test_survivor_is_the_most_similar_then_the_earliest():
    from application.collect.dedup import choose_survivor

    assert choose_survivor([("a", 0.8), ("b", 0.9), ("c", 0.9)], 0.7) == ("b", 0.9)
    assert choose_survivor([("a", 0.69)], 0.7) is None
    assert choose_survivor([], 0.7) is None


def row(i: str, text: str, kind: str = "file") -> dict:
    from application.collect.files import content_hash
    return {"id": i, "kind": kind, "content_hash": content_hash(text)}


def test_first_copy_is_kept_and_names_the_cluster_then_replay_restores_every_decision():
    hasher = MinHasher()
    texts = [("a", BASE), ("b", "  " + BASE.replace("\n", "\n\n")), ("c", edited(BASE, 0.02, 3)),
             ("d", edited(BASE, 0.8, 4))]
    dedup = Deduplicator(LSHIndex())
    decisions = [dedup.admit(row(i, t), hasher.sign(t)) for i, t in texts]
    assert decisions == ["a", None, None, "d"]  # b: exact (whitespace only), c: near
    assert dedup.dropped == {"exact": 1, "near": 1} and dedup.cluster_sizes == {"a": 3}

    again = Deduplicator(LSHIndex())
    again.replay(dedup.take_journal())
    assert again.summary() == dedup.summary()
    assert again.admit(row("e", BASE), hasher.sign(BASE)) is None  # the restored index still knows "a"


def test_samples_of_a_previous_collection_are_dropped_but_not_clustered():
    hasher, dedup = MinHasher(), Deduplicator(LSHIndex())
    dedup.remember_previous({"id": "old", "kind": "file", "content_hash": row("x", BASE)["content_hash"]},
                            hasher.sign(BASE))
    assert dedup.admit(row("new", edited(BASE, 0.02, 5)), hasher.sign(edited(BASE, 0.02, 5))) is None
    assert dedup.dropped == {"previous": 1} and dedup.cluster_sizes == {}


def test_tokens_match_the_regex_and_unit_spans_sign_like_the_unit_alone():
    import numpy as np

    from infrastructure.dedup.minhash import _Powers, tokenize

    data = ("class Box:\n    def get(self, key='caf\u00e9'):\n        return self.items[key] + 3.5e-2\n\n"
            + BASE).encode()
    starts, ends, hashes = tokenize(data, _Powers())
    assert [data[a:b] for a, b in zip(starts, ends)] == re.findall(rb"\w+|[^\w\s]", data)
    first_hash = {}
    for token, value in zip((data[a:b] for a, b in zip(starts, ends)), hashes):
        assert first_hash.setdefault(token, int(value)) == int(value)  # same bytes, same hash anywhere
    hasher = MinHasher(min_tokens=5)
    spans = [(0, len(data)), (11, data.index(b"\n\n")), (data.index(b"def handler_3"), data.index(b"def handler_4"))]
    together = hasher.signatures(data, spans)
    for (begin, end), signature in zip(spans, together):
        assert np.array_equal(signature, hasher.signature(data[begin:end].decode()))


def test_the_index_still_finds_near_copies_after_its_buckets_are_compacted():
    import numpy as np

    rng, index = np.random.default_rng(0), LSHIndex()
    signatures = [rng.integers(0, 2**32, size=256, dtype=np.uint32) for _ in range(4000)]
    for i, signature in enumerate(signatures):  # 4000 x 25 band keys: past the 65,536-key merge
        index.add("function", signature.tobytes(), f"c{i}")
    assert len(index._buckets.keys) >= 65_536  # the sorted arrays are in use
    for i in (0, 1999, 3999):
        near = signatures[i].copy()
        near[:40] = rng.integers(0, 2**32, size=40, dtype=np.uint32)  # 84 % of values equal
        assert index.query("function", near.tobytes()) == f"c{i}"
    unrelated = rng.integers(0, 2**32, size=256, dtype=np.uint32)
    assert index.query("function", unrelated.tobytes()) is None


def test_near_the_threshold_the_exact_jaccard_decides_also_after_a_resume():
    from infrastructure.dedup.minhash import VERIFY_MARGIN

    hasher = MinHasher()
    variants = [(f"v{share}-{seed}", edited(BASE, share, seed))
                for share, seed in ((0.15, 13), (0.1, 11), (0.15, 14), (0.1, 14))]
    estimates = [float((hasher.signature(BASE) == hasher.signature(t)).mean()) for _, t in variants]
    assert all(abs(e - 0.7) < VERIFY_MARGIN for e in estimates)  # verified on their texts
    # the estimate alone would decide 0.15-13 (0.750 vs 0.698) and 0.15-14 wrongly
    assert [e >= 0.7 for e in estimates] != [jaccard(BASE, t) >= 0.7 for _, t in variants]

    def content_row(i, text):
        return {**row(i, text), "content": text}

    whole = Deduplicator(LSHIndex())
    assert whole.admit(content_row("a", BASE), hasher.sign(BASE)) == "a"
    resumed = Deduplicator(LSHIndex())
    resumed.replay(whole.take_journal(), {"a": BASE})  # the texts come back from the written shard
    for i, text in variants:
        truth = jaccard(BASE, text)
        decisions = [d.admit(content_row(i, text), hasher.sign(text)) for d in (whole, resumed)]
        assert decisions[0] == decisions[1] and (decisions[0] is None) == (truth >= 0.7), (i, truth)
