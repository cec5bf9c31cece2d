"""Tiny datasets and configs for training tests, built with the project's own tokenizer trainer
and packing code, saved the way the `dataset` verb saves them (DatasetDict + tokenizer/ + stats.json)."""
from __future__ import annotations

import json
from pathlib import Path

from application.train.config import TrainConfig
from application.dataset.packing import pack_documents, pad_documents

TEMPLATES = {
    "python": "def {name}(values, factor={i}):\n    return [v * factor for v in values if v > {j}]\n",
    "javascript": "function {name}(values, factor = {i}) {{\n  return values.filter(v => v > {j}).map(v => v * factor);\n}}\n",
    "go": "func {name}(values []int, factor int) []int {{\n\tout := []int{{}}\n\tfor _, v := range values {{\n\t\tif v > {j} {{ out = append(out, v*{i}) }}\n\t}}\n\treturn out\n}}\n",
}
NAMES = ["scale", "grow", "shrink", "keep", "pick", "lift", "drop", "mark", "fold", "shift"]


def snippets(language: str, count: int, offset: int = 0) -> list[str]:
    """`count` distinct small functions in `language`."""
    template = TEMPLATES[language]
    return [template.format(name=f"{NAMES[(k + offset) % len(NAMES)]}_{k + offset}", i=(k + offset) % 7 + 1,
                            j=(k + offset) % 5) for k in range(count)]


def _rows(layout) -> list[dict]:
    """The packing Layout's flat columns as one dict per row (plus `weight` when present)."""
    n = layout.seq_len
    rows = [{name: values[i * n:(i + 1) * n] for name, values in layout.columns.items()} for i in range(layout.rows)]
    for row, weight in zip(rows, layout.weights):
        row["weight"] = weight
    return rows


def _save(splits: dict[str, list[dict]], tokenizer, stats: dict, out: Path) -> Path:
    from datasets import Dataset, DatasetDict

    DatasetDict({n: Dataset.from_list(rows) for n, rows in splits.items()}).save_to_disk(str(out))
    tokenizer.save_pretrained(str(out / "tokenizer"))
    (out / "stats.json").write_text(json.dumps({**stats, "rows": {n: len(r) for n, r in splits.items()}}))
    return out


def build_generation_dataset(out: Path, seq_len: int = 32, vocab_size: int = 300, docs: int = 120,
                             pack: bool = True, weights: bool = False) -> Path:
    """A causal-LM dataset of Python/JS/Go snippets: packed rows with position_ids, or padded rows."""
    from infrastructure.data.tokenization import train_bpe_tokenizer

    texts = [t for lang in TEMPLATES for t in snippets(lang, docs // 3)]
    tokenizer = train_bpe_tokenizer(texts, vocab_size)
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    order = sorted(range(len(texts)), key=lambda k: (k * 7919) % len(texts))  # languages interleaved
    texts = [texts[k] for k in order]
    cut = int(len(texts) * 0.8)
    parts = {"train": texts[:cut], "validation": texts[cut:cut + len(texts) // 10], "test": texts[cut + len(texts) // 10:]}
    splits = {}
    for name, part in parts.items():
        ids = tokenizer(part, add_special_tokens=False)["input_ids"]
        doc_weights = [0.5 + (k % 3) * 0.5 for k in range(len(ids))] if weights else None
        layout = (pack_documents if pack else pad_documents)(ids, seq_len, eos, pad, weights=doc_weights)
        splits[name] = _rows(layout)
    stats = {"task": "generation", "eos_token_id": eos, "pad_token_id": pad, "vocab_size": len(tokenizer),
             "seq_len": seq_len, "packed": pack,
             "collection": {"uri": "fixture://snippets", "sources": [{"repo": "fixture", "commit": "f" * 40}]}}
    return _save(splits, tokenizer, stats, out)


EXTENSIONS = {"python": "py", "javascript": "js", "go": "go"}


def collect_snippets(root: Path, per_language: int = 40) -> Path:
    """A git repository of small files in three languages, collected with the real `collect` verb."""
    from click.testing import CliRunner

    from presentation.cli import cli
    from tests.conftest import make_git_repo

    files = {f"{lang}/f{k}.{EXTENSIONS[lang]}": text
             for lang in TEMPLATES for k, text in enumerate(snippets(lang, per_language))}
    make_git_repo(root / "repo", files)
    result = CliRunner().invoke(cli, ["collect", str(root / "repo"), "--output", str(root / "collection")])
    assert result.exit_code == 0, result.output
    return root / "collection"


def build_language_id_dataset(collection: Path, out: Path, tokenizer_path: str, seq_len: int = 64) -> Path:
    """Classification: which language is this file? Rows come from a collection's file units,
    tokenized with the model's own tokenizer; every fifth file per language is validation."""
    import pyarrow.parquet as pq
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_path)
    manifest = json.loads((collection / "manifest.json").read_text())
    units = [r for shard in manifest["shards"] for r in pq.read_table(collection / shard["path"]).to_pylist()
             if r["kind"] == "file"]
    labels = sorted({u["language"] for u in units})
    rows = {"train": [], "validation": [], "test": []}
    for k, unit in enumerate(sorted(units, key=lambda u: u["path"])):
        split = "validation" if k % 5 == 0 else "test" if k % 5 == 1 else "train"
        enc = tokenizer(unit["content"], truncation=True, max_length=seq_len, padding="max_length")
        rows[split].append({"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
                            "labels": labels.index(unit["language"])})
    stats = {"task": "classification", "label_map": labels, "eos_token_id": tokenizer.sep_token_id,
             "pad_token_id": tokenizer.pad_token_id, "vocab_size": len(tokenizer), "seq_len": seq_len,
             "collection": {"uri": str(collection), "sources": manifest.get("sources", [])}}
    return _save(rows, tokenizer, stats, out)


def tiny_config(dataset: Path, run_dir: Path, **sections) -> TrainConfig:
    """A 1-layer, 32-wide GPT-2 config over `dataset`; `sections` override per section."""
    raw = {
        "model": {"architecture": {"type": "gpt2", "n_layer": 1, "n_embd": 32, "n_head": 2,
                                   "max_position_embeddings": 64, "dropout": 0.1}},
        "data": {"path": str(dataset)},
        "training": {"max_steps": 8, "micro_batch_size": 4, "lr": 5e-3, "warmup_steps": 2, "seed": 7,
                     "log_every_steps": 1, "progress_bar": False, "num_threads": 1},
        "eval": {"max_batches": 4},
        "output": {"dir": str(run_dir)},
    }
    for section, values in sections.items():
        raw.setdefault(section, {}).update(values)
    return TrainConfig.model_validate(raw)


def read_metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line]
