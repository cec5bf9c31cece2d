"""The LSH index's bucket store: band key -> entry indices, compact enough for millions of units."""
from __future__ import annotations

import numpy as np

_BITMAP_BITS = 1 << 27  # bitmap size in bits: 2.5 M keys set ~2 % of it, so few false "maybe"s
_BIT_MASK, _THREE, _SEVEN = np.uint64(_BITMAP_BITS - 1), np.uint64(3), np.uint64(7)


class Buckets:
    """Band key -> entry indices, about 12 bytes an entry.

    A dict of Python ints costs about 110 bytes an entry, and an index holds `bands` entries per
    kept unit (37 at the default threshold). So recent keys sit in a small dict (65,536 keys, or
    1/8 of the merged ones when more) that is then merged into sorted numpy arrays searched with
    searchsorted; a 16 MB
    bitmap of the merged keys answers most misses without a search.
    """

    _BITS = _BITMAP_BITS

    def __init__(self):
        self.keys = np.empty(0, dtype=np.uint64)
        self.values = np.empty(0, dtype=np.int32)
        self.bitmap = np.zeros(self._BITS // 8, dtype=np.uint8)
        self.recent: dict[int, int] = {}  # key -> latest index; earlier ones of a shared key in `shared`
        self.shared: dict[int, list[int]] = {}
        self._pending_keys: list[int] = []
        self._pending_values: list[int] = []

    def add(self, keys: list[int], index: int) -> None:
        recent = self.recent
        for key in recent.keys() & keys:  # rare: a bucket that already holds an entry
            self.shared.setdefault(key, []).append(recent[key])
        recent.update(dict.fromkeys(keys, index))
        self._pending_keys += keys
        self._pending_values += [index] * len(keys)
        # about 10 MB of dict at first; each merge is linear in what is merged, so the batch grows
        # with the index (1/8 of it): the copies stay a few times the index, not quadratic
        if len(self._pending_keys) >= max(1 << 16, len(self.keys) >> 3):
            self._merge()

    def _merge(self) -> None:
        new_keys = np.array(self._pending_keys, dtype=np.uint64)
        order = np.argsort(new_keys, kind="stable")
        # inserted after equal older keys (as a stable sort of old + new would place them): one
        # linear pass over the merged arrays instead of re-sorting them (measured 3x faster)
        at = np.searchsorted(self.keys, new_keys[order], side="right")
        self.keys = np.insert(self.keys, at, new_keys[order])
        self.values = np.insert(self.values, at, np.array(self._pending_values, dtype=np.int32)[order])
        bits = new_keys % np.uint64(self._BITS)
        np.bitwise_or.at(self.bitmap, (bits >> np.uint64(3)).astype(np.int64),
                         (np.uint8(1) << (bits & np.uint64(7)).astype(np.uint8)))
        self.recent, self.shared, self._pending_keys, self._pending_values = {}, {}, [], []

    def lookup(self, keys: list[int], wanted: np.ndarray) -> set[int]:
        """Entry indices in the buckets of `keys` (`wanted`: the same keys as a uint64 array)."""
        recent, shared = self.recent, self.shared
        found = {recent[k] for k in recent.keys() & keys}  # set intersection: C speed on a miss
        if shared:
            for key in shared.keys() & keys:
                found.update(shared[key])
        if len(self.keys):
            bits = wanted & _BIT_MASK
            maybe = (self.bitmap[bits >> _THREE] >> (bits & _SEVEN).astype(np.uint8)) & 1
            wanted = np.sort(wanted[maybe.astype(bool)])
            if len(wanted):
                found.update(self._search(wanted))
        return found

    def _search(self, wanted: np.ndarray) -> list[int]:
        at = np.searchsorted(self.keys, wanted)
        hit = at < len(self.keys)
        hit[hit] = self.keys[at[hit]] == wanted[hit]
        found = []
        for start, key in zip(at[hit].tolist(), wanted[hit].tolist()):
            stop = start + 1
            while stop < len(self.keys) and int(self.keys[stop]) == key:  # rare: shared bucket
                stop += 1
            found += self.values[start:stop].tolist()
        return found
