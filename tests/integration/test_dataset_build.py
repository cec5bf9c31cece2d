"""The dataset verb on real Parquet collections, real tokenizers and real `datasets` files:
splits without leakage, decontamination, packing that decodes back, FIM, recency, cache."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from application.dataset.request import DatasetRequest
from application.dataset.tasks import FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX
from presentation.container import Container
from tests.dataset_fixtures import humaneval_problems, near_copy, random_module, unit, write_collection

REPOS = [f"repo{r}" for r in range(5)]


def build(collection: Path, out: Path, overwrite: bool = False, **options):
    request = DatasetRequest(**{"seq_len": 64, "vocab_size": 600, **options})
    return Container().build_dataset(request, [str(collection)], str(out), overwrite=overwrite)


def load(out: Path):
    from datasets import load_from_disk
    from transformers import AutoTokenizer

    return load_from_disk(str(out)), AutoTokenizer.from_pretrained(str(out / "tokenizer"))


def documents(out: Path, split: str) -> list[str]:
    """Decode a split's packed stream back into documents, cutting at EOS."""
    data, tokenizer = load(out)
    stream = [t for row in data[split]["input_ids"] for t in row]
    while stream and stream[-1] == tokenizer.pad_token_id:
        stream.pop()  # the last row's padding
    docs, current = [], []
    for token in stream:
        if token == tokenizer.eos_token_id:
            docs.append(tokenizer.backend_tokenizer.decode(current, skip_special_tokens=False))
            current = []
        else:
            current.append(token)
    assert not current, "the stream must end with EOS"
    return docs


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """Five repositories of distinct modules, plus: a HumanEval problem pasted into one file, and
    a module vendored with a small edit into two repositories (a near-duplicate cluster)."""
    rng = random.Random(0)
    rows = []
    for repo in REPOS:
        marker = marker_of(repo)
        rows += [unit(repo, f"pkg/m{k}.py", random_module(rng, marker=marker)) for k in range(10)]
    problem = humaneval_problems()[0]
    rows.append(unit("repo1", "pkg/close.py", "import math\n\n" + problem["prompt"] + problem["canonical_solution"]))
    vendored = random_module(rng, functions=6)
    rows.append(unit("repo0", "vendor/lib.py", vendored))
    rows.append(unit("repo3", "third_party/lib.py", near_copy(vendored)))
    root = tmp_path_factory.mktemp("planted")
    collection = write_collection(root / "collection", rows)
    out = root / "dataset"
    result = build(collection, out, decontaminate=("humaneval",))
    return {"rows": rows, "collection": collection, "out": out, "result": result, "problem": problem}


def marker_of(repo: str) -> str:
    """A word only this repository uses (40 times); letters only, so BPE can merge it whole."""
    return "only" + "abcde"[REPOS.index(repo)] * 3 + "word"


def repo_of(planted, text: str) -> str:
    matches = [r["repo"] for r in planted["rows"] if r["content"] == text]
    assert len(matches) == 1, "every decoded document is exactly one unit of the collection"
    return matches[0]


def test_packed_splits_decode_to_whole_units_and_no_repository_is_in_two_splits(planted):
    where: dict[str, set] = {}
    decoded = {}
    for split in ("train", "validation", "test"):
        decoded[split] = documents(planted["out"], split)
        assert decoded[split], f"{split} is empty"
        for text in decoded[split]:
            where.setdefault(repo_of(planted, text), set()).add(split)
    assert planted["result"].stats["grouping"] == "repo"
    assert all(len(splits) == 1 for splits in where.values()), where
    kept = sum(len(d) for d in decoded.values())
    removed = planted["result"].stats["removed"]
    assert kept == len(planted["rows"]) - 1 - sum(removed["near_duplicates_of_train"].values())


def test_the_near_duplicate_cluster_lies_in_one_split(planted):
    stats = planted["result"].stats
    assert stats["clusters"]["source"] == "minhash" and stats["clusters"]["multi_unit"] >= 1
    homes = {split for split in ("train", "validation", "test")
             for text in documents(planted["out"], split) if "vendor" in repo_path(planted, text)}
    assert len(homes) == 1
    # the cluster joined repo0 and repo3: they share a split
    sides = {split for split in ("train", "validation", "test") for text in documents(planted["out"], split)
             if repo_of(planted, text) in ("repo0", "repo3")}
    assert len(sides) == 1


def repo_path(planted, text: str) -> str:
    return next(r["path"] for r in planted["rows"] if r["content"] == text)


def test_the_planted_humaneval_problem_is_removed_and_counted(planted):
    stats = planted["result"].stats
    assert stats["removed"]["contamination"] == {"humaneval": 1}
    solution = planted["problem"]["canonical_solution"]
    assert not any(solution in text for split in ("train", "validation", "test")
                   for text in documents(planted["out"], split))


def test_positions_restart_and_labels_stop_at_every_document_boundary(planted):
    data, tokenizer = load(planted["out"])
    eos = tokenizer.eos_token_id
    for row in data["train"]:
        ids, positions, labels = row["input_ids"], row["position_ids"], row["labels"]
        assert positions[0] == 0 and labels[0] == -100
        for t in range(1, len(ids)):
            if ids[t - 1] == eos:  # a new document starts at t
                assert positions[t] == 0 and labels[t] == -100
            else:
                assert positions[t] == positions[t - 1] + 1
                assert labels[t] in (ids[t], -100)


def test_stats_record_lineage_counts_tokens_and_efficiency(planted):
    stats = json.loads((planted["out"] / "stats.json").read_text())
    assert {"task", "eos_token_id", "pad_token_id", "vocab_size", "seq_len", "packed", "collection"} <= set(stats)
    assert {s["commit"] for s in stats["collection"]["sources"]} == {r["commit"] for r in planted["rows"]}
    assert stats["packed"] is True and stats["seq_len"] == 64
    for split in ("train", "validation", "test"):
        assert sum(stats["tokens_by_language"][split].values()) == stats["tokens"][split]
        assert stats["packing_efficiency"][split] > 0.9
    assert stats["units"]["train"] > stats["units"]["validation"]


def test_the_trained_tokenizer_saw_the_training_split_only(planted):
    _, tokenizer = load(planted["out"])
    homes = {}
    for split in ("train", "validation", "test"):
        for text in documents(planted["out"], split):
            homes[repo_of(planted, text)] = split
    pieces = {repo: len(tokenizer.tokenize(" " + marker_of(repo))) for repo in homes}
    seen = [pieces[r] for r, split in homes.items() if split == "train"]
    unseen = [pieces[r] for r, split in homes.items() if split != "train"]
    # frequent in training text: merged into few tokens; never seen while training: falls apart
    assert max(seen) < min(unseen), pieces


def test_a_second_run_with_the_same_inputs_is_a_cache_hit(planted, tmp_path):
    out = planted["out"]
    marker = (out / "dataset_dict.json").stat().st_mtime_ns
    again = build(planted["collection"], out, decontaminate=("humaneval",))
    assert again.cache_hit and again.stats == planted["result"].stats
    assert (out / "dataset_dict.json").stat().st_mtime_ns == marker
    other = build(planted["collection"], tmp_path / "other", decontaminate=("humaneval",), seq_len=32)
    assert not other.cache_hit and other.stats["cache_key"] != planted["result"].stats["cache_key"]


def test_validation_and_test_are_deduplicated_against_train(tmp_path):
    """collect's cluster ids (here one per unit) miss a vendored copy in every repository:
    the copies outside train are removed after the split and counted."""
    rng = random.Random(1)
    vendored = random_module(rng, functions=6)
    rows = []
    for repo in REPOS:
        rows += [unit(repo, f"src/m{k}.py", random_module(rng), cluster_id=f"{repo}-{k}") for k in range(4)]
        rows.append(unit(repo, "vendor/lib.py", near_copy(vendored) if repo != "repo0" else vendored,
                         cluster_id=f"{repo}-vendor"))
    collection = write_collection(tmp_path / "collection", rows)
    result = build(collection, tmp_path / "ds")
    removed = result.stats["removed"]["near_duplicates_of_train"]
    assert result.stats["clusters"]["source"] == "collection"
    assert removed["validation"] >= 1 and removed["test"] >= 1
    for split in ("validation", "test"):
        assert not any("vendor" in t or t.startswith(vendored[:40]) for t in documents(tmp_path / "ds", split))
    assert sum(t.startswith(vendored.splitlines()[0]) for t in documents(tmp_path / "ds", "train")) >= 1


def test_no_pack_pads_one_document_per_row(planted, tmp_path):
    build(planted["collection"], tmp_path / "ds", pack=False, seq_len=512)
    data, tokenizer = load(tmp_path / "ds")
    assert "position_ids" not in data["train"].column_names
    assert planted["rows"][0]["content"] in {
        tokenizer.backend_tokenizer.decode([t for t, m in zip(r["input_ids"], r["attention_mask"]) if m][:-1],
                                           skip_special_tokens=False)
        for split in ("train", "validation", "test") for r in data[split]
    }
    for row in data["train"]:
        real = sum(row["attention_mask"])
        assert row["attention_mask"] == [1] * real + [0] * (512 - real)
        assert row["input_ids"][real:] == [tokenizer.pad_token_id] * (512 - real)
        assert row["labels"][real:] == [-100] * (512 - real)
    stats = json.loads((tmp_path / "ds" / "stats.json").read_text())
    assert stats["packed"] is False and stats["packing_efficiency"]["train"] < 0.9


def test_fim_adds_sentinel_tokens_and_rewrites_documents(planted, tmp_path):
    build(planted["collection"], tmp_path / "ds", fim_rate=1.0)
    _, tokenizer = load(tmp_path / "ds")
    sentinels = [tokenizer.convert_tokens_to_ids(t) for t in (FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX)]
    assert len(set(sentinels)) == 3 and all(s < len(tokenizer) for s in sentinels)
    assert tokenizer.unk_token_id not in sentinels or tokenizer.unk_token_id is None
    contents = {r["content"] for r in planted["rows"]}
    for text in documents(tmp_path / "ds", "train"):
        assert text.startswith(FIM_PREFIX)
        prefix, rest = text[len(FIM_PREFIX):].split(FIM_SUFFIX)
        suffix, middle = rest.split(FIM_MIDDLE)
        assert prefix + middle + suffix in contents
    stats = json.loads((tmp_path / "ds" / "stats.json").read_text())
    assert stats["fim"]["documents"]["train"] == stats["units"]["train"]


def test_recency_weight_column_favours_newer_code(tmp_path):
    rng = random.Random(2)
    dates = {"repo0": "2024-06-01T00:00:00+00:00", "repo1": "2023-06-02T00:00:00+00:00",
             "repo2": "2022-06-02T00:00:00+00:00", "repo3": None}
    rows = [unit(repo, f"m{k}.py", random_module(rng), commit_date=date)
            for repo, date in dates.items() for k in range(6)]
    collection = write_collection(tmp_path / "collection", rows)
    result = build(collection, tmp_path / "ds", pack=False, seq_len=512, recency_half_life_days=365.0,
                   ratios=(0.5, 0.25, 0.25))
    data, tokenizer = load(tmp_path / "ds")
    by_repo: dict[str, set] = {}
    for split in ("train", "validation", "test"):
        for row in data[split]:
            text = tokenizer.backend_tokenizer.decode([t for t, m in zip(row["input_ids"], row["attention_mask"]) if m][:-1])
            repo = next(r["repo"] for r in rows if r["content"] == text)
            by_repo.setdefault(repo, set()).add(round(row["weight"], 4))
    assert all(len(w) == 1 for w in by_repo.values())
    weight = {repo: w.pop() for repo, w in by_repo.items()}
    assert weight["repo0"] == pytest.approx(2 * weight["repo1"], rel=0.01)
    assert weight["repo1"] == pytest.approx(2 * weight["repo2"], rel=0.01)
    assert weight["repo3"] == 1.0  # undated: neutral
    assert result.stats["recency"]["undated_units"] == 6


def test_classification_labels_come_from_the_label_field(tmp_path):
    rng = random.Random(3)
    rows = [unit(f"repo{k % 4}", f"f{k}.{ext}", random_module(rng), language=lang)
            for k in range(24) for lang, ext in [("python", "py"), ("go", "go"), ("rust", "rs")][k % 3 : k % 3 + 1]]
    collection = write_collection(tmp_path / "collection", rows)
    result = build(collection, tmp_path / "ds", task="classification", seq_len=1000)
    assert result.stats["label_names"] == ["go", "python", "rust"]
    assert result.stats["label_map"] == {"go": 0, "python": 1, "rust": 2}
    data, tokenizer = load(tmp_path / "ds")
    language = {r["content"]: r["language"] for r in rows}
    for split in ("train", "validation", "test"):
        assert data[split].column_names == ["input_ids", "labels"]  # no stored padding, no mask
        for row in data[split]:
            # a decoder-style tokenizer (ours): the unit, then EOS, never a pad
            assert row["input_ids"][-1] == tokenizer.eos_token_id and tokenizer.pad_token_id not in row["input_ids"]
            text = tokenizer.backend_tokenizer.decode(row["input_ids"][:-1])
            assert result.stats["label_names"][row["labels"]] == language[text]
    balance = result.stats["class_balance"]
    assert sum(sum(b.values()) for b in balance.values()) == len(rows)


def test_rebuilding_over_an_old_dataset_leaves_no_stale_files(planted, tmp_path):
    out = tmp_path / "ds"
    build(planted["collection"], out)
    (out / "train" / "data-00001-of-00002.arrow").write_text("stale shard of an older build")
    (out / "tokenizer" / "vocab.json").write_text("{}")
    (out / "NOTES.md").write_text("the user's own file")
    build(planted["collection"], out, overwrite=True, seq_len=32)  # another dataset: replaced on request
    assert not (out / "train" / "data-00001-of-00002.arrow").exists()
    assert not (out / "tokenizer" / "vocab.json").exists()
    assert (out / "NOTES.md").exists()
    data, _ = load(out)
    assert len(data["train"][0]["input_ids"]) == 32


def test_several_collections_are_merged_and_all_recorded(planted, tmp_path):
    rng = random.Random(8)
    extra = [unit(f"other{k % 3}", f"x{k}.py", random_module(rng)) for k in range(9)]
    second = write_collection(tmp_path / "second", extra)
    request = DatasetRequest(seq_len=64, vocab_size=600)
    result = Container().build_dataset(request, [str(planted["collection"]), str(second)], str(tmp_path / "ds"))
    stats = result.stats
    assert stats["collection"]["uris"] == [str(planted["collection"]), str(second)]
    assert {s["repo"] for s in stats["collection"]["sources"]} == set(REPOS) | {"other0", "other1", "other2"}
    assert sum(stats["units"].values()) + sum(stats["removed"]["near_duplicates_of_train"].values()) \
        == len(planted["rows"]) + len(extra)


def test_evaluation_splits_are_not_in_repository_order(tmp_path):
    """A capped evaluation (`eval.max_batches`) reads a split's first rows: they must sample every
    test repository, not the first one only."""
    rng = random.Random(5)
    languages = [("python", "py"), ("go", "go"), ("rust", "rs"), ("ruby", "rb")]
    rows = [unit(f"{lang}-{r}", f"f{k}.{ext}", random_module(rng), language=lang)
            for r in range(2) for lang, ext in languages for k in range(10)]
    collection = write_collection(tmp_path / "collection", rows)
    request = dict(task="classification", seq_len=1000, test_repos=("*-1",))
    result = build(collection, tmp_path / "ds", **request)
    assert result.stats["units"]["test"] >= 40  # the four pinned repositories (and maybe one more)
    data, tokenizer = load(tmp_path / "ds")
    first = [result.stats["label_names"][label] for label in data["test"]["labels"][:10]]
    assert len(set(first)) >= 3, first  # repository order would give ten rows of one language
    build(collection, tmp_path / "again", **request, use_cache=False)
    assert load(tmp_path / "again")[0]["test"]["labels"] == data["test"]["labels"]  # seeded: same order
