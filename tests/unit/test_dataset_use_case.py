"""build_dataset driven through the fakes alone: a collection in a FakeStorage, a byte tokenizer,
exact-Jaccard near-duplicates and JSON tables in place of MinHash, BPE and Arrow."""
from __future__ import annotations

import json

import pytest

from application.dataset.pipeline import DatasetTools, build_dataset
from application.dataset.request import DatasetRequest
from application.dataset.sources import DatasetInput
from domain.errors import DatasetError, StorageError
from domain.layout import MANIFEST, STATS
from tests.unit.fakes import (
    ByteTokenizer, FakeStorage, ShingleNearDuplicates, load_byte_tokenizer, read_json_shards,
    save_json_dataset, tokenize, train_byte_tokenizer,
)

REPOS = ("red", "green", "blue", "amber", "violet", "cyan")


def tools() -> DatasetTools:
    return DatasetTools(
        read_shards=read_json_shards, near_duplicates=ShingleNearDuplicates(),
        train_tokenizer=train_byte_tokenizer, load_tokenizer=load_byte_tokenizer, tokenize=tokenize,
        tokenizer_fingerprint=lambda name: f"bytes:{name}",
        load_benchmark=lambda spec: (spec, [], "no-problems"),
        scan_security=lambda sources, num_proc: [[] for _ in sources],
        save_dataset_dict=save_json_dataset,
        special_frame=lambda tokenizer: ([], [tokenizer.eos_token_id]),  # a decoder's convention: text + EOS
    )


UNIQUE = "def {repo}_marker_{k}(x):\n    return x * {k} + {n}  # from repo_{repo}\n"
TWINS = "def marker_{k}(x):\n    return x * {k} + 1  # from repo_{repo}\n"  # alike but for the repo


def collection(repos=REPOS, files: int = 4, template: str = UNIQUE, clustered: bool = False,
               language=lambda repo: "toy") -> FakeStorage:
    """A complete collection: every unit names its repository, so a decoded row tells where it came from.

    `clustered`: rows carry collect's `cluster_id` (each its own cluster, as with --no-near-dedup);
    `language(repo)` names the language of that repository's units.
    """
    rows = [{"id": f"{repo}-{k}", "repo": f"fake/{repo}", "path": f"m{k}.toy", "language": language(repo),
             "kind": "file",
             "content": template.format(repo=repo, k=k, n=len(repo))}
            for repo in repos for k in range(files)]
    for row in rows if clustered else ():
        row["cluster_id"] = row["id"]
    storage = FakeStorage("fake://collection")
    storage.write_bytes("data/part-00000.jsonl", "".join(json.dumps(r) + "\n" for r in rows).encode())
    storage.write_bytes(MANIFEST, json.dumps({"shards": [{"path": "data/part-00000.jsonl", "rows": len(rows)}],
                                              "sources": [{"repo": f"fake/{r}"} for r in repos]}).encode())
    return storage


def build(source: FakeStorage, output: FakeStorage, overwrite: bool = False, **options):
    request = DatasetRequest(**{"seq_len": 64, "ratios": (0.5, 0.25, 0.25), **options})
    return build_dataset(request, inputs=[DatasetInput(source.uri, collection=source)], output=output, tools=tools(),
                         overwrite=overwrite)


def repos_in_split(output: FakeStorage, split: str) -> set[str]:
    text = "".join(ByteTokenizer().decode(row["input_ids"]) for row in output.read_json(f"{split}/rows.json"))
    return {repo for repo in REPOS if f"repo_{repo}" in text}


def test_dataset_splits_by_repository_and_publishes_stats_last():
    output = FakeStorage("fake://dataset")
    result = build(collection(), output)
    assert result.stats["grouping"] == "repo"
    found = {split: repos_in_split(output, split) for split in ("train", "validation", "test")}
    assert all(found.values())
    assert found["train"] | found["validation"] | found["test"] == set(REPOS)
    assert not (found["train"] & found["validation"] or found["train"] & found["test"]
                or found["validation"] & found["test"])  # no repository spans two splits
    assert output.written[-1] == STATS
    assert output.read_json(STATS) == result.stats
    assert result.stats["rows"] == {s: len(output.read_json(f"{s}/rows.json")) for s in found}
    assert output.exists("tokenizer/tokenizer.json")
    assert (result.stats["eos_token_id"], result.stats["pad_token_id"]) == (256, 257)


def test_a_second_identical_run_is_a_cache_hit_that_writes_nothing():
    source, output = collection(), FakeStorage("fake://dataset")
    first = build(source, output)
    written = list(output.written)
    again = build(source, output)
    assert again.cache_hit and not first.cache_hit
    assert again.stats == first.stats
    assert output.written == written


def test_a_changed_option_rebuilds_and_leaves_no_stale_files():
    source, output = collection(), FakeStorage("fake://dataset")
    build(source, output)
    output.write_bytes("train/stale.json", b"{}")
    with pytest.raises(StorageError, match="--overwrite"):  # another dataset is ours, but not silently replaced
        build(source, output, seq_len=32)
    rebuilt = build(source, output, overwrite=True, seq_len=32)
    assert not rebuilt.cache_hit and rebuilt.stats["seq_len"] == 32
    assert not output.exists("train/stale.json")


def test_validation_and_test_units_nearly_duplicating_train_are_dropped():
    # Every repository holds near-copies of the same functions (Jaccard 0.8) in clusters of their
    # own, so each validation/test unit has a twin in train and is removed, and counted.
    output = FakeStorage("fake://dataset")
    result = build(collection(template=TWINS, clustered=True), output, near_dup_threshold=0.7)
    removed = result.stats["removed"]["near_duplicates_of_train"]
    assert removed["validation"] > 0 and removed["test"] > 0
    assert result.stats["units"]["validation"] == result.stats["units"]["test"] == 0
    assert result.stats["clusters"]["source"] == "collection"
    assert repos_in_split(output, "validation") == repos_in_split(output, "test") == set()


def test_languages_keeps_only_the_named_languages_and_refuses_one_without_units():
    source = collection(language=lambda repo: "warm" if repo in ("red", "amber") else "cool")
    output = FakeStorage("fake://dataset")
    result = build(source, output, languages=("warm",), ratios=(0.5, 0.5, 0.0))
    found = repos_in_split(output, "train") | repos_in_split(output, "validation")
    assert found == {"red", "amber"}
    assert sum(result.stats["units"].values()) == 8  # 2 repositories x 4 files
    with pytest.raises(DatasetError) as error:
        build(source, FakeStorage("fake://other"), languages=("warm", "wram"))
    message = str(error.value)
    assert "\n" not in message and "--languages wram" in message and "cool, warm" in message


def test_a_collection_without_its_manifest_is_refused_in_one_line():
    source = collection()
    source.delete(MANIFEST)
    with pytest.raises(StorageError) as error:
        build(source, FakeStorage("fake://dataset"))
    message = str(error.value)
    assert "\n" not in message and "fake://collection" in message and MANIFEST in message
