"""The training loop: accelerate + transformers, read top to bottom."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Callable

from application.config import TrainConfig


def _batches_to_model(batch: dict) -> dict:
    # Packed rows: position ids restart per document and there is no attention mask, which is
    # what makes transformers keep documents apart (see ../shared/ENVIRONMENT.md).
    return {k: v for k, v in batch.items() if k in ("input_ids", "position_ids", "labels", "attention_mask")}


def evaluate(model, loader, accelerator, max_batches: int | None) -> float:
    import torch

    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for i, batch in enumerate(loader):
            if max_batches is not None and i >= max_batches:
                break
            labels = batch["labels"]
            n = (labels[:, 1:] != -100).sum()
            loss = model(**_batches_to_model(batch), use_cache=False).loss
            total += accelerator.gather(loss.detach() * n).sum().item()
            count += accelerator.gather(n).sum().item()
    model.train()
    return total / max(count, 1)


def run_training(config: TrainConfig, dataset_dir: Path, run_dir: Path, log: Callable[[str], None]) -> dict:
    """Train, evaluate before and after, save a checkpoint and `final/`. Returns the summary."""
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from datasets import load_from_disk
    from torch.utils.data import DataLoader
    from transformers import AutoTokenizer, get_scheduler

    from infrastructure.training.models import build_causal_lm

    t = config.training
    if t.num_threads:
        torch.set_num_threads(t.num_threads)
    set_seed(t.seed)
    accelerator = Accelerator(gradient_accumulation_steps=t.gradient_accumulation_steps,
                              cpu=not torch.cuda.is_available())
    tokenizer = AutoTokenizer.from_pretrained(str(dataset_dir / "tokenizer"))
    model = build_causal_lm(config.model, tokenizer)
    data = load_from_disk(str(dataset_dir)).with_format("torch")
    train_loader = DataLoader(data["train"], batch_size=t.micro_batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(t.seed))
    eval_split = data["validation"] if len(data["validation"]) else data["train"]
    eval_loader = DataLoader(eval_split, batch_size=t.micro_batch_size)

    steps_per_epoch = math.ceil(len(train_loader) / t.gradient_accumulation_steps)
    max_steps = t.max_steps or max(1, int(steps_per_epoch * t.epochs))
    warmup = t.warmup_steps or int(max_steps * t.warmup_ratio)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": t.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=t.lr)
    scheduler = get_scheduler("cosine" if t.scheduler == "reduce_on_plateau" else t.scheduler,
                              optimizer, num_warmup_steps=warmup, num_training_steps=max_steps)
    model, optimizer, train_loader, eval_loader, scheduler = accelerator.prepare(
        model, optimizer, train_loader, eval_loader, scheduler)

    before = evaluate(model, eval_loader, accelerator, config.eval.max_batches)
    log(f"validation loss before training: {before:.4f}")
    run_dir.mkdir(parents=True, exist_ok=True)
    metrics_path = run_dir / "metrics.jsonl"
    step, micro = 0, 0
    model.train()
    with metrics_path.open("w") as metrics:
        while step < max_steps:
            for batch in train_loader:
                with accelerator.accumulate(model):
                    loss = model(**_batches_to_model(batch), use_cache=False).loss
                    accelerator.backward(loss)
                    if accelerator.sync_gradients and t.max_grad_norm:
                        accelerator.clip_grad_norm_(model.parameters(), t.max_grad_norm)
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad()
                micro += 1
                if accelerator.sync_gradients:
                    step += 1
                    if step % t.log_every_steps == 0 or step == max_steps:
                        row = {"step": step, "loss": loss.item(), "lr": scheduler.get_last_lr()[0]}
                        metrics.write(json.dumps(row) + "\n")
                        log(f"step {step}/{max_steps} loss {row['loss']:.4f} lr {row['lr']:.2e}")
                    if step >= max_steps:
                        break
    after = evaluate(model, eval_loader, accelerator, config.eval.max_batches)
    log(f"validation loss after training: {after:.4f}")

    unwrapped = accelerator.unwrap_model(model)
    if accelerator.is_main_process:
        checkpoint = run_dir / "checkpoints" / f"step-{step:06d}"
        tmp = checkpoint.with_name(f".tmp-{checkpoint.name}")
        unwrapped.save_pretrained(str(tmp))
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "step": step},
                   tmp / "trainer_state.pt")
        os.replace(tmp, checkpoint)
        final = run_dir / "final"
        unwrapped.save_pretrained(str(final))
        tokenizer.save_pretrained(str(final))
    summary = {"steps": step, "eval_loss_before": before, "eval_loss_after": after,
               "perplexity_after": math.exp(min(after, 50))}
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
