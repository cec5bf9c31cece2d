"""Small instruction datasets (prompt/completion, chat messages, Alpaca) written as users bring
them, and helpers to read back which tokens a built dataset trains on."""
from __future__ import annotations

import json
import random
from pathlib import Path

import yaml

OPS = {"add": "+", "subtract": "-", "multiply": "*"}


def arithmetic(rng: random.Random) -> tuple[str, str, str]:
    a, b, op = rng.randint(0, 99), rng.randint(0, 99), rng.choice(list(OPS))
    return op, f"{a} and {b}", f"{a} {OPS[op]} {b}"


def prompt_completion_rows(count: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        op, operands, code = arithmetic(rng)
        rows.append({"prompt": f"Write a Python expression to {op} {operands}.\n", "completion": code})
    return rows


def chat_rows(count: int, seed: int = 1) -> list[dict]:
    """System + user + assistant, every third one with a second user/assistant turn."""
    rng = random.Random(seed)
    rows = []
    for k in range(count):
        op, operands, code = arithmetic(rng)
        messages = [{"role": "system", "content": "You answer with Python code only."},
                    {"role": "user", "content": f"How do I {op} {operands}?"},
                    {"role": "assistant", "content": f"result = {code}"}]
        if k % 3 == 0:
            messages += [{"role": "user", "content": "And show it?"}, {"role": "assistant", "content": "print(result)"}]
        rows.append({"messages": messages})
    return rows


def alpaca_rows(count: int, seed: int = 2) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for k in range(count):
        op, operands, code = arithmetic(rng)
        rows.append({"instruction": f"Write a Python expression to {op} two numbers.",
                     "input": operands if k % 2 else "", "output": code if k % 2 else f"def f(a, b):\n    return a {OPS[op]} b"})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def documents(row: dict) -> list[tuple[list[int], list[int]]]:
    """(input_ids, labels) of each document in a built row: packed rows are cut where
    position_ids restart, padded rows at the end of their attention mask."""
    ids, labels = row["input_ids"], row["labels"]
    if "position_ids" in row:
        starts = [i for i, p in enumerate(row["position_ids"]) if p == 0] + [len(ids)]
        return [(ids[a:b], labels[a:b]) for a, b in zip(starts, starts[1:])]
    real = sum(row["attention_mask"])
    return [(ids[:real], labels[:real])]


def trained_texts(dataset_dir: Path) -> list[str]:
    """Per document of every split, the decoded tokens whose label is not -100 (padding documents,
    which train nothing, are left out)."""
    from datasets import load_from_disk
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(dataset_dir / "tokenizer"))
    texts = []
    for split in load_from_disk(str(dataset_dir)).values():
        for row in split:
            for ids, labels in documents(row):
                kept = [t for t, label in zip(ids, labels) if label != -100]
                assert all(label in (-100, t) for t, label in zip(ids, labels))  # a target is its own token
                if kept:
                    texts.append(tokenizer.decode(kept, skip_special_tokens=False))
    return texts


def write_train_config(path: Path, dataset: Path, run_dir: Path, **sections) -> Path:
    from tests.train_fixtures import tiny_config

    path.write_text(yaml.safe_dump(tiny_config(dataset, run_dir, **sections).model_dump(mode="json")))
    return path
