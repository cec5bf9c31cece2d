"""Near-duplicate questions answered on real MinHash signatures, by LSH and by full comparison."""
from __future__ import annotations

import random

import pytest

from infrastructure.dedup.split_duplicates import NearDuplicates
from tests.dataset_fixtures import near_copy, random_module

rng = random.Random(4)
ORIGINALS = [random_module(rng, functions=6) for _ in range(30)]
COPIES = [near_copy(text) for text in ORIGINALS[:10]]


@pytest.mark.parametrize("brute_force_references", [0, 10_000])  # LSH index / compare all
def test_near_copies_match_their_originals_and_nothing_else(brute_force_references):
    near = NearDuplicates(brute_force_references=brute_force_references)
    reference = near.sign(ORIGINALS[:20])
    hits = near.matches(reference, near.sign(COPIES + ORIGINALS[20:]), threshold=0.8)
    assert hits == [True] * 10 + [False] * 10


def test_clusters_join_near_copies_and_keep_distinct_texts_apart():
    near = NearDuplicates()
    clusters = near.clusters(near.sign(ORIGINALS[:5] + COPIES[:3] + ["x = 1"]), threshold=0.8)
    assert clusters[5:8] == clusters[:3]
    assert len(set(clusters[:5])) == 5
    assert clusters[8] not in clusters[:8]  # too short to sign: a cluster of its own
