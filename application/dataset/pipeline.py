"""dataset: collections -> leakage-free splits -> tokenized rows -> a Hugging Face DatasetDict.

Steps: read the units of the chosen kinds; drop units containing benchmark problems
(decontamination); group units by repository (>= 3 repositories) or file, join groups that
share a near-duplicate cluster, assign whole groups to train/validation/test; drop
validation/test units that nearly duplicate a training unit; tokenize (a BPE trained on the
train split, or a given tokenizer) and lay rows out for the task; publish the DatasetDict,
`tokenizer/`, and `stats.json` last.

Row schema (what a trainer reads; sequence columns are int64 lists, fixed-length for generation):

- generation, packed (default): `input_ids`, `labels`, `position_ids` (restart at 0 per
  document: pass them with no attention mask and `use_cache=False`), no `attention_mask`.
- generation, `--no-pack`: `input_ids`, `attention_mask`, `labels`.
- generation with `--recency-half-life`: also `weight` (float32, mean 1) to sample rows by.
- classification / security: `input_ids` (varying length, at most seq_len, framed in the model's
  own convention: `[CLS] ... [SEP]` for BERT-likes, `... EOS` for decoders; no padding stored:
  the trainer pads per batch with an attention mask) and `labels` (int64 class id);
  security rows also hold `bandit_test_ids` (list of strings: metadata, not a model input).
  Class names are `stats.json` "label_names" (id order) and "label_map" (name -> id).

In `labels`, -100 marks positions without a target; models shift labels by one internally.
"""
from __future__ import annotations

import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from application.artifacts import fetch_tree, publish_tree, read_json, require_complete, write_json
from domain.layout import MANIFEST, STATS, TOKENIZER
from application.dataset.cache import FORMAT, cache_key, cached_stats
from application.dataset.decontamination import Benchmark, ContainmentIndex, benchmark_from_problems
from application.dataset.rows import build_rows
from application.dataset.request import DatasetRequest
from application.dataset.tasks import FIM_TOKENS, document_text
from application.dataset.splits import SPLITS, missing_labels, split_rows
from domain.errors import DatasetError
from domain.ports import Storage

REQUIRED_COLUMNS = ("id", "repo", "path", "language", "kind", "content")


@dataclass(frozen=True)
class DatasetTools:
    """The adapters `build_dataset` needs; `presentation/container.py` passes the real ones."""

    read_shards: Callable[[list[Path]], list[dict]]
    near_duplicates: Any  # sign(texts), clusters(signatures, threshold), matches(reference, queries, threshold)
    train_tokenizer: Callable  # (texts, vocab_size, extra_special_tokens) -> tokenizer
    load_tokenizer: Callable  # (name_or_path, extra_special_tokens) -> tokenizer
    tokenize: Callable  # (tokenizer, texts, num_proc) -> list of token id lists
    special_frame: Callable  # tokenizer -> (ids before, ids after) one classified text
    tokenizer_fingerprint: Callable[[str], str]
    load_benchmark: Callable[[str], tuple[str, list[dict], str]]  # spec -> (name, problems, fingerprint)
    scan_security: Callable  # (sources, num_proc) -> per source: [(test_id, severity)] or None
    save_dataset_dict: Callable[[dict, Path], dict[str, int]]


@dataclass(frozen=True)
class DatasetResult:
    uri: str
    stats: dict
    cache_hit: bool = False


@dataclass
class Units:
    """The units being turned into a dataset, with what was removed along the way."""

    rows: list[dict]
    signatures: list = field(default_factory=list)
    removed: dict = field(default_factory=dict)


def build_dataset(
    request: DatasetRequest, *, collections: Sequence[Storage], output: Storage, tools: DatasetTools,
    log: Callable[[str], None] = lambda message: None,
) -> DatasetResult:
    """Split without leakage, decontaminate, tokenize, lay out and publish; stats.json last."""
    started = time.time()
    manifests = [_manifest(c) for c in collections]
    benchmarks = [benchmark_from_problems(*tools.load_benchmark(spec)) for spec in request.decontaminate]
    fingerprints = {"benchmarks": {b.name: b.fingerprint for b in benchmarks}}
    if request.tokenizer != "train":
        fingerprints["tokenizer"] = tools.tokenizer_fingerprint(request.tokenizer)
    key = cache_key(manifests, request.cache_options(), fingerprints)
    if request.use_cache and (stats := cached_stats(output, key, STATS)) is not None:
        return DatasetResult(uri=output.uri, stats=stats, cache_hit=True)

    extra_tokens = FIM_TOKENS if request.task == "generation" and request.fim_rate > 0 else ()
    # A given tokenizer is loaded first: a wrong path fails before any work is done.
    given = None if request.tokenizer == "train" else tools.load_tokenizer(
        request.tokenizer, extra_tokens, needs_eos=request.task == "generation")
    with tempfile.TemporaryDirectory(prefix="codetrain-dataset-") as tmp:
        units = _read_units(collections, manifests, request, tools, Path(tmp))
        log(f"units: {len(units.rows)} of kinds {', '.join(request.unit_kinds)}")
        if request.near_dup_threshold > 0 or request.decontaminate_near:
            units.signatures = tools.near_duplicates.sign([r["content"] for r in units.rows])
        _decontaminate(units, benchmarks, request, tools)
        clusters, cluster_source = _clusters(units, request, tools)
        indices, grouping = split_rows(units.rows, clusters, request.ratios, request.seed, request.pins,
                                       request.stratify_by)
        _drop_near_duplicates_of_train(units, indices, request, tools)
        splits = {name: [units.rows[i] for i in indices[name]] for name in SPLITS}
        if not splits["train"] and request.ratios[0] > 0:
            raise DatasetError("no units left for the training split")
        missing = _warn_missing_labels(units.rows, indices, request, log)

        tokenizer = given or _train_tokenizer(splits["train"], request, tools, extra_tokens)
        log(f"tokenizer: {len(tokenizer)} tokens; laying out {request.task} rows")
        tables, task_stats = build_rows(splits, request, tokenizer, tools)
        staging = Path(tmp) / "out"
        counts = tools.save_dataset_dict(tables, staging)
        if not counts["train"] and request.ratios[0] > 0:
            raise DatasetError("the training split produced no rows")
        tokenizer.save_pretrained(str(staging / TOKENIZER))
        stats = {
            "format": FORMAT,
            "cache_key": key,
            "task": request.task,
            "collection": {
                "uri": collections[0].uri,
                "uris": [c.uri for c in collections],
                "sources": [s for m in manifests for s in m.get("sources", [])],
            },
            "grouping": grouping,
            "pinned_repos": {name: list(p) for name, p in request.pins.items() if p},
            "missing_labels": missing,
            "clusters": {"source": cluster_source, "multi_unit": _multi_unit_clusters(clusters)},
            "units": {n: len(splits[n]) for n in SPLITS},
            "units_by_language": {n: dict(Counter(r["language"] for r in splits[n])) for n in SPLITS},
            "removed": units.removed,
            "rows": counts,
            "seq_len": request.seq_len,
            "packed": request.pack and request.task == "generation",
            "vocab_size": len(tokenizer),
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
            "tokenizer": request.tokenizer,
            **task_stats,
            "options": request.cache_options(),
            "seconds": round(time.time() - started, 2),
        }
        _clear_previous_dataset(output)
        publish_tree(staging, output)
        write_json(output, STATS, stats)
    return DatasetResult(uri=output.uri, stats=stats)


def _clear_previous_dataset(output: Storage) -> None:
    """Remove an earlier dataset's files (stats.json first: it stops being complete at once),
    so no stale shard or tokenizer file survives next to the new ones. Other keys are kept."""
    if output.exists(STATS):
        output.delete(STATS)
    for prefix in (*[f"{name}/" for name in SPLITS], "tokenizer/", "dataset_dict.json"):
        for key in output.list(prefix):
            output.delete(key)


def _manifest(collection: Storage) -> dict:
    require_complete(collection, MANIFEST, "collection")
    return read_json(collection, MANIFEST)


def _read_units(collections, manifests, request: DatasetRequest, tools: DatasetTools, tmp: Path) -> Units:
    rows: list[dict] = []
    for number, (collection, manifest) in enumerate(zip(collections, manifests)):
        root = fetch_tree(collection, tmp / f"collection-{number}", MANIFEST, "collection")
        for row in tools.read_shards([root / s["path"] for s in manifest["shards"]]):
            if row.get("kind") not in request.unit_kinds:
                continue
            if request.task == "security" and row.get("language") != "python":
                continue
            if row.get("cluster_id") is not None:
                row["cluster_id"] = f"{number}:{row['cluster_id']}"  # ids are per collection
            rows.append(row)
    if not rows:
        what = "Python units" if request.task == "security" else "units"
        raise DatasetError(f"{collections[0].uri}: no {what} of kind {', '.join(request.unit_kinds)} (see --kinds)")
    missing = [c for c in REQUIRED_COLUMNS if c not in rows[0]]
    if missing:
        raise DatasetError(f"{collections[0].uri}: not a codetrain collection (missing columns {', '.join(missing)})")
    if request.task == "classification" and request.label_field not in rows[0]:
        raise DatasetError(f"--label-field {request.label_field}: no such column (have {', '.join(sorted(rows[0]))})")
    return Units(rows)


def _keep(units: Units, keep: Sequence[bool]) -> None:
    units.rows = [r for r, k in zip(units.rows, keep) if k]
    if units.signatures:
        units.signatures = [s for s, k in zip(units.signatures, keep) if k]


def _decontaminate(units: Units, benchmarks: list[Benchmark], request: DatasetRequest, tools: DatasetTools) -> None:
    """Drop units holding a benchmark prompt or solution; count them per benchmark."""
    if not benchmarks:
        return
    index = ContainmentIndex(benchmarks)
    found: list[str | None] = [index.find(r["content"]) for r in units.rows]
    if request.decontaminate_near:
        for benchmark in benchmarks:
            near = tools.near_duplicates.matches(
                tools.near_duplicates.sign(benchmark.documents), units.signatures, request.decontaminate_near
            )
            found = [f or (benchmark.name if hit else None) for f, hit in zip(found, near)]
    counts = Counter(f for f in found if f)
    units.removed["contamination"] = {b.name: counts.get(b.name, 0) for b in benchmarks}
    _keep(units, [f is None for f in found])


def _clusters(units: Units, request: DatasetRequest, tools: DatasetTools) -> tuple[list[str], str]:
    """Near-duplicate cluster per unit: collect's `cluster_id`, else recomputed with MinHash."""
    if all(r.get("cluster_id") is not None for r in units.rows):
        return [r["cluster_id"] for r in units.rows], "collection"
    if request.near_dup_threshold <= 0:
        return [f"unit:{i}" for i in range(len(units.rows))], "none"
    return tools.near_duplicates.clusters(units.signatures, request.near_dup_threshold), "minhash"


def _drop_near_duplicates_of_train(units: Units, indices: dict, request: DatasetRequest, tools: DatasetTools) -> None:
    """Remove validation/test units that nearly duplicate a training unit (count per split)."""
    removed = {"validation": 0, "test": 0}
    if request.near_dup_threshold > 0:
        train = [units.signatures[i] for i in indices["train"]]
        for name in removed:
            hits = tools.near_duplicates.matches(train, [units.signatures[i] for i in indices[name]], request.near_dup_threshold)
            removed[name] = sum(hits)
            indices[name] = [i for i, hit in zip(indices[name], hits) if not hit]
    units.removed["near_duplicates_of_train"] = removed


def _warn_missing_labels(rows, indices: dict, request: DatasetRequest, log) -> dict[str, list[str]]:
    """Log, for each non-empty split, the languages (classes) it lacks; returned for stats.json."""
    field = request.stratify_by
    missing = missing_labels([str(r.get(field)) for r in rows], indices)
    for name, absent in missing.items():
        log(f"warning: the {name} split has no units of {field} {', '.join(absent)} "
            f"(pin repositories with --{name}-repos, or add repositories of those)")
    return missing


def _multi_unit_clusters(clusters: Sequence[str]) -> int:
    return sum(1 for n in Counter(clusters).values() if n > 1)


def _train_tokenizer(train_rows: list[dict], request: DatasetRequest, tools: DatasetTools, extra_tokens):
    header = request.header and request.task == "generation"
    return tools.train_tokenizer((document_text(r, header) for r in train_rows), request.vocab_size, extra_tokens)
