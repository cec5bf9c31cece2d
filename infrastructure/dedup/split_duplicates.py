"""The three near-duplicate questions the dataset verb asks, answered with collect's MinHash
(`infrastructure/dedup/minhash.py`): sign units once, then cluster them, or check some against
others (validation/test against train, units against a benchmark)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from infrastructure.dedup.minhash import LSHIndex, MinHasher

NUM_PERM = 128  # half of collect's 256: the dataset only re-checks, and signing is its main cost
_SCOPE = ""  # one namespace: LSHIndex scopes let collect keep kinds apart; here all units compare
# Up to this many reference signatures, compare every query with every reference (exact
# estimate, no LSH misses near the threshold): a benchmark's 164 problems cost ~10 us a unit.
BRUTE_FORCE_REFERENCES = 2000


class NearDuplicates:
    """MinHash signatures of token 5-grams (words and punctuation) and lookups at a Jaccard threshold."""

    def __init__(self, num_perm: int = NUM_PERM, brute_force_references: int = BRUTE_FORCE_REFERENCES):
        self.num_perm = num_perm
        self.brute_force_references = brute_force_references
        self._hasher = MinHasher(num_perm=num_perm)

    def sign(self, texts: Sequence[str]) -> list:
        """One signature per text; None for a text too short to call anything its near-duplicate."""
        return [self._hasher.signature(text) for text in texts]

    def clusters(self, signatures: Sequence, threshold: float) -> list[str]:
        """Cluster id per signature: each joins the first earlier one it nearly duplicates."""
        index = LSHIndex(threshold=threshold, num_perm=self.num_perm)
        found = []
        for i, signature in enumerate(signatures):
            cluster = None if signature is None else index.query(_SCOPE, signature)
            if cluster is None:
                cluster = f"mh{i}"
                if signature is not None:
                    index.add(_SCOPE, signature, cluster)
            found.append(cluster)
        return found

    def matches(self, reference: Sequence, queries: Sequence, threshold: float) -> list[bool]:
        """For each query signature: does it nearly duplicate some reference signature?"""
        kept = [s for s in reference if s is not None]
        if len(kept) <= self.brute_force_references:
            return self._compare_all(kept, queries, threshold)
        index = LSHIndex(threshold=threshold, num_perm=self.num_perm)
        for i, signature in enumerate(reference):
            if signature is not None:
                index.add(_SCOPE, signature, str(i))
        return [s is not None and index.query(_SCOPE, s) is not None for s in queries]

    @staticmethod
    def _compare_all(reference: list, queries: Sequence, threshold: float) -> list[bool]:
        if not reference:
            return [False] * len(queries)
        matrix = np.stack(reference)
        found = []
        for signature in queries:
            if signature is None:
                found.append(False)
                continue
            agreement = (matrix == signature).mean(axis=1)  # estimated Jaccard with each reference
            found.append(bool(agreement.max() >= threshold))
        return found
