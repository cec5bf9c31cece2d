"""The security task: real Bandit on planted insecure and clean Python units."""
from __future__ import annotations

import random

import pytest

from application.dataset.request import DatasetRequest
from infrastructure.data.bandit import parsable, scan_python
from presentation.container import Container
from tests.dataset_fixtures import random_module, unit, write_collection

INSECURE = {
    "shell": ("B602", "def run_command(cmd):\n    import subprocess\n    return subprocess.call(cmd, shell=True)\n"),
    "yaml": ("B506", "def read_settings(text):\n    import yaml\n    return yaml.load(text)\n"),
    "pickle": ("B301", "def restore(blob):\n    import pickle\n    return pickle.loads(blob)\n"),
    "password": ("B105", "def connect(host):\n    password = 'hunter2'\n    return open_session(host, password)\n"),
}
CLEAN = {
    "add": "def add(a, b):\n    return a + b\n",
    "safe_yaml": "def read_settings(text):\n    import yaml\n    return yaml.safe_load(text)\n",
    "safe_shell": "def run_command(args):\n    import subprocess\n    return subprocess.run(args, check=True)\n",
    "asserting": "def half(x):\n    assert x % 2 == 0\n    return x // 2\n",
}


def test_bandit_finds_each_planted_issue_and_nothing_in_clean_code():
    found = scan_python([src for _, src in INSECURE.values()] + list(CLEAN.values()))
    for (test_id, _), findings in zip(INSECURE.values(), found):
        assert test_id in {t for t, _ in findings}
    for name, findings in zip(CLEAN, found[len(INSECURE):]):
        assert {t for t, _ in findings} <= set(DatasetRequest().bandit_skip), name  # informational only


def test_methods_cut_out_of_their_class_are_reindented_until_they_parse():
    assert parsable("@classmethod\n    def make(cls):\n        return cls()") is not None
    assert parsable("def area(self):\n        return self.w * self.h") is not None
    assert parsable("print 'python 2'") is None
    assert scan_python(["print 'python 2'"]) == [None]


@pytest.fixture(scope="module")
def security_dataset(tmp_path_factory):
    rng = random.Random(5)
    rows = []
    for k in range(6):  # six repositories: every split gets some
        repo = f"repo{k}"
        for name, (_, source) in INSECURE.items():
            rows.append(unit(repo, f"{name}.py", source.replace("(", f"_{k}(", 1), kind="function", name=name))
        for name, source in CLEAN.items():
            rows.append(unit(repo, f"{name}.py", source.replace("(", f"_{k}(", 1), kind="function", name=name))
        rows.append(unit(repo, "mod.py", random_module(rng), kind="file"))  # not a function: not used
        rows.append(unit(repo, "f.js", "function f() { return eval(x); }", kind="function", language="javascript"))
    root = tmp_path_factory.mktemp("security")
    collection = write_collection(root / "collection", rows)
    request = DatasetRequest(task="security", seq_len=128, vocab_size=400, near_dup_threshold=0)
    result = Container().build_dataset(request, [str(collection)], str(root / "ds"))
    return rows, result, root / "ds"


def test_security_labels_planted_insecure_code_positive_and_clean_code_negative(security_dataset):
    from datasets import load_from_disk
    from transformers import AutoTokenizer

    rows, result, out = security_dataset
    data = load_from_disk(str(out))
    tokenizer = AutoTokenizer.from_pretrained(str(out / "tokenizer"))
    expected = {}
    for row in rows:
        if row["kind"] == "function" and row["language"] == "python":
            expected[row["content"]] = (INSECURE[row["name"]][0] if row["name"] in INSECURE else None)
    seen = 0
    for split in ("train", "validation", "test"):
        for example in data[split]:
            ids = example["input_ids"][:-1]  # the unit, then EOS
            test_id = expected[tokenizer.backend_tokenizer.decode(ids)]
            if test_id is None:
                assert example["labels"] == 0 and example["bandit_test_ids"] == []
            else:
                assert example["labels"] == 1 and test_id in example["bandit_test_ids"]
            seen += 1
    assert seen == len(expected) == 48  # javascript units and file units are not scanned
    assert result.stats["label_names"] == ["clean", "vulnerable"]
    balance = result.stats["class_balance"]
    assert sum(b["vulnerable"] for b in balance.values()) == 24
    assert sum(b["clean"] for b in balance.values()) == 24
    assert result.stats["bandit"]["units_by_test"]["B602"] == 6


def test_a_higher_severity_threshold_keeps_only_serious_findings(security_dataset, tmp_path):
    rows, _, _ = security_dataset
    collection = write_collection(tmp_path / "collection", rows)
    request = DatasetRequest(task="security", seq_len=128, vocab_size=400, near_dup_threshold=0, severity="medium")
    stats = Container().build_dataset(request, [str(collection)], str(tmp_path / "ds")).stats
    # B602 (high), B506 and B301 (medium) stay vulnerable; the hard-coded password (low) does not
    assert sum(b["vulnerable"] for b in stats["class_balance"].values()) == 18
    assert "B105" not in stats["bandit"]["units_by_test"]
