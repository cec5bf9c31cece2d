"""The training session: setup -> loop -> cleanup, read top to bottom (torchtune style).

`run_training` is what the application layer calls. Batches come from `MicroBatches`
(resumable), gradients from `accumulate_gradients` (exact accumulation), metrics go to
`MetricsTracker`, checkpoints to `CheckpointManager`; all set up in `session.setup`.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Callable


from application.train.config import TrainConfig
from domain.layout import FINAL, RUN_SUMMARY, atomic_write
from domain.ports import BehaviouralCheck
from infrastructure.training.data import input_tokens
from infrastructure.training.interrupt import StopRequest
from infrastructure.training.monitor import HardwareMonitor, ProgressDisplay
from infrastructure.training.objective import accumulate_gradients
from infrastructure.training.setup import TrainingSession, setup
from infrastructure.training.state import write_checkpoint
from infrastructure.training.validation import evaluate


def _agree(r: TrainingSession, flag: bool) -> bool:
    """True on every process when it is True on any (a signal may reach one rank only)."""
    if r.accelerator.num_processes == 1:
        return flag
    import torch

    return bool(r.accelerator.reduce(torch.tensor(float(flag), device=r.accelerator.device), "sum") > 0)


def train_loop(r: TrainingSession, stop: StopRequest, on_checkpoint, stop_when, monitor: HardwareMonitor,
               behavioural_check: BehaviouralCheck | None = None) -> dict:
    """Optimizer steps until max_steps, early stopping or a stop request. Returns the summary."""
    t, e, c = r.config.training, r.config.eval, r.config.checkpoints
    acc = r.accelerator
    rank_log = _rank_log(r)
    if r.before is None:
        r.before = run_eval(r)
        r.log(f"{r.eval_name} loss before training: {r.before['eval_loss']:.4f}")
    progress = ProgressDisplay(r.max_steps, r.step, t.progress_bar and acc.is_main_process, r.log)
    stream = r.batches.stream(r.position)
    interrupted = stopped_early = False
    checkpoint, saved_step = None, None  # the folder is known on the main process only; the step everywhere
    tokens, busy = 0, 0.0  # tokens/s counts step time only, not evaluation or checkpoint time
    r.model.train()
    while r.step < r.max_steps:
        started = time.perf_counter()
        window = []
        for _ in range(t.gradient_accumulation_steps):
            batch, r.position = next(stream)
            window.append(batch)
        loss = accumulate_gradients(r.model, window, acc, r.causal, r.config.data.use_weights)
        grad_norm = acc.clip_grad_norm_(r.model.parameters(), t.max_grad_norm or float("inf"))
        r.optimizer.step()
        r.scheduler.step()
        r.optimizer.zero_grad(set_to_none=True)
        r.step += 1
        tokens += sum(input_tokens(b) for b in window) * acc.num_processes
        busy += time.perf_counter() - started

        logged = r.step % t.log_every_steps == 0 or r.step == r.max_steps
        row = {"step": r.step, "epoch": round(r.position.epoch + r.position.micro / r.batches.per_epoch, 4),
               "loss": loss, "lr": r.scheduler.get_last_lr()[0], "grad_norm": float(grad_norm)}
        if logged:
            row.update(tokens_per_s=round(tokens / busy, 1), **monitor.sample())
            tokens, busy = 0, 0.0
        if r.tracker is not None:
            r.tracker.log(row, write=logged)
        if rank_log is not None:
            rank_log.write(f"step {r.step} rank {acc.process_index}/{acc.num_processes} loss {loss:.6f}\n")
        progress.update(r.step, row, r.max_steps, logged)

        if e.every_steps and r.step % e.every_steps == 0:
            stopped_early = _evaluate_and_decide(r)
        if behavioural_check and e.behavioural_every_steps and r.step % e.behavioural_every_steps == 0:
            _behavioural_eval(r, behavioural_check)
        stopping = _agree(r, stop.reason is not None or bool(stop_when and stop_when(r.step)))
        if (c.every_steps and r.step % c.every_steps == 0) or stopping or stopped_early:
            checkpoint, saved_step = save_checkpoint(r, on_checkpoint), r.step
        if stopping:
            interrupted = True
            r.log(f"stopped at step {r.step} ({stop.reason or 'stop requested'}); checkpoint saved: {checkpoint}")
            break
        if stopped_early:
            r.log(f"early stopping at step {r.step}: no {e.metric} improvement in {e.early_stopping_patience} evaluations")
            break
    progress.close()
    if rank_log is not None:
        rank_log.close()
    if not interrupted:
        if r.last_eval_step != r.step:
            _evaluate_and_decide(r)
        if saved_step != r.step:  # every rank takes the same branch: saving has a barrier
            checkpoint = save_checkpoint(r, on_checkpoint)
        r.log(f"{r.eval_name} loss after training: {r.last_eval['eval_loss']:.4f}")
        if r.unigram:
            r.log(f"{r.eval_name} loss {r.last_eval['eval_loss']:.4f} vs unigram {r.unigram:.4f} "
                  f"({r.last_eval['eval_loss'] / r.unigram:.3f}x)")
    return _summary(r, interrupted, stopped_early, checkpoint)


def _trainer_state(r: TrainingSession) -> dict:
    return {"step": r.step, "position": vars(r.position), "optimizer": r.optimizer.state_dict(),
            "scheduler": r.scheduler.state_dict(), "early_stopping": r.early.state(),
            "plateau": r.plateau.state(), "metrics": r.tracker.state(), "before": r.before,
            "last_eval": r.last_eval, "last_eval_step": r.last_eval_step,
            # fp16 on CUDA: accelerate's gradient scaler carries its loss scale across steps.
            "scaler": r.accelerator.scaler.state_dict() if r.accelerator.scaler is not None else None}


def save_checkpoint(r: TrainingSession, on_checkpoint: Callable[[Path], None] | None) -> Path | None:
    """Checkpoint on the main process (others wait); then the storage hook sees the folder."""
    folder = None
    if r.accelerator.is_main_process:
        metric = r.last_eval[r.config.eval.metric] if r.last_eval else None
        model = r.accelerator.unwrap_model(r.model)
        folder = r.checkpoints.save(r.step, metric, lambda tmp: write_checkpoint(tmp, model, _trainer_state(r)))
        if on_checkpoint is not None:
            on_checkpoint(folder)
    r.accelerator.wait_for_everyone()
    return folder


def run_eval(r: TrainingSession) -> dict:
    t, e = r.config.training, r.config.eval
    metrics = evaluate(r.model, r.eval_split, r.accelerator, causal=r.causal, labels=r.labels,
                       batch_size=t.micro_batch_size, max_batches=e.max_batches, pad_id=r.pad_id)
    r.last_eval, r.last_eval_step = metrics, r.step
    return metrics


def _evaluate_and_decide(r: TrainingSession) -> bool:
    """Evaluate, log, feed the plateau schedule; True when early stopping says stop."""
    metrics = run_eval(r)
    if r.tracker is not None:
        r.tracker.log({"step": r.step, **metrics})
    value = metrics[r.config.eval.metric]
    r.log(f"eval at step {r.step}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()
                                                   if isinstance(v, float)))
    if "eval_per_class" in metrics:
        r.log("  per class (precision/recall/F1, support): " + ", ".join(
            f"{name} {c['precision']:.2f}/{c['recall']:.2f}/{c['f1']:.2f} ({c['support']})"
            for name, c in metrics["eval_per_class"].items()))
    if r.config.training.scheduler == "reduce_on_plateau":
        r.plateau.update(value)
    return r.early.update(value, r.step)


def _behavioural_eval(r: TrainingSession, check: BehaviouralCheck) -> None:
    """Run the injected behavioural check (e.g. greedy pass@1 in the sandbox), logged as
    eval_pass@1 (main process; the others wait at the next collective)."""
    if not (r.causal and r.accelerator.is_main_process):
        return
    result = check(r.accelerator.unwrap_model(r.model), r.tokenizer)
    if r.tracker is not None:
        r.tracker.log({"step": r.step, "eval_pass@1": result["pass@1"]})
    r.log(f"pass@1 {result['pass@1']:.3f} on {result['problems']} problems at step {r.step}")


def _rank_log(r: TrainingSession):
    """With several processes each rank keeps its own log, which shows every rank did work."""
    if r.accelerator.num_processes == 1:
        return None
    folder = r.run_dir / "logs"
    folder.mkdir(exist_ok=True)
    return (folder / f"rank-{r.accelerator.process_index}.log").open("a", buffering=1)


def _summary(r: TrainingSession, interrupted: bool, stopped_early: bool, checkpoint: Path | None) -> dict:
    after = None if interrupted else r.last_eval
    summary = {
        "steps": r.step, "max_steps": r.max_steps, "interrupted": interrupted, "stopped_early": stopped_early,
        "checkpoint": str(checkpoint) if checkpoint else None,
        "eval_loss_before": r.before["eval_loss"], "eval_loss_after": after["eval_loss"] if after else None,
        "eval_before": r.before, "eval_after": after,
        "best": {"metric": r.config.eval.metric, "value": r.early.best, "step": r.early.best_step},
        "eval_split": r.eval_name, "num_processes": r.accelerator.num_processes,
        "parameters": _parameter_counts(r.accelerator.unwrap_model(r.model)),
    }
    if after and r.causal:
        summary["perplexity_after"] = after["eval_perplexity"]
    if after and r.unigram:
        summary["unigram_loss"] = r.unigram
        summary["loss_vs_unigram"] = after["eval_loss"] / r.unigram
    return summary


def _parameter_counts(model) -> dict:
    params = list(model.parameters())
    return {"trainable": sum(p.numel() for p in params if p.requires_grad), "total": sum(p.numel() for p in params)}


def cleanup(r: TrainingSession, summary: dict) -> dict:
    """final/ (unless interrupted), summary.json; close the metric files."""
    from infrastructure.training.models import save_final

    if r.accelerator.is_main_process:
        if r.tracker is not None:
            summary["metrics"] = r.tracker.summary()
            r.tracker.close()
        if not summary["interrupted"]:
            final = r.run_dir / FINAL
            shutil.rmtree(final, ignore_errors=True)
            save_final(r.accelerator.unwrap_model(r.model), r.tokenizer, final, r.config.adapter.merge_on_export, r.labels)
            summary["final"] = str(final)
        atomic_write(r.run_dir / RUN_SUMMARY, json.dumps(summary, indent=2, default=str))
    r.accelerator.wait_for_everyone()
    r.accelerator.end_training()
    return summary


def run_training(config: TrainConfig, dataset_dir: Path, run_dir: Path, log: Callable[[str], None], *,
                 resume: str | None = None, on_checkpoint: Callable[[Path], None] | None = None,
                 stop_when: Callable[[int], bool] | None = None,
                 behavioural_check: BehaviouralCheck | None = None) -> dict:
    """Train in `run_dir` and return the summary.

    Args:
        config: The validated training config.
        dataset_dir: Local dataset folder (stats.json, tokenizer/, the DatasetDict).
        run_dir: Local run folder; checkpoints, metrics, final/ and summary.json go here.
        log: Where progress lines go (only the main process logs).
        resume: `latest`, `best` or a checkpoint folder (e.g. one the application downloaded).
        on_checkpoint: Called with each checkpoint folder once it is saved and old ones pruned
            (the storage layer mirrors the run folder from there).
        stop_when: Test hook, called after every step with the step; True stops like Ctrl-C.
        behavioural_check: `(model, tokenizer) -> {"pass@1", "problems"}`, run every
            `eval.behavioural_every_steps` (the composition root builds it from the config).
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    session = setup(config, dataset_dir, run_dir, log, resume)
    with StopRequest() as stop:
        summary = train_loop(session, stop, on_checkpoint, stop_when, HardwareMonitor(), behavioural_check)
    return cleanup(session, summary)
