"""Near-duplicate detection: vectorised MinHash signatures and an LSH banding index.

Chosen over datasketch after measuring both on the same texts (bench/collect.py prints the
side-by-side numbers). Here a file is tokenized and hashed once, in numpy: token boundaries
from byte classes, token hashes from a prefix polynomial hash, 5-gram shingles from a rolling
combination, 256 permutations as one matrix operation. A function inside the file is a byte
span of it, so its signature is the minimum over its own rows of that same matrix: the units of
a file cost little more than the file, and each signature equals what the unit alone would get.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import xxhash

from infrastructure.dedup.buckets import Buckets

_CHUNK = 4096  # shingle rows per matrix step: 4096 x 256 x 4 bytes = 4 MB at most
_BLOCK = 16384  # kept signatures per storage block of the LSH index: 16 MB
# Token classes on UTF-8 bytes, as the regex rb"\w+|[^\w\s]" would split them: runs of ASCII
# letters, digits and "_" are one token, whitespace separates, any other byte is a token alone.
_WORD = np.zeros(256, dtype=bool)
_WORD[list(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")] = True
_SPACE = np.zeros(256, dtype=bool)
_SPACE[list(b" \t\n\r\x0b\x0c")] = True
_P = 0x100000001B3  # odd, so invertible modulo 2**64
_P_INV = pow(_P, -1, 2**64)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every input bit reaches every output bit (wrapping uint64)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


class _Powers:
    """P**i and P**-i modulo 2**64 for i < n, grown on demand."""

    def __init__(self):
        self.up = self.down = np.ones(0, dtype=np.uint64)

    def get(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if len(self.up) < n:
            size = max(n, 2 * len(self.up), 1 << 16)
            self.up = np.concatenate([[np.uint64(1)], np.cumprod(np.full(size - 1, _P, dtype=np.uint64))])
            self.down = np.concatenate([[np.uint64(1)], np.cumprod(np.full(size - 1, _P_INV, dtype=np.uint64))])
        return self.up[:n], self.down[:n]


def tokenize(data: bytes, powers: _Powers) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start offsets, end offsets, 64-bit hashes) of the tokens of `data`."""
    codes = np.frombuffer(data, dtype=np.uint8)
    word, space = _WORD[codes], _SPACE[codes]
    previous = np.concatenate([[False], word[:-1]])
    following = np.concatenate([word[1:], [False]])
    word_start = word & ~previous
    starts = np.flatnonzero(word_start | ~(word | space))
    ends = starts + 1
    ends[word_start[starts]] = np.flatnonzero(word & ~following) + 1
    up, down = powers.get(len(codes) + 1)
    # prefix[i] = sum of (byte+1) * P**j for j < i; a token's hash is its slice, shifted to 0
    prefix = np.concatenate([[np.uint64(0)], np.cumsum((codes.astype(np.uint64) + np.uint64(1)) * up[:len(codes)])])
    hashes = _mix((prefix[ends] - prefix[starts]) * down[starts])
    return starts, ends, hashes


def candidate_probability(similarity: float, bands: int, rows: int) -> float:
    """The S-curve: chance that two texts of Jaccard `similarity` share at least one band."""
    return 1.0 - (1.0 - similarity**rows) ** bands


def optimal_bands(threshold: float, num_perm: int, min_recall: float = 0.99) -> tuple[int, int]:
    """(bands, rows) whose S-curve rises *below* `threshold`: a pair at the threshold is a
    candidate with probability >= `min_recall`, and among such curves the one with most rows
    per band (fewest unrelated candidates) is chosen, with only as many bands as that recall
    needs (each band is a bucket lookup and insert per unit: 37 instead of 42 at 0.7).

    datasketch's choice (least false-positive plus false-negative area) centres the curve on
    the threshold, so about half the pairs right at it are never compared (recall 0.83-0.89 on
    planted 0.70-0.95 variants). Candidates are verified afterwards (exact Jaccard when the
    shingles travel with the signature), so a low curve costs comparisons, not precision.
    """
    for rows in range(num_perm, 0, -1):
        if candidate_probability(threshold, num_perm // rows, rows) >= min_recall:
            bands = next(b for b in range(1, num_perm // rows + 1)
                         if candidate_probability(threshold, b, rows) >= min_recall)
            return bands, rows
    return num_perm, 1


class MinHasher:
    """MinHash signatures over token n-gram shingles.

    Args:
        num_perm: Number of hash permutations (signature length).
        ngram: Tokens per shingle.
        min_tokens: Texts with fewer tokens get no signature (too short to call "near").
        seed: Permutation seed; signatures are comparable only between equal seeds.
    """

    def __init__(self, num_perm: int = 256, ngram: int = 5, min_tokens: int = 20, seed: int = 1,
                 banding: "Banding | None" = None):
        self.banding = banding  # band hashes travel with each signature: workers compute them
        rng = np.random.default_rng(seed)
        self.num_perm, self.ngram, self.min_tokens = num_perm, ngram, max(min_tokens, ngram)
        # x -> a*x + b (mod 2**32) with odd a is a permutation of the 32-bit shingle hashes;
        # 32-bit lanes run about 7x faster than 64-bit ones here (measured)
        self._a = rng.integers(0, 2**31, size=num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
        self._b = rng.integers(0, 2**32, size=num_perm, dtype=np.uint32)
        self._powers = _Powers()
        self._scratch: np.ndarray | None = None

    def __getstate__(self):  # workers rebuild their power tables and scratch buffer themselves
        return {k: v for k, v in self.__dict__.items() if k not in ("_powers", "_scratch")}

    def __setstate__(self, state):
        self.__dict__.update(state, _powers=_Powers(), _scratch=None)

    def _buffer(self) -> np.ndarray:
        if self._scratch is None:
            self._scratch = np.empty((self.num_perm, _CHUNK), dtype=np.uint32)
        return self._scratch

    def _rows(self, data: bytes, spans: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(shingles of `data`, validity of each span, first and stop shingle row of each valid one)."""
        starts, ends, hashes = tokenize(data, self._powers)
        shingles = shingles_of(hashes, self.ngram)
        bounds = np.array(spans, dtype=np.int64).reshape(-1, 2)
        first = np.searchsorted(starts, bounds[:, 0], "left")
        last = np.searchsorted(ends, bounds[:, 1], "right")  # tokens ending inside the span
        valid = last - first >= self.min_tokens
        return shingles, valid, first[valid], last[valid] - self.ngram + 1

    def signatures(self, data: bytes, spans: list[tuple[int, int]]) -> list[np.ndarray | None]:
        """Signatures of byte spans of `data` (a file and the units cut from it), in one pass.

        Each equals the signature of the span's bytes on their own. None for a span with fewer
        than `min_tokens` tokens.
        """
        return self._signatures(*self._rows(data, spans))

    def _signatures(self, shingles: np.ndarray, valid: np.ndarray, first: np.ndarray,
                    stop: np.ndarray) -> list[np.ndarray | None]:
        if not valid.any():
            return [None] * len(valid)
        # Units nest (file > class > method), so each row would be reduced once per span holding
        # it. Instead: cut the rows at every span edge (and chunk edge), reduce each segment once,
        # then a span's minimum is the minimum of its few segment minima (min is associative).
        edges = np.unique(np.concatenate([first, stop, np.arange(0, len(shingles), _CHUNK), [len(shingles)]]))
        seg_first, seg_stop = np.searchsorted(edges, first), np.searchsorted(edges, stop)
        depth = np.zeros(len(edges), dtype=np.int64)  # spans open over each segment
        np.add.at(depth, seg_first, 1)
        np.add.at(depth, seg_stop, -1)
        covered = np.cumsum(depth)[:-1] > 0
        # permutations x rows: each permutation's values contiguous, so the reductions run along
        # contiguous memory (reduceat down the other axis measured 25x slower)
        segments = np.empty((self.num_perm, len(edges) - 1), dtype=np.uint32)
        for block in range(0, len(shingles), _CHUNK):
            end = min(block + _CHUNK, len(shingles))
            lo, hi = np.searchsorted(edges, [block, end])
            if not covered[lo:hi].any():
                continue
            # into a reused buffer: fresh 4 MB arrays cost 4x in page faults
            matrix = self._buffer()[:, : end - block]
            np.multiply(self._a[:, None], shingles[None, block:end], out=matrix)
            matrix += self._b[:, None]  # wraps: x -> a*x + b is a permutation of 32-bit values
            segments[:, lo:hi] = np.minimum.reduceat(matrix, edges[lo:hi] - block, axis=1)
        found = iter([segments[:, a:b].min(axis=1) for a, b in zip(seg_first.tolist(), seg_stop.tolist())])
        return [next(found) if ok else None for ok in valid.tolist()]

    def signature(self, text: str) -> np.ndarray | None:
        """uint32 signature of length num_perm, or None for a text too short to compare."""
        data = text.encode("utf-8", "surrogatepass")
        return self.signatures(data, [(0, len(data))])[0]

    def sign(self, text: str) -> bytes | None:
        """The signature of a whole text as bytes (see `sign_spans`)."""
        data = text.encode("utf-8", "surrogatepass")
        return self.sign_spans(data, [(0, len(data))])[0]

    def sign_spans(self, data: bytes, spans: list[tuple[int, int]]) -> list[bytes | None]:
        """Signature blobs (what crosses processes and resume journals), see `pack`: each holds
        the span's signature and its band hashes (computed here, in the worker)."""
        signatures = self.signatures(data, spans)
        present = [s for s in signatures if s is not None]
        if not present:
            return signatures
        stacked = np.stack(present)
        # all of a file's band hashes in one matrix operation
        bands = self.banding.hashes_of(stacked) if self.banding is not None else None
        blobs = iter(pack(stacked[i], None if bands is None else bands[i]) for i in range(len(present)))
        return [None if s is None else next(blobs) for s in signatures]


def pack(signature: np.ndarray, bands: np.ndarray | None) -> bytes:
    """signature (uint32 x num_perm) | band hashes (uint64). A blob of the signature alone is valid too."""
    return signature.tobytes() if bands is None else signature.tobytes() + bands.tobytes()


def unpack(blob: bytes, num_perm: int) -> tuple[np.ndarray, np.ndarray | None]:
    """(signature, band hashes or None) of a blob made by `pack`."""
    signature = np.frombuffer(blob, dtype=np.uint32, count=num_perm)
    bands = np.frombuffer(blob, dtype=np.uint64, offset=num_perm * 4) if len(blob) > num_perm * 4 else None
    return signature, bands


_SHINGLER_POWERS = _Powers()


def shingles_of(hashes: np.ndarray, ngram: int) -> np.ndarray:
    """32-bit hashes of every run of `ngram` consecutive tokens (given their 64-bit hashes)."""
    count = max(len(hashes) - ngram + 1, 0)
    rolled = hashes[:count].copy()
    for offset in range(1, ngram):
        rolled = rolled * np.uint64(_P) + hashes[offset:offset + count]  # wraps modulo 2**64
    return (_mix(rolled) >> np.uint64(32)).astype(np.uint32)


def shingle_set(text: str, ngram: int = 5) -> np.ndarray:
    """Distinct shingle hashes of `text` (sorted), as `MinHasher` hashes them."""
    _, _, hashes = tokenize(text.encode("utf-8", "surrogatepass"), _SHINGLER_POWERS)
    return np.unique(shingles_of(hashes, ngram))


def exact_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard similarity of two sorted arrays of distinct shingle hashes."""
    common = np.intersect1d(a, b, assume_unique=True).size
    union = a.size + b.size - common
    return common / union if union else 1.0


VERIFY_MARGIN = 0.1
"""An estimate this far or farther from the threshold decides alone (3.5 standard deviations of a
256-value estimate at Jaccard 0.7); nearer, the texts' exact shingle Jaccard decides."""


def verified_similarities(estimates: np.ndarray, threshold: float,
                          exact: Callable[[int], float | None]) -> list[float]:
    """The similarity every executor decides candidate pairs on (a pure function of each pair).

    Pair i's signature estimate when it is clearly above or below `threshold` (most candidates
    of the low S-curve are far below it), else `exact(i)`: the exact Jaccard of the two texts'
    word 5-grams (`ShingleCache.exact`), which only these few pairs pay for; None from it (a
    text unknown) keeps the estimate.
    """
    similarities = estimates.tolist()
    for i in np.flatnonzero(np.abs(estimates - threshold) < VERIFY_MARGIN).tolist():
        value = exact(i)
        if value is not None:
            similarities[i] = value
    return similarities


class ShingleCache:
    """`shingle_set` of texts by key, each computed once (a text meets many candidates)."""

    def __init__(self, texts: Callable[[object], str | None]):
        self._texts, self._sets = texts, {}

    def __call__(self, key) -> np.ndarray:
        found = self._sets.get(key)
        if found is None:
            found = self._sets[key] = shingle_set(self._texts(key))
        return found

    def rename(self, old, new=None) -> None:
        """Key `new` now names what `old` did (computed or not); `old` is forgotten."""
        found = self._sets.pop(old, None)
        if found is not None and new is not None:
            self._sets[new] = found

    def exact(self, a, b) -> float | None:
        """The exact Jaccard similarity of two keys' texts; None when one is unknown."""
        if self._texts(a) is None or self._texts(b) is None:
            return None
        return exact_jaccard(self(a), self(b))


class Banding:
    """LSH banding: `bands` groups of `rows` signature values, each hashed to one bucket key."""

    def __init__(self, threshold: float = 0.7, num_perm: int = 256):
        self.num_perm = num_perm
        self.bands, self.rows = optimal_bands(threshold, num_perm)
        mixer = np.random.default_rng(7).integers(1, 2**63, size=self.rows, dtype=np.uint64)
        self._mixer = mixer * np.uint64(2) + np.uint64(1)
        self._band_ids = np.arange(self.bands, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)

    def hashes(self, signature: np.ndarray) -> np.ndarray:
        return self.hashes_of(signature[None, :])[0]

    def hashes_of(self, signatures: np.ndarray) -> np.ndarray:
        """Band hashes of a (n, num_perm) matrix of signatures: (n, bands) uint64."""
        used = signatures[:, : self.bands * self.rows].reshape(len(signatures), self.bands, self.rows)
        return (used.astype(np.uint64) * self._mixer).sum(axis=2) ^ self._band_ids  # wraps modulo 2**64


def scope_salt(scope: str) -> np.uint64:
    """XORed into band hashes: buckets of different scopes (unit kinds) never meet."""
    return np.uint64(xxhash.xxh3_64_intdigest(scope.encode()))


class LSHIndex:
    """Kept signatures, banded so that near-duplicates of a new one are found without a scan.

    Each entry carries the cluster id of its kept sample; `query` answers the cluster a new
    signature belongs to when its estimated Jaccard similarity reaches the threshold.
    Signatures arrive as bytes, with their band hashes appended when a MinHasher built with
    this index's `banding` made them (the main process then only looks buckets up).
    """

    def __init__(self, threshold: float = 0.7, num_perm: int = 256):
        self.threshold, self.num_perm = threshold, num_perm
        self.banding = Banding(threshold, num_perm)
        self.bands, self.rows = self.banding.bands, self.banding.rows
        # Memory is what limits a streaming run: buckets take 12 bytes a key (`Buckets`) and the
        # signatures live in fixed 16 MB blocks, 1 KB per entry (no doubling, no copy spikes).
        # Verification near the threshold needs the kept text (its string, ~1 byte a character of
        # kept code; shingles are recomputed for the few pairs near the threshold).
        self._buckets = Buckets()
        self._blocks: list[np.ndarray] = []
        self._clusters: list[str] = []
        self._texts: list[str | None] = []  # each entry's text, for exact Jaccard near the threshold
        self._query: str | None = None  # the text `candidates` is asked about (key -1 of `_shingles`)
        self._shingles = ShingleCache(lambda i: self._query if i == -1 else self._texts[i])
        self._salts: dict[str, np.uint64] = {}
        self._last_split: tuple = (None, None, None)  # (scope, blob, split): `add` after `query`

    def __len__(self) -> int:
        return len(self._clusters)

    def _split(self, scope: str, blob: bytes | np.ndarray) -> tuple:
        """(signature, bucket keys of `scope` as a list and as an array)."""
        last_scope, last_blob, split = self._last_split
        if blob is last_blob and scope == last_scope:
            return split  # the Deduplicator adds the very blob it just queried
        if isinstance(blob, np.ndarray):
            blob = blob.tobytes()
        signature, hashes = unpack(blob, self.num_perm)
        if hashes is None:
            hashes = self.banding.hashes(signature)
        salt = self._salts.get(scope)
        if salt is None:
            salt = self._salts[scope] = scope_salt(scope)
        keys = hashes ^ salt
        split = signature, keys.tolist(), keys
        if isinstance(blob, bytes):  # immutable: safe to recognise by identity
            self._last_split = (scope, blob, split)
        return split

    def candidates(self, scope: str, signature: bytes | np.ndarray, text: str | None = None) -> list[tuple[str, float]]:
        """(cluster id, similarity) of every kept entry sharing a band with `signature`, in the
        order they were kept: `verified_similarities` (exact Jaccard near the threshold when both
        texts are known, else the signatures' estimate)."""
        signature, keys, wanted = self._split(scope, signature)
        found = self._buckets.lookup(keys, wanted)
        if not found:
            return []
        order = np.array(sorted(found))
        agree = np.empty(len(order), dtype=np.int64)
        blocks = order // _BLOCK
        for block in np.unique(blocks).tolist():  # gathered per storage block, not per entry
            rows = blocks == block
            agree[rows] = np.count_nonzero(self._blocks[block][order[rows] % _BLOCK] == signature, axis=1)
        self._shingles.rename(-1)  # a new question
        self._query = text
        entries = order.tolist()
        similarities = verified_similarities(agree / self.num_perm, self.threshold,
                                             lambda k: self._shingles.exact(-1, entries[k]))
        return [(self._clusters[i], similarity) for i, similarity in zip(entries, similarities)]

    def match(self, scope: str, signature: bytes | np.ndarray, text: str | None = None) -> tuple[str, float] | None:
        """(cluster id, similarity) of the most similar kept entry at or above the threshold."""
        best = max(self.candidates(scope, signature, text), key=lambda found: found[1], default=None)  # first of equals
        return best if best is not None and best[1] >= self.threshold else None

    def query(self, scope: str, signature: bytes | np.ndarray, text: str | None = None) -> str | None:
        """Cluster id of the most similar kept entry in `scope` at or above the threshold."""
        found = self.match(scope, signature, text)
        return None if found is None else found[0]

    def add(self, scope: str, signature: bytes | np.ndarray, cluster_id: str, text: str | None = None) -> None:
        signature, keys, _ = self._split(scope, signature)
        index = len(self._clusters)
        if index % _BLOCK == 0:
            self._blocks.append(np.empty((_BLOCK, self.num_perm), dtype=np.uint32))
        self._blocks[index // _BLOCK][index % _BLOCK] = signature
        self._clusters.append(cluster_id)
        self._texts.append(text)
        if text is not None and text is self._query:  # kept after its query: its shingles are known
            self._shingles.rename(-1, index)
        self._buckets.add(keys, index)
