"""Near-duplicate detection: vectorised MinHash signatures and an LSH banding index.

Chosen over datasketch after measuring both on the same corpus (bench/collect.py prints the
side-by-side numbers): datasketch hashes every shingle with SHA-1 in Python, here each token is
hashed once (xxh3), 5-grams are combined with a rolling polynomial and all 256 permutations are
applied as one numpy matrix operation.
"""
from __future__ import annotations

import re

import numpy as np
import xxhash

_TOKEN = re.compile(rb"\w+|[^\w\s]")  # on UTF-8 bytes: non-ASCII bytes are tokens of their own
_ROLL = np.uint64(0x100000001B3)  # FNV prime: mixes the tokens of one shingle
_CHUNK = 4096  # shingles per matrix step: 4096 x 256 x 4 bytes = 4 MB at most


def optimal_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) whose S-curve best separates Jaccard below and above `threshold`.

    Minimises the area of false positives plus false negatives, as datasketch's MinHashLSH does.
    """
    best, grid = None, np.linspace(0.0, 1.0, 201)
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        prob = 1.0 - (1.0 - grid**rows) ** bands
        low, high = grid <= threshold, grid >= threshold
        error = np.trapezoid(prob[low], grid[low]) + np.trapezoid(1.0 - prob[high], grid[high])
        if best is None or error < best[0]:
            best = (error, bands, rows)
    return best[1], best[2]


class MinHasher:
    """MinHash signatures over token n-gram shingles.

    Args:
        num_perm: Number of hash permutations (signature length).
        ngram: Tokens per shingle.
        min_tokens: Texts with fewer tokens get no signature (too short to call "near").
        seed: Permutation seed; signatures are comparable only between equal seeds.
    """

    def __init__(self, num_perm: int = 256, ngram: int = 5, min_tokens: int = 20, seed: int = 1):
        rng = np.random.default_rng(seed)
        self.num_perm, self.ngram, self.min_tokens = num_perm, ngram, max(min_tokens, ngram)
        # x -> a*x + b (mod 2**32) with odd a is a permutation of the 32-bit shingle hashes;
        # 32-bit lanes run about 7x faster than 64-bit ones here (measured, bench/collect.py)
        self._a = rng.integers(0, 2**31, size=num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
        self._b = rng.integers(0, 2**32, size=num_perm, dtype=np.uint32)

    def shingles(self, text: str) -> np.ndarray | None:
        tokens = _TOKEN.findall(text.encode("utf-8", "surrogatepass"))
        if len(tokens) < self.min_tokens:
            return None
        hashes = np.fromiter(map(xxhash.xxh3_64_intdigest, tokens), dtype=np.uint64, count=len(tokens))
        count = len(tokens) - self.ngram + 1
        rolled = hashes[:count].copy()
        for offset in range(1, self.ngram):
            rolled = rolled * _ROLL + hashes[offset:offset + count]  # wraps modulo 2**64
        return (rolled >> np.uint64(32)).astype(np.uint32)

    def signature(self, text: str) -> np.ndarray | None:
        """uint32 signature of length num_perm, or None for a text too short to compare."""
        shingles = self.shingles(text)
        if shingles is None:
            return None
        signature = np.full(self.num_perm, np.iinfo(np.uint32).max, dtype=np.uint32)
        for start in range(0, len(shingles), _CHUNK):
            block = shingles[start:start + _CHUNK, None] * self._a + self._b  # wraps
            np.minimum(signature, block.min(axis=0), out=signature)
        return signature

    def sign(self, text: str) -> bytes | None:
        """The signature as bytes: what crosses process boundaries and resume journals."""
        signature = self.signature(text)
        return None if signature is None else signature.tobytes()


def _array(signature: bytes | np.ndarray) -> np.ndarray:
    if isinstance(signature, (bytes, bytearray)):
        return np.frombuffer(signature, dtype=np.uint32)
    return signature


class LSHIndex:
    """Kept signatures, banded so that near-duplicates of a new one are found without a scan.

    Each entry carries the cluster id of its kept sample; `query` answers the cluster a new
    signature belongs to when its estimated Jaccard similarity reaches the threshold.
    """

    def __init__(self, threshold: float = 0.7, num_perm: int = 256):
        self.threshold, self.num_perm = threshold, num_perm
        self.bands, self.rows = optimal_bands(threshold, num_perm)
        # Memory is what limits a streaming run: a bucket holds a bare int until it collides
        # (most never do), and signatures live in one growing uint32 matrix, 1 KB per entry.
        self._buckets: dict[int, int | list[int]] = {}
        self._signatures = np.empty((1024, num_perm), dtype=np.uint32)
        self._clusters: list[str] = []
        mixer = np.random.default_rng(7).integers(1, 2**63, size=self.rows, dtype=np.uint64)
        self._mixer = mixer * np.uint64(2) + np.uint64(1)
        self._band_ids = np.arange(self.bands, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)

    def __len__(self) -> int:
        return len(self._clusters)

    def _keys(self, scope: str, signature: np.ndarray) -> list[int]:
        bands = signature[: self.bands * self.rows].reshape(self.bands, self.rows).astype(np.uint64)
        mixed = (bands * self._mixer).sum(axis=1) ^ self._band_ids  # wraps modulo 2**64
        salt = xxhash.xxh3_64_intdigest(scope.encode())
        return [int(key) ^ salt for key in mixed]

    def query(self, scope: str, signature: bytes | np.ndarray) -> str | None:
        """Cluster id of the most similar kept entry in `scope` at or above the threshold."""
        signature = _array(signature)
        candidates: set[int] = set()
        for key in self._keys(scope, signature):
            found = self._buckets.get(key)
            if found is not None:
                candidates.update(found) if isinstance(found, list) else candidates.add(found)
        if not candidates:
            return None
        order = np.array(sorted(candidates))
        scores = np.count_nonzero(self._signatures[order] == signature, axis=1) / self.num_perm
        best = int(np.argmax(scores))  # the first of equals: the earliest kept entry
        return self._clusters[order[best]] if scores[best] >= self.threshold else None

    def add(self, scope: str, signature: bytes | np.ndarray, cluster_id: str) -> None:
        signature = _array(signature)
        index = len(self._clusters)
        if index == len(self._signatures):
            self._signatures = np.concatenate([self._signatures, np.empty_like(self._signatures)])
        self._signatures[index] = signature
        self._clusters.append(cluster_id)
        for key in self._keys(scope, signature):
            found = self._buckets.get(key)
            if found is None:
                self._buckets[key] = index
            elif isinstance(found, list):
                found.append(index)
            else:
                self._buckets[key] = [found, index]
