"""collect on Ray: tasks over file batches, dedup as a shuffle, shards written by tasks.

Stages (every arrow is a set of Ray tasks; the driver holds the task list and counts only):

1. map: each batch of files is read, filtered, redacted, cut and signed (`run_batch`, the
   local run's code); its rows, signatures and keys are staged in the output storage, a
   marker last. A rerun after the driver is killed skips batches with a marker.
2. shuffle: each batch's keys go to `P` reducers, the group key (same kind and
   whitespace-normalised content) and every LSH band key by hash. A reducer sees every
   row of its groups and every member of its buckets: it lists the groups, and the pairs of
   different groups sharing a bucket, verified at the threshold as the local index verifies
   them (`verified_similarities`: exact Jaccard of the staged contents near the threshold).
3. resolve: one task replays the local keep rule over groups and verified pairs only
   (`resolve_duplicates`), never over the index.
4. write: shards are cut where the local run cuts them (`shard_pieces`) and written by tasks
   from the staged rows, so their rows equal the local run's.

Every task is idempotent (same inputs, same objects written), so Ray may rerun any of them
after a worker dies (`max_retries`).
"""
from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Callable

import numpy as np
import ray
import xxhash

from application.collect.distributed import (BatchOutput, DistributedJob, DistributedOutcome, duplicate_counts,
                                             resolve_duplicates, run_batch, shard_pieces)
from domain.errors import ExecutorError
from domain.layout import SHARD_PREFIX
from infrastructure.data.parquet import write_shard
from infrastructure.dedup.minhash import VERIFY_MARGIN, ShingleCache, scope_salt, unpack, verified_similarities
from infrastructure.executors.ray_runtime import RaySettings, cluster_cpus, ray_session

RETRIES = 3  # a task whose worker died is rerun this many times
_ROW_BITS = 32  # gid = batch << 32 | row: sorts in the local row order


def _staged(job_staging: str, batch: int, suffix: str) -> str:
    return f"{job_staging}batch-{batch:05d}.{suffix}"


def _local(storage, key: str, tmp: Path) -> Path:
    """A local path holding `key`: the file itself on local storage, else a download."""
    root = storage.local_root()
    if root is not None:
        return root / key
    path = tmp / key.replace("/", "_")
    storage.download_file(key, path)
    return path


def _keys(out: BatchOutput, num_perm: int, near: bool) -> dict[str, np.ndarray]:
    """Per row: unit id, group key (same kind and content: what the local run calls exact), band
    keys and signature (near only) and whether it is signed."""
    n = len(out.rows)
    signed = np.array([near and s is not None for s in out.signatures], dtype=bool)
    signatures = np.zeros((n, num_perm), dtype=np.uint32)
    bands = None
    for i, (row, blob) in enumerate(zip(out.rows, out.signatures)):
        if not signed[i]:
            continue
        signatures[i], hashes = unpack(blob, num_perm)
        if bands is None:
            bands = np.zeros((n, len(hashes)), dtype=np.uint64)
        bands[i] = hashes ^ scope_salt(row["kind"])
    group = [f"{r['kind']}\0{r['content_hash']}".encode() for r in out.rows]
    return {
        "ids": np.array([int(r["id"], 16) for r in out.rows], dtype=np.uint64),
        "group": np.array([xxhash.xxh3_64_intdigest(k) for k in group], dtype=np.uint64),
        "signed": signed, "bands": bands if bands is not None else np.zeros((n, 0), dtype=np.uint64),
        "signatures": signatures,
    }


@ray.remote(max_retries=RETRIES)
def map_batch(storage_for, job: DistributedJob, batch: int, tasks: list, num_perm: int) -> dict:
    """Stage 1: one batch of files into staged rows and keys; the marker is written last."""
    out = run_batch(job.context, tasks)
    keys = _keys(out, num_perm, job.near_threshold is not None)
    storage = storage_for(job.output)
    with tempfile.TemporaryDirectory(prefix="codetrain-ray-") as tmp:
        rows, arrays, signatures = Path(tmp) / "rows.parquet", Path(tmp) / "keys.npz", Path(tmp) / "sig.npy"
        write_shard(out.rows, rows)
        np.save(signatures, keys.pop("signatures"))  # .npy: reducers map it, reading a few rows
        np.savez(arrays, **keys)
        storage.upload_file(rows, _staged(job.staging, batch, "parquet"))
        storage.upload_file(signatures, _staged(job.staging, batch, "sig.npy"))
        storage.upload_file(arrays, _staged(job.staging, batch, "npz"))
    marker = {"rows": len(out.rows), "rows_per_task": out.rows_per_task, "stats": out.stats, "skipped": out.skipped}
    storage.write_bytes(_staged(job.staging, batch, "json"), json.dumps(marker).encode())
    return marker


def _partition(keys: np.ndarray, parts: int) -> list[np.ndarray]:
    """Indices of `keys` per reducer (by key, so equal keys meet)."""
    owner = (keys % np.uint64(parts)).astype(np.int64)
    return [np.flatnonzero(owner == p) for p in range(parts)]


@ray.remote(max_retries=RETRIES)
def shuffle_batch(storage_for, job: DistributedJob, batch: int, parts: int) -> list[dict]:
    """Stage 2 (map side): a batch's group and band keys, cut per reducer."""
    storage = storage_for(job.output)
    with tempfile.TemporaryDirectory(prefix="codetrain-ray-") as tmp:
        keys = dict(np.load(_local(storage, _staged(job.staging, batch, "npz"), Path(tmp))))
    gids = (np.uint64(batch) << np.uint64(_ROW_BITS)) + np.arange(len(keys["ids"]), dtype=np.uint64)
    signed = np.flatnonzero(keys["signed"])
    bands = keys["bands"][signed]
    band_keys = bands.reshape(-1)
    band_rows = np.repeat(signed, bands.shape[1])
    out = []
    for rows, members in zip(_partition(keys["group"], parts), _partition(band_keys, parts)):
        out.append({
            "group": keys["group"][rows], "gid": gids[rows], "id": keys["ids"][rows],
            "band": band_keys[members], "band_group": keys["group"][band_rows[members]],
            "band_gid": gids[band_rows[members]],
        })
    return out[0] if parts == 1 else out


def _groups(part: dict) -> tuple[list, dict[int, int]]:
    """(first gid, [(later gid, True)]) of each group of size > 1 (exact copies), and the firsts' ids."""
    order = np.lexsort((part["gid"], part["group"]))
    group, gid, ids = (part[k][order] for k in ("group", "gid", "id"))
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    stops = np.r_[starts[1:], len(group)]
    groups, names = [], {}
    for start, stop in zip(starts.tolist(), stops.tolist()):
        if stop - start > 1:
            first = int(gid[start])
            groups.append((first, [(int(g), True) for g in gid[start + 1:stop]]))
            names[first] = int(ids[start])
    return groups, names


def _bucket_pairs(part: dict) -> np.ndarray:
    """(a, b) gids, a < b, of different groups' first members sharing a bucket: (n, 2) uint64."""
    band, group, gid = part["band"], part["band_group"], part["band_gid"]
    order = np.lexsort((gid, group, band))  # a group's first row leads it in every bucket
    band, group, gid = band[order], group[order], gid[order]
    first_of_group = np.r_[True, (band[1:] != band[:-1]) | (group[1:] != group[:-1])]
    band, gid = band[first_of_group], gid[first_of_group]
    order = np.lexsort((gid, band))
    band, gid = band[order], gid[order]
    starts = np.flatnonzero(np.r_[True, band[1:] != band[:-1]])
    stops = np.r_[starts[1:], len(band)]
    pairs = [(gid[i], gid[j]) for s, e in zip(starts.tolist(), stops.tolist()) if e - s > 1
             for i in range(s, e) for j in range(i + 1, e)]
    return np.unique(np.array(pairs, dtype=np.uint64).reshape(-1, 2), axis=0)


def _verify(storage, job: DistributedJob, pairs: np.ndarray, num_perm: int, tmp: Path) -> tuple[list, dict]:
    """Pairs whose `verified_similarities` reaches the threshold (the local index's test, to the
    bit), as (gid, gid, similarity), and their ids."""
    if not len(pairs):
        return [], {}
    batches = np.unique(pairs >> np.uint64(_ROW_BITS)).tolist()
    signatures, ids = {}, {}
    for batch in batches:
        signatures[batch] = np.load(_local(storage, _staged(job.staging, batch, "sig.npy"), tmp), mmap_mode="r")
        ids[batch] = np.load(_local(storage, _staged(job.staging, batch, "npz"), tmp))["ids"]
    mask = np.uint64((1 << _ROW_BITS) - 1)

    def lookup(table, gids):
        return np.stack([table[int(g >> np.uint64(_ROW_BITS))][int(g & mask)] for g in gids])

    estimates = np.count_nonzero(lookup(signatures, pairs[:, 0]) == lookup(signatures, pairs[:, 1]), axis=1) / num_perm
    uncertain = np.abs(estimates - job.near_threshold) < VERIFY_MARGIN
    texts = _contents(storage, job, pairs[uncertain].reshape(-1), tmp)
    shingles, listed = ShingleCache(texts.get), pairs.tolist()
    similarities = verified_similarities(estimates, job.near_threshold, lambda k: shingles.exact(*listed[k]))
    edges = [(a, b, similarity) for (a, b), similarity in zip(listed, similarities) if similarity >= job.near_threshold]
    names = {g: int(lookup(ids, [np.uint64(g)])[0]) for edge in edges for g in edge[:2]}
    return edges, names


def _contents(storage, job: DistributedJob, gids: np.ndarray, tmp: Path) -> dict[int, str]:
    """gid -> staged content of these rows (read per batch, the content column only)."""
    import pyarrow.parquet as pq

    wanted: dict[int, list[int]] = {}
    for gid in set(gids.tolist()):
        wanted.setdefault(gid >> _ROW_BITS, []).append(gid)
    texts = {}
    for batch, members in wanted.items():
        path = _local(storage, _staged(job.staging, batch, "parquet"), tmp)
        column = pq.read_table(path, columns=["content"]).column("content")
        texts.update((gid, column[gid & ((1 << _ROW_BITS) - 1)].as_py()) for gid in members)
    return texts


@ray.remote(max_retries=RETRIES)
def reduce_part(storage_for, job: DistributedJob, num_perm: int, *parts: dict) -> tuple[list, list, dict, Counter]:
    """Stage 2 (reduce side): one reducer's groups and verified bucket pairs (and what it received)."""
    merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    groups, names = _groups(merged)
    edges, pairs = [], np.zeros((0, 2), dtype=np.uint64)
    if job.near_threshold is not None:
        pairs = _bucket_pairs(merged)
        with tempfile.TemporaryDirectory(prefix="codetrain-ray-") as tmp:
            edges, more = _verify(storage_for(job.output), job, pairs, num_perm, Path(tmp))
        names.update(more)
    volume = Counter(shuffle_bytes=sum(v.nbytes for v in merged.values()), group_records=len(merged["gid"]),
                     band_records=len(merged["band"]), candidate_pairs=len(pairs), verified_pairs=len(edges))
    return groups, edges, names, volume


@ray.remote(max_retries=RETRIES, num_returns=4)
def resolve(*reduced: tuple) -> tuple[np.ndarray, tuple[Counter, dict], Counter, dict]:
    """Stage 3: the local keep rule over every group and verified pair: dropped gids (sorted),
    the manifest's duplicate counts, shuffle volume, and per batch its drops
    [(row, exact | near, survivor id, similarity)] in row order (for duplicates.parquet)."""
    names = {g: n for _, _, part, _ in reduced for g, n in part.items()}
    dropped = resolve_duplicates((g for groups, _, _, _ in reduced for g in groups),
                                 (e for _, edges, _, _ in reduced for e in edges))
    how, sizes = duplicate_counts(dropped)
    volume = sum((part[3] for part in reduced), Counter())
    per_batch: dict[int, list] = {}
    for gid in sorted(dropped):
        match, kept, similarity = dropped[gid]
        per_batch.setdefault(gid >> _ROW_BITS, []).append(
            (gid & ((1 << _ROW_BITS) - 1), match, f"{names[kept]:016x}", similarity))
    return (np.array(sorted(dropped), dtype=np.uint64),
            (how, {f"{names[gid]:016x}": size for gid, size in sizes.items()}), volume, per_batch)


@ray.remote(max_retries=RETRIES)
def duplicate_rows(storage_for, job: DistributedJob, batch: int, drops: list) -> list[dict]:
    """Rows of duplicates.parquet for one batch's drops, as the local run writes them."""
    import pyarrow.parquet as pq

    fields = ["id", "repo", "path", "kind", "name", "start_line"]
    with tempfile.TemporaryDirectory(prefix="codetrain-ray-") as tmp:
        path = _local(storage_for(job.output), _staged(job.staging, batch, "parquet"), Path(tmp))
        staged = pq.read_table(path, columns=fields).to_pylist()
    return [{"id": staged[row]["id"], "survivor_id": survivor, "match": match, "jaccard": round(similarity, 4),
             **{key: staged[row][key] for key in fields[1:]}} for row, match, survivor, similarity in drops]


def _gids(batch: int, count: int) -> np.ndarray:
    return (np.uint64(batch) << np.uint64(_ROW_BITS)) + np.arange(count, dtype=np.uint64)


@ray.remote(max_retries=RETRIES)
def survivors(rows_per_task: list[int], batch: int, dropped: np.ndarray) -> list[int]:
    """Surviving rows of each task of one batch."""
    alive = ~np.isin(_gids(batch, sum(rows_per_task)), dropped)
    bounds = np.cumsum([0, *rows_per_task])
    return [int(alive[a:b].sum()) for a, b in zip(bounds[:-1], bounds[1:])]


@ray.remote(max_retries=RETRIES)
def write_final(storage_for, job: DistributedJob, key: str, pieces: list, dropped: np.ndarray) -> dict:
    """Stage 4: one shard from slices of staged batches' surviving rows, in row order."""
    import pyarrow.parquet as pq

    storage = storage_for(job.output)
    rows = []
    with tempfile.TemporaryDirectory(prefix="codetrain-ray-") as tmp:
        for batch, start, stop in pieces:
            staged = pq.read_table(_local(storage, _staged(job.staging, batch, "parquet"), Path(tmp))).to_pylist()
            alive = ~np.isin(_gids(batch, len(staged)), dropped)
            kept = [row for row, ok in zip(staged, alive.tolist()) if ok][start:stop]
            for row in kept:
                row["cluster_id"] = row["id"]  # a survivor heads its own cluster
            rows += kept
        local = Path(tmp) / "shard.parquet"
        write_shard(rows, local)
        storage.upload_file(local, key)
    return {"rows": len(rows), "by_kind": Counter(r["kind"] for r in rows),
            "by_language": Counter(r["language"] for r in rows)}


class RayCollectExecutor:
    """Runs a collect on Ray (`--executor ray`)."""

    name = "ray"

    def __init__(self, settings: RaySettings, storage_for: Callable, num_perm: int = 256, batch_tasks: int = 64):
        self.settings, self.storage_for = settings, storage_for
        self.num_perm, self.batch_tasks = num_perm, batch_tasks

    def collect(self, job: DistributedJob, progress, log) -> DistributedOutcome:
        storage = self.storage_for(job.output)
        batches = [job.tasks[i:i + self.batch_tasks] for i in range(0, len(job.tasks), self.batch_tasks)]
        with ray_session(self.settings):
            markers = self._map(storage, job, batches, progress, log)
            dropped, duplicates, volume, drops = self._dedup(job, len(batches))
            counted = [survivors.remote(m["rows_per_task"], b, dropped) for b, m in enumerate(markers)]
            plan = shard_pieces(self._get(counted), job.shard_rows)
            keys = [f"{SHARD_PREFIX}{i:05d}.parquet" for i in range(len(plan))]
            written = self._get([write_final.remote(self.storage_for, job, key, pieces, dropped)
                                 for key, pieces in zip(keys, plan)])
            duplicates, volume, drops = self._get([duplicates, volume, drops])
            lineage = self._get([duplicate_rows.remote(self.storage_for, job, b, rows)
                                 for b, rows in sorted(drops.items())])
        log("dedup shuffle: " + ", ".join(f"{k} {v}" for k, v in sorted(volume.items())))
        return DistributedOutcome(
            shards=[{"path": key, "rows": w["rows"]} for key, w in zip(keys, written)],
            counts=_counts(markers, written), duplicates=duplicates,
            lineage=([row for m in markers for row in m.get("skipped", [])], [row for rows in lineage for row in rows]))


    def _map(self, storage, job: DistributedJob, batches: list, progress, log) -> list[dict]:
        """Markers of every batch: staged by an earlier attempt, or mapped now."""
        markers: list[dict | None] = [None] * len(batches)
        for b in range(len(batches)):
            key = _staged(job.staging, b, "json")
            if storage.exists(key):
                markers[b] = json.loads(storage.read_bytes(key))
        todo = [b for b, m in enumerate(markers) if m is None]
        if len(todo) < len(batches):
            log(f"resuming: {len(batches) - len(todo)} of {len(batches)} batches already staged")
        job_ref = ray.put(job)
        running = {map_batch.remote(self.storage_for, job_ref, b, batches[b], self.num_perm): b for b in todo}
        done = sum(len(batches[b]) for b, m in enumerate(markers) if m is not None)
        progress(done, len(job.tasks))
        while running:
            ready, _ = ray.wait(list(running), num_returns=1)
            b = running.pop(ready[0])
            markers[b] = self._get(ready[0])
            done += len(batches[b])
            progress(done, len(job.tasks))
        return markers

    def _dedup(self, job: DistributedJob, batches: int):
        parts = cluster_cpus(ray) * 2
        job_ref = ray.put(job)
        shuffled = [shuffle_batch.options(num_returns=parts).remote(self.storage_for, job_ref, b, parts)
                    for b in range(batches)]
        if parts == 1:
            shuffled = [[refs] for refs in shuffled]
        reduced = [reduce_part.remote(self.storage_for, job_ref, self.num_perm, *[s[p] for s in shuffled])
                   for p in range(parts)]
        return resolve.remote(*reduced)

    @staticmethod
    def _get(refs):
        try:
            return ray.get(refs)
        except ray.exceptions.RayError as error:
            raise ExecutorError(f"ray: a task failed after {RETRIES} retries ({str(error).splitlines()[0]})") from None


def _counts(markers: list[dict], written: list[dict]) -> dict:
    """The manifest's counters, summed over batches (inputs) and shards (survivors)."""
    skipped, redactions, kinds, languages = Counter(), Counter(), Counter(), Counter()
    for marker in markers:
        skipped.update(marker["stats"]["skipped"])
        redactions.update(marker["stats"]["redactions"])
    for shard in written:
        kinds.update(shard["by_kind"])
        languages.update(shard["by_language"])
    return {"skipped": dict(skipped), "by_kind": dict(kinds), "by_language": dict(languages),
            "redactions": dict(redactions), "files_kept": sum(m["stats"]["files_kept"] for m in markers),
            "bytes_read": sum(m["stats"]["bytes_read"] for m in markers)}
