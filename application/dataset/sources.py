"""What `dataset --input` reads, and how several inputs are mixed.

An input is a codetrain collection or any other rows (files, a saved dataset, a hub dataset:
a `RecordSource`, chosen by `infrastructure/data/records.py` from what the path is), with an
optional weight written as a trailing `:NUMBER` (`--input a.jsonl:0.3`). Records become units
like a collection's, each its own group for the splits; weights then resample the training
split so that each input gives that share of its units (validation and test stay as they are).
"""
from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import xxhash

from application.dataset.formats import record_text, to_record, detect_format
from domain.errors import DatasetError
from domain.ports import RecordSource, Storage

# Split names datasets use -> ours. Rows of a dataset that has these splits stay in them.
SPLIT_NAMES = {"train": "train", "validation": "validation", "valid": "validation", "dev": "validation",
               "test": "test"}
_WEIGHT = re.compile(r"^(?P<uri>.+):(?P<weight>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)$")


@dataclass(frozen=True)
class InputSpec:
    """One `--input`: where, and its share of the training split (None: its natural share)."""

    uri: str
    weight: float | None = None


@dataclass(frozen=True)
class DatasetInput:
    """An opened input: exactly one of `collection` and `records` is set."""

    uri: str
    weight: float | None = None
    collection: Storage | None = None
    records: RecordSource | None = None

    @property
    def kind(self) -> str:
        return "collection" if self.collection is not None else self.records.kind


def parse_input(text: str) -> InputSpec:
    """`data/a.jsonl:0.3` -> InputSpec("data/a.jsonl", 0.3); `s3://b/coll` keeps its colon."""
    match = _WEIGHT.match(text)
    if match is None:
        return InputSpec(text)
    weight = float(match["weight"])
    if weight <= 0:
        raise DatasetError(f"--input {text}: a weight must be above 0")
    return InputSpec(match["uri"], weight)


def check_weights(specs: Sequence[InputSpec]) -> None:
    weighted = [s.weight is not None for s in specs]
    if any(weighted) and not all(weighted):
        bare = next(s.uri for s, w in zip(specs, weighted) if not w)
        raise DatasetError(f"--input {bare}: give every --input a weight (e.g. {bare}:0.5) or none")


def record_units(source: RecordSource, number: int, mapping: dict[str, str]) -> list[dict]:
    """Every row of `source` checked (a bad one stops everything, naming its FILE:LINE) as a unit.

    A record is its own group when splitting (`repo` is unique), so rows of one file spread over
    the splits; its other scalar columns are kept (e.g. a label for `--task classification`)."""
    units = []
    for where, row, split in source.records():
        record = to_record(row, detect_format(list(row), mapping, where), mapping, where)
        unit = {"id": xxhash.xxh64_hexdigest(f"{source.uri}\0{where}".encode()), "repo": f"{source.uri}#{len(units)}",
                "path": where, "language": record["format"], "kind": "record", "content": record_text(record),
                "cluster_id": None, "record": record, "source": number, "given_split": SPLIT_NAMES.get(split)}
        units.append({**{k: v for k, v in row.items() if k not in unit and isinstance(v, (str, int, float, bool))},
                      **unit})
    if not units:
        raise DatasetError(f"{source.uri}: no rows")
    return units


def keep_given_splits(rows: Sequence[dict], indices: dict[str, list[int]]) -> int:
    """Move rows whose dataset already split them (`given_split`) back to that split; returns how
    many moved. Near-duplicates of train are still removed from validation and test afterwards.

    A dataset split without a validation split lends it the training rows the splitter chose for
    validation: training must have validation rows that are not training rows."""
    moved = 0
    lend = not any(rows[i].get("given_split") == "validation" for ids in indices.values() for i in ids)
    for name in list(indices):
        stay = []
        for index in indices[name]:
            wanted = rows[index].get("given_split")
            if lend and wanted == "train" and name == "validation":
                stay.append(index)
            elif wanted and wanted != name:
                indices[wanted].append(index)
                moved += 1
            else:
                stay.append(index)
        indices[name] = stay
    for name in indices:
        indices[name].sort()
    return moved


def mix_train(train: list[dict], inputs: Sequence[DatasetInput], seed: int) -> list[dict]:
    """The training units resampled so that input i gives weight_i / sum(weights) of them.

    The total stays the same; an input above its natural share is repeated (whole copies, then
    a seeded sample), one below it is subsampled. No weights: `train` unchanged."""
    if inputs[0].weight is None:
        return train
    by_source: dict[int, list[dict]] = {i: [] for i in range(len(inputs))}
    for unit in train:
        by_source[unit["source"]].append(unit)
    total, weights = len(train), sum(i.weight for i in inputs)
    rng = random.Random(seed)
    mixed = []
    for number, spec in enumerate(inputs):
        units = by_source[number]
        if not units:
            raise DatasetError(f"--input {spec.uri}:{spec.weight:g}: no units left in the training split to weigh")
        want = round(total * spec.weight / weights)
        copies, rest = divmod(want, len(units))
        mixed += units * copies + rng.sample(units, rest)
    return mixed


def input_stats(inputs: Sequence[DatasetInput], splits: dict[str, list[dict]], mixed: list[dict]) -> list[dict]:
    """Per input: kind, weight, units per split before mixing, and its training units after."""
    per_split = {name: Counter(u["source"] for u in rows) for name, rows in splits.items()}
    after = Counter(u["source"] for u in mixed)
    return [{"uri": spec.uri, "kind": spec.kind, "weight": spec.weight,
             "units": {name: per_split[name][number] for name in splits},
             "train_units_mixed": after[number],
             "train_share": round(after[number] / max(len(mixed), 1), 4)}
            for number, spec in enumerate(inputs)]
