"""The memory preflight's estimate vs the measured peak RSS of real CPU training runs.

Each configuration trains a few steps in its own subprocess (a clean peak): the child records
its resident memory when the preflight runs (torch, transformers, peft imported), the estimate,
and `ru_maxrss` after training. The predicted peak is that starting RSS plus the estimate;
the closer to the measured peak the better (target: within 30%).

    .venv/bin/python bench/memory.py [--steps 4]

Measured 2026-11-29 on the shared 2-core CPU machine (predicted peak = RSS at the preflight +
estimate; measured = ru_maxrss): full GPT-2 8x512 b8x256 2143 vs 2180 MB (0.98); LoRA r16 on a
pretrained-folder Llama 8x768 b8x256 3337 vs 4230 MB (0.79); full Llama 6x512 bf16 b16x256 2139 vs
2146 MB (1.00). BACKWARD_HEADROOM (1.3) and BF16_SHARE (0.7) were set from these same runs.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MB = 2 ** 20
# Three CPU configurations where the model, not the runtime, dominates memory.
CONFIGS = {
    "full-gpt2-8x512-b8x256": {
        "model": {"architecture": {"type": "gpt2", "n_layer": 8, "n_embd": 512, "n_head": 8,
                                   "max_position_embeddings": 256, "dropout": 0.0}},
        "training": {"micro_batch_size": 8}},
    "lora-llama-8x768-b8x256 (pretrained folder)": {
        "base": {"type": "llama", "n_layer": 8, "n_embd": 768, "n_head": 12, "max_position_embeddings": 256},
        "adapter": {"type": "lora", "r": 16},
        "training": {"micro_batch_size": 8}},
    "full-llama-6x512-bf16-b16x256": {
        "model": {"architecture": {"type": "llama", "n_layer": 6, "n_embd": 512, "n_head": 8,
                                   "max_position_embeddings": 256, "dropout": 0.0}},
        "training": {"micro_batch_size": 16, "precision": "bf16"}},
}


def save_base(arch: dict, dataset: Path, folder: Path) -> str:
    """A random Llama saved as a pretrained folder (weights only: the dataset holds the tokenizer)."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(str(dataset / "tokenizer"))
    model = LlamaForCausalLM(LlamaConfig(
        num_hidden_layers=arch["n_layer"], hidden_size=arch["n_embd"], num_attention_heads=arch["n_head"],
        intermediate_size=arch["n_embd"] * 4, max_position_embeddings=arch["max_position_embeddings"],
        vocab_size=len(tokenizer), eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id))
    model.save_pretrained(str(folder))
    return str(folder)


def child(spec_path: str) -> None:
    """Train one configuration; print the starting RSS, the estimate and the peak RSS as JSON."""
    import psutil

    from application.train.config import TrainConfig
    from application.train.memory import estimate_memory
    from infrastructure.training.loop import run_training
    from infrastructure.training.memory import probe_memory

    spec = json.loads(Path(spec_path).read_text())
    config = TrainConfig.model_validate(spec["config"])
    stats = json.loads((Path(spec["dataset"]) / "stats.json").read_text())
    shape, _, _, _ = probe_memory(config, stats)
    start = psutil.Process().memory_info().rss
    t = config.training
    estimate = estimate_memory(shape, micro_batch=t.micro_batch_size, seq_len=stats["seq_len"],
                               precision=t.precision, gradient_checkpointing=config.model.gradient_checkpointing)
    run_training(config, Path(spec["dataset"]), Path(spec["run"]), lambda line: None)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    print(json.dumps({"start": start, "estimate": estimate.total, "parts": vars(estimate), "peak": peak}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        return child(args.child)
    from tests.train_fixtures import build_generation_dataset

    with tempfile.TemporaryDirectory() as tmp:
        dataset = build_generation_dataset(Path(tmp) / "ds", seq_len=256, vocab_size=2000, docs=900)
        print(f"{'configuration':46} {'start':>7} {'estimate':>9} {'predicted':>10} {'measured':>9} {'pred/meas':>9}  growth est/meas")
        for name, spec in CONFIGS.items():
            config = {key: value for key, value in spec.items() if key != "base"}
            if "base" in spec:
                config["model"] = {"name_or_path": save_base(spec["base"], dataset, Path(tmp) / "base")}
            config.setdefault("training", {}).update(max_steps=args.steps, num_threads=2, progress_bar=False,
                                                     log_every_steps=1)
            config.update(data={"path": str(dataset)}, eval={"max_batches": 1},
                          output={"dir": str(Path(tmp) / name.split()[0])})
            spec_file = Path(tmp) / "spec.json"
            spec_file.write_text(json.dumps({"config": config, "dataset": str(dataset),
                                             "run": str(Path(tmp) / name.split()[0])}))
            done = subprocess.run([sys.executable, __file__, "--child", str(spec_file)], capture_output=True,
                                  text=True, check=True)
            r = json.loads(done.stdout.strip().splitlines()[-1])
            predicted = r["start"] + r["estimate"]
            print(f"{name:46} {r['start'] / MB:6.0f}M {r['estimate'] / MB:8.0f}M {predicted / MB:9.0f}M "
                  f"{r['peak'] / MB:8.0f}M {predicted / r['peak']:9.2f}  "
                  f"{r['estimate'] / MB:.0f}M / {(r['peak'] - r['start']) / MB:.0f}M  "
                  + ", ".join(f"{k} {v / MB:.0f}M" for k, v in r["parts"].items()))


if __name__ == "__main__":
    main()
