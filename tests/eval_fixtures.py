"""Tiny real models, datasets and run folders for the evaluate / export / report tests.

Built here rather than by the trainer so these tests stand on their own: a byte-level BPE
trained with the project's tokenizer code, a 1-layer 32-wide GPT-2, a LoRA adapter made with
peft over a saved base, and run folders laid out the way `train` writes them.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

SNIPPETS = [f"def add_{i}(a, b):\n    return a + b + {i}\n" for i in range(40)] + \
           [f"def scale_{i}(xs):\n    return [x * {i} for x in xs]\n" for i in range(40)]


def tiny_tokenizer(vocab_size: int = 300):
    from infrastructure.data.tokenization import train_bpe_tokenizer

    return train_bpe_tokenizer(SNIPPETS, vocab_size)


def tiny_gpt2(tokenizer, seed: int = 0, num_labels: int | None = None):
    """A 1-layer, 32-wide GPT-2 (causal LM, or sequence classification with `num_labels`)."""
    import torch
    from transformers import GPT2Config, GPT2ForSequenceClassification, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=len(tokenizer), n_layer=1, n_embd=32, n_head=2, n_positions=256,
                        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                        pad_token_id=tokenizer.pad_token_id)
    if num_labels:
        config.num_labels = num_labels
        return GPT2ForSequenceClassification(config).eval()
    return GPT2LMHeadModel(config).eval()


def save_model(model, tokenizer, folder: Path) -> Path:
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def lora_adapter(base_dir: Path, out_dir: Path, seed: int = 1) -> Path:
    """A LoRA adapter over the saved base, with random (not zero) B so it changes the logits."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = AutoModelForCausalLM.from_pretrained(str(base_dir))
    torch.manual_seed(seed)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["c_attn", "c_fc"], fan_in_fan_out=True,
                        init_lora_weights=False, task_type="CAUSAL_LM")
    model = get_peft_model(base, config)
    model.save_pretrained(str(out_dir))
    AutoTokenizer.from_pretrained(str(base_dir)).save_pretrained(str(out_dir))
    return out_dir


def base_and_adapter(root: Path) -> dict:
    """A saved tiny GPT-2 base (with tokenizer) and a LoRA adapter over it, under `root`."""
    tokenizer = tiny_tokenizer()
    base = save_model(tiny_gpt2(tokenizer), tokenizer, root / "base")
    return {"tokenizer": tokenizer, "base": base, "adapter": lora_adapter(base, root / "adapter")}


def generation_dataset(folder: Path, tokenizer, seq_len: int = 32) -> Path:
    """A packed causal-LM DatasetDict (input_ids, position_ids, labels) + tokenizer + stats."""
    from datasets import Dataset, DatasetDict

    ids, positions, labels = [], [], []
    for doc in tokenizer(SNIPPETS, add_special_tokens=False)["input_ids"]:
        doc = doc + [tokenizer.eos_token_id]
        ids += doc
        positions += list(range(len(doc)))
        labels += [-100] + doc[1:]  # no target across a document boundary
    rows = [{"input_ids": ids[i:i + seq_len], "position_ids": positions[i:i + seq_len],
             "labels": labels[i:i + seq_len]} for i in range(0, len(ids) - seq_len + 1, seq_len)]
    cut = len(rows) * 3 // 4
    splits = {"train": rows[:cut], "validation": rows[cut:cut + 2], "test": rows[cut + 2:]}
    DatasetDict({k: Dataset.from_list(v) for k, v in splits.items()}).save_to_disk(str(folder))
    tokenizer.save_pretrained(str(folder / "tokenizer"))
    stats = {"task": "generation", "rows": {k: len(v) for k, v in splits.items()}, "seq_len": seq_len,
             "collection": {"uri": "fixture://snippets", "sources": [{"repo": "fixture", "commit": "c" * 40}]}}
    (folder / "stats.json").write_text(json.dumps(stats))
    return folder


def classification_dataset(folder: Path, tokenizer, rows: list[tuple[str, int]], label_map: dict) -> Path:
    """A padded sequence-classification DatasetDict (input_ids, attention_mask, labels)."""
    from datasets import Dataset, DatasetDict

    encoded = tokenizer([text for text, _ in rows], padding="max_length", max_length=24, truncation=True)
    data = [{"input_ids": i, "attention_mask": m, "labels": label}
            for i, m, (_, label) in zip(encoded["input_ids"], encoded["attention_mask"], rows)]
    DatasetDict({"train": Dataset.from_list(data), "test": Dataset.from_list(data)}).save_to_disk(str(folder))
    tokenizer.save_pretrained(str(folder / "tokenizer"))
    (folder / "stats.json").write_text(json.dumps({"task": "security", "label_map": label_map}))
    return folder


def metric_rows(steps: int = 20, eval_every: int = 5) -> list[dict]:
    """Training rows with a decaying loss and eval rows every `eval_every` steps."""
    rows = []
    for step in range(1, steps + 1):
        rows.append({"step": step, "loss": 5.0 * math.exp(-step / 8) + 0.5 + 0.05 * (step % 3),
                     "lr": 1e-3 * min(1.0, step / 4), "grad_norm": 1.0 / step})
        if step % eval_every == 0:
            loss = 4.0 * math.exp(-step / 10) + 0.9 + (1.0 if step == steps else 0.0)  # last one worse
            rows.append({"step": step, "eval_loss": loss, "eval_perplexity": math.exp(loss)})
    return rows


def run_folder(folder: Path, final_source: Path | None, dataset: Path | str = "fixture://dataset",
               rows: list[dict] | None = None) -> Path:
    """A run folder as `train` writes it: config, manifest, metrics, summary, final/, checkpoints."""
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    rows = metric_rows() if rows is None else rows
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = {"model": {"architecture": {"type": "gpt2", "n_layer": 1, "n_embd": 32}},
              "data": {"path": str(dataset)}, "training": {"lr": 1e-3, "max_steps": 20}}
    (folder / "config.resolved.json").write_text(json.dumps(config, indent=2))
    (folder / "run_manifest.json").write_text(json.dumps({
        "format": "codetrain-run/1", "dataset": {"uri": str(dataset), "stats": {"task": "generation"}},
        "collection": {"uri": "fixture://collection", "sources": [{"repo": "fixture", "commit": "c" * 40}]},
        "config": config}))
    evals = [r for r in rows if "eval_loss" in r]
    best = min(evals, key=lambda r: r["eval_loss"]) if evals else None
    for r in evals:
        checkpoint = folder / "checkpoints" / f"step-{r['step']:06d}"
        checkpoint.mkdir(parents=True, exist_ok=True)
        (checkpoint / "trainer_state.json").write_text(json.dumps({"step": r["step"]}))
    summary = {"steps": rows[-1]["step"] if rows else 0,
               "eval_loss_before": 4.9, "eval_loss_after": evals[-1]["eval_loss"] if evals else None,
               "best": {"metric": "eval_loss", "value": best["eval_loss"], "step": best["step"]} if best else None}
    if final_source is not None:
        shutil.copytree(final_source, folder / "final")
    (folder / "summary.json").write_text(json.dumps(summary, indent=2))
    return folder
