"""dataset: collections and other rows -> leakage-free splits -> tokenized rows -> a DatasetDict.

Steps: read the units of the chosen kinds (and the rows of other inputs: files, saved or hub
datasets, each row a unit of its own; `application/dataset/sources.py`); drop units containing benchmark problems
(decontamination); group units by repository (>= 3 repositories) or file, join groups that
share a near-duplicate cluster, assign whole groups to train/validation/test; drop
validation/test units that nearly duplicate a training unit; tokenize (a BPE trained on the
train split, or a given tokenizer) and lay rows out for the task; publish the DatasetDict,
`tokenizer/`, and `stats.json` last.

Row schema (what a trainer reads; sequence columns are int64 lists, fixed-length for generation):

- generation, packed (default): `input_ids`, `labels`, `position_ids` (restart at 0 per
  document: pass them with no attention mask and `use_cache=False`), no `attention_mask`;
  `seq_lengths` (int32 list: each row's segment lengths, for TRL's padding-free collator).
- instruct: as generation (packed or `--no-pack`), but `labels` are -100 except on completion
  and assistant tokens and the token ending each; documents are never split across rows.
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

import hashlib
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from application.artifacts import claim_output, fetch_tree, publish_tree, read_json, require_complete, write_json
from domain.layout import DATASET_OWNER, MANIFEST, STATS, TOKENIZER
from application.dataset.cache import FORMAT, cache_key, cached_stats
from application.dataset.decontamination import Benchmark, ContainmentIndex, benchmark_from_problems, post_image
from application.dataset.formats import column_map
from application.dataset.instruct import ChatFormat, instruct_rows, training_text
from application.dataset.pairs import code_pair
from application.dataset.packing import Layout, pack_documents
from application.dataset.rows import build_rows, check_tokenizer_limit
from application.dataset.request import DatasetRequest
from application.dataset.sources import DatasetInput, input_stats, keep_given_splits, mix_train, record_units
from application.dataset.tasks import FIM_TOKENS, document_text
from application.dataset.splits import SPLITS, evaluation_order, missing_labels, split_rows
from domain.errors import DatasetError
from domain.ports import NearDuplicateFinder, Storage, Tokenizer

REQUIRED_COLUMNS = ("id", "repo", "path", "language", "kind", "content")
Progress = Callable[..., None]  # (stage, done=0, total=0, unit="")


@dataclass(frozen=True)
class DatasetTools:
    """The adapters `build_dataset` needs; `presentation/container.py` passes the real ones."""

    read_shards: Callable[[list[Path]], list[dict]]
    near_duplicates: NearDuplicateFinder
    train_tokenizer: Callable[[Iterable[str], int, Sequence[str]], Tokenizer]  # (texts, vocab_size, extra tokens)
    load_tokenizer: Callable[[str, Sequence[str]], Tokenizer]  # (name_or_path, extra special tokens)
    tokenize: Callable[[Tokenizer, Sequence[str], int], list[list[int]]]  # (tokenizer, texts, num_proc)
    special_frame: Callable[[Tokenizer], tuple[list[int], list[int]]]  # tokenizer -> (ids before, ids after) a classified text
    tokenizer_fingerprint: Callable[[str], str]
    load_benchmark: Callable[[str], tuple[str, list[dict], str]]  # spec -> (name, problems, fingerprint)
    # (sources, num_proc) -> per source: [(test_id, severity)], or None when it does not parse
    scan_security: Callable[[Sequence[str], int], list[list[tuple[str, str]] | None]]
    save_dataset_dict: Callable[[dict[str, dict], Path], dict[str, int]]  # (split -> table, folder) -> rows
    load_chat_template: Callable[[str], tuple[str, tuple[str, ...]]] | None = None  # spec -> (template, its special tokens)
    chat_format: Callable[[Tokenizer, str | None], ChatFormat | None] | None = None  # (tokenizer, template) -> format
    end_of_turn: Callable[[ChatFormat], str | None] | None = None  # the special token closing an assistant turn
    save_tokenizer: Callable[[Tokenizer, Path], None] = lambda tokenizer, folder: tokenizer.save_pretrained(str(folder))
    """(tokenizer, folder): the container passes one whose files transformers 4.x loads too."""
    assign_splits: Callable[[list[dict], list[str], tuple[float, float, float], int, Mapping[str, Sequence[str]] | None,
                             str | None], tuple[dict[str, list[int]], str]] = \
        split_rows  # (rows' repo, path and label, clusters, ratios, seed, pins, stratify by) -> (indices, grouping)
    pack: Callable[[Sequence[Sequence[int]], int, int, int, Sequence[float] | None], Layout] = \
        pack_documents  # (docs, seq_len, eos_id, pad_id, weights) -> Layout


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
    request: DatasetRequest, *, inputs: Sequence[DatasetInput], output: Storage, tools: DatasetTools,
    log: Callable[[str], None] = lambda message: None, overwrite: bool = False,
    progress: Progress = lambda stage, done=0, total=0, unit="": None,
) -> DatasetResult:
    """Split without leakage, decontaminate, tokenize, lay out and publish; stats.json last.

    The output must be empty or hold a codetrain dataset; one built from the same inputs and
    options is reused as is, another is replaced only with `overwrite`.

    Args:
        progress: (stage, done, total, unit) as the work goes (total 0: no count), for the
            periodic progress lines of a run whose stderr is not a terminal.
    """
    started = time.time()
    manifests = [_manifest(i.collection) if i.collection is not None else None for i in inputs]
    lineage = [{"weight": i.weight, "manifest": m} if m is not None else
               {"weight": i.weight, "records": i.kind, "fingerprint": i.records.fingerprint()}
               for i, m in zip(inputs, manifests)]
    benchmarks = [benchmark_from_problems(*tools.load_benchmark(spec)) for spec in request.decontaminate]
    fingerprints = {"benchmarks": {b.name: b.fingerprint for b in benchmarks}}
    if request.tokenizer != "train":
        fingerprints["tokenizer"] = tools.tokenizer_fingerprint(request.tokenizer)
    template, template_tokens = tools.load_chat_template(request.chat_template) if request.chat_template else (None, ())
    if template:
        fingerprints["chat_template"] = hashlib.sha256(template.encode()).hexdigest()
    key = cache_key(lineage, request.cache_options(), fingerprints)
    cached = cached_stats(output, key, STATS)
    if request.use_cache and cached is not None:
        return DatasetResult(uri=output.uri, stats=cached, cache_hit=True)
    if cached is None:  # rebuilding this very dataset (--no-cache) replaces nothing else
        claim_output(output, "dataset", OWN_KEYS, overwrite, precious=(STATS,))

    extra_tokens = FIM_TOKENS if request.task == "generation" and request.fim_rate > 0 else ()
    extra_tokens += template_tokens
    # A given tokenizer is loaded first: a wrong path fails before any work is done.
    given = None if request.tokenizer == "train" else tools.load_tokenizer(
        request.tokenizer, extra_tokens, needs_eos=request.task in ("generation", "instruct"))
    if given is not None:
        check_tokenizer_limit(given, request)
    with tempfile.TemporaryDirectory(prefix="codetrain-dataset-") as tmp:
        units = _read_units(inputs, manifests, request, tools, Path(tmp), progress)
        log(f"units: {len(units.rows)} {dict(Counter(r['kind'] for r in units.rows))}")
        if request.near_dup_threshold > 0 or request.decontaminate_near:
            units.signatures = _sign(tools.near_duplicates, [r["content"] for r in units.rows], progress)
        progress(f"decontaminating and splitting {len(units.rows):,} units")
        _decontaminate(units, benchmarks, request, tools)
        clusters, cluster_source = _clusters(units, request, tools)
        keys = [{"repo": r["repo"], "path": r["path"], "language": r.get("language"),
                 request.label_field: r.get(request.label_field)} for r in units.rows]  # all a split is chosen by
        indices, grouping = tools.assign_splits(keys, clusters, request.ratios, request.seed, request.pins,
                                                request.stratify_by)
        if keep_given_splits(units.rows, indices):
            grouping += " (rows of split datasets kept in their splits)"
        _drop_near_duplicates_of_train(units, indices, request, tools)
        for name in ("validation", "test"):
            indices[name] = evaluation_order(indices[name], request.seed)
        splits = {name: [units.rows[i] for i in indices[name]] for name in SPLITS}
        if not splits["train"] and request.ratios[0] > 0:
            raise DatasetError("no units left for the training split")
        mixed = mix_train(splits["train"], inputs, request.seed)
        sources_stats, splits["train"] = input_stats(inputs, splits, mixed), mixed
        missing = _warn_missing_labels(units.rows, indices, request, log)

        if given is None:
            progress(f"training the tokenizer on {len(splits['train']):,} units")
        tokenizer = given or _train_tokenizer(splits["train"], request, tools, extra_tokens)
        log(f"tokenizer: {len(tokenizer)} tokens; laying out {request.task} rows")
        progress(f"tokenizing {sum(len(rows) for rows in splits.values()):,} units into {request.task} rows")
        if request.task == "instruct":
            chat, chat_stats = _chat(tokenizer, template, given is None, request, tools)
            tables, task_stats = instruct_rows(splits, request, tokenizer, tools, chat)
            task_stats.update(chat_stats)
        else:
            tables, task_stats = build_rows(splits, request, tokenizer, tools)
        staging = Path(tmp) / "out"
        progress("writing the dataset")
        counts = tools.save_dataset_dict(tables, staging)
        if not counts["train"] and request.ratios[0] > 0:
            raise DatasetError("the training split produced no rows")
        tools.save_tokenizer(tokenizer, staging / TOKENIZER)
        stats = {
            "format": FORMAT,
            "cache_key": key,
            "task": request.task,
            "collection": {
                "uri": inputs[0].uri,
                "uris": [i.uri for i in inputs],
                "sources": [s for i, m, seen in zip(inputs, manifests, lineage)
                            for s in (m.get("sources", []) if m is not None else
                                      [{"origin": i.uri, "repo": i.uri, "commit": None, "kind": i.kind,
                                        "fingerprint": seen["fingerprint"]}])],
            },
            "inputs": sources_stats,
            "grouping": grouping,
            "pinned_repos": {name: list(p) for name, p in request.pins.items() if p},
            "missing_labels": missing,
            "clusters": {"source": cluster_source, "multi_unit": _multi_unit_clusters(clusters)},
            "units": {n: len(splits[n]) for n in SPLITS},
            "units_by_language": {n: dict(Counter(r["language"] for r in splits[n])) for n in SPLITS},
            "removed": units.removed,
            "rows": counts,
            "seq_len": request.seq_len,
            "packed": request.pack and request.task in ("generation", "instruct"),
            "vocab_size": len(tokenizer),
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
            "tokenizer": request.tokenizer,
            **task_stats,
            "options": request.cache_options(),
            "seconds": round(time.time() - started, 2),
        }
        write_json(output, DATASET_OWNER, {"format": FORMAT})
        _clear_previous_dataset(output)
        publish_tree(staging, output)
        write_json(output, STATS, stats)
    return DatasetResult(uri=output.uri, stats=stats)


# Files that tell our dataset from anybody's folder: stats.json (a complete one, which only
# --overwrite replaces) or our owner mark (one whose publish was cut: replaced freely).
OWN_KEYS = (STATS, DATASET_OWNER)


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


def _of_languages(rows: list[dict], languages: Sequence[str]) -> list[dict]:
    """The rows of these languages (all when none are named); a named language without units is refused."""
    if not languages:
        return rows
    seen = {str(row.get("language")) for row in rows}
    absent = [name for name in languages if name not in seen]
    if absent:
        raise DatasetError(f"--languages {','.join(absent)}: no such units in the inputs "
                           f"(they have {', '.join(sorted(seen))})")
    return [row for row in rows if row.get("language") in languages]


def _read_units(inputs: Sequence[DatasetInput], manifests, request: DatasetRequest, tools: DatasetTools,
                tmp: Path, progress: Progress) -> Units:
    rows: list[dict] = []
    not_pairs: Counter = Counter()
    mapping = column_map(request.columns)
    for number, (source, manifest) in enumerate(zip(inputs, manifests)):
        progress("reading inputs", number, len(inputs), "inputs")
        if source.records is not None:
            rows += record_units(source.records, number, mapping)
            continue
        root = fetch_tree(source.collection, tmp / f"collection-{number}", MANIFEST, "collection")
        for row in tools.read_shards([root / s["path"] for s in manifest["shards"]]):
            if row.get("kind") not in request.unit_kinds:
                continue
            if request.task == "security" and row.get("language") != "python":
                continue
            if request.task == "instruct":
                row["record"], why = code_pair(row)
                if row["record"] is None:
                    not_pairs[why] += 1
                    continue
            if row.get("cluster_id") is not None:
                row["cluster_id"] = f"{number}:{row['cluster_id']}"  # ids are per collection
            row["source"] = number
            rows.append(row)
    rows = _of_languages(rows, request.languages)
    if not rows:
        what = {"security": "Python units", "instruct": "instruction pairs from units"}.get(request.task, "units")
        why = f"; left out: {dict(not_pairs)}" if not_pairs else ""
        among = f" in {', '.join(request.languages)}" if request.languages else ""
        raise DatasetError(f"{inputs[0].uri}: no {what} of kind {', '.join(request.unit_kinds)}{among} "
                           f"(see --kinds, --languages){why}")
    missing = [c for c in REQUIRED_COLUMNS if c not in rows[0]]
    if missing:
        raise DatasetError(f"{inputs[0].uri}: not a codetrain collection (missing columns {', '.join(missing)})")
    if request.task == "classification" and request.label_field not in rows[0]:
        raise DatasetError(f"--label-field {request.label_field}: no such column (have {', '.join(sorted(rows[0]))})")
    return Units(rows, removed={"not_instruction_pairs": dict(not_pairs)} if not_pairs else {})


def _chat(tokenizer, template: str | None, trained: bool, request: DatasetRequest, tools: DatasetTools):
    """The chat format instruct rows render conversations with, and its part of stats.json.

    A tokenizer trained here takes the template's end-of-turn token as its EOS (as Qwen's chat
    models do), so completions end, and generation stops, with the same token."""
    chat = tools.chat_format(tokenizer, template)
    if chat is None:
        return None, {"chat_template": None}
    end = tools.end_of_turn(chat)
    if trained and end:
        tokenizer.eos_token = end
    return chat, {"chat_template": {"source": request.chat_template or "tokenizer", "end_of_turn": end}}


SIGN_CHUNK = 2000  # units signed between two progress reports (about a second of MinHash)


def _sign(finder: NearDuplicateFinder, texts: list[str], progress: Progress) -> list:
    """MinHash signatures of `texts`, chunk by chunk, reporting how many are done."""
    signatures: list = []
    for start in range(0, len(texts), SIGN_CHUNK):
        progress("near-duplicate signatures", start, len(texts), "units")
        signatures += finder.sign(texts[start:start + SIGN_CHUNK])
    return signatures


def _keep(units: Units, keep: Sequence[bool]) -> None:
    units.rows = [r for r, k in zip(units.rows, keep) if k]
    if units.signatures:
        units.signatures = [s for s, k in zip(units.signatures, keep) if k]


def _decontaminate(units: Units, benchmarks: list[Benchmark], request: DatasetRequest, tools: DatasetTools) -> None:
    """Drop units holding a benchmark prompt or solution; count them per benchmark."""
    if not benchmarks:
        return
    index = ContainmentIndex(benchmarks)
    found: list[str | None] = [index.find(post_image(r["content"]) if r.get("kind") == "commit" else r["content"])
                               for r in units.rows]
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
    """For each non-empty split, the languages (classes) it lacks, for stats.json; logged as a
    warning where they are labels a model learns (classification, security)."""
    field = request.stratify_by
    missing = missing_labels([str(r.get(field)) for r in rows], indices)
    for name, absent in missing.items() if request.task in ("classification", "security") else ():
        log(f"warning: the {name} split has no units of {field} {', '.join(absent)} "
            f"(pin repositories with --{name}-repos, or add repositories of those)")
    return missing


def _multi_unit_clusters(clusters: Sequence[str]) -> int:
    return sum(1 for n in Counter(clusters).values() if n > 1)


def _train_tokenizer(train_rows: list[dict], request: DatasetRequest, tools: DatasetTools, extra_tokens):
    header = request.header and request.task == "generation"
    texts = (training_text(r["record"]) if request.task == "instruct" else document_text(r, header) for r in train_rows)
    return tools.train_tokenizer(texts, request.vocab_size, extra_tokens)
