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
from infrastructure.training.state import restore_rng, rng_states, write_checkpoint
from infrastructure.training.validation import evaluate


def _agree(r: TrainingSession, flag: bool) -> bool:
    """True on every process when it is True on any (a signal may reach one rank only)."""
    if r.accelerator.num_processes == 1:
        return flag
    import torch

    return bool(r.accelerator.reduce(torch.tensor(float(flag), device=r.accelerator.device), "sum") > 0)


def train_loop(r: TrainingSession, stop: StopRequest, on_checkpoint, stop_when, monitor: HardwareMonitor,
               behavioural_check: BehaviouralCheck | None = None, on_progress=None) -> dict:
    """Optimizer steps until max_steps, early stopping or a stop request. Returns the summary."""
    t, e, c = r.config.training, r.config.eval, r.config.checkpoints
    acc = r.accelerator
    rank_log = _rank_log(r)
    stopped_early = False
    if r.before is None:
        r.before = run_eval(r)
        r.log(f"{r.eval_name} loss before training: {r.before['eval_loss']:.4f}")
    if e.every_steps and r.step and r.step % e.every_steps == 0 and r.last_eval_step != r.step:
        stopped_early = _evaluate_and_decide(r)  # an evaluation a second stop request cut: redone
    progress = ProgressDisplay(r.max_steps, r.step, t.progress_bar and acc.is_main_process, r.log)
    stream = r.batches.stream(r.position)
    interrupted = False
    checkpoint, saved_step = None, None  # the folder is known on the main process only; the step everywhere
    tokens, busy = 0, 0.0  # tokens/s counts step time only, not evaluation or checkpoint time
    losses = list(r.interval_losses)  # since the last written row: it logs their mean
    r.model.train()
    while r.step < r.max_steps and not stopped_early:
        started = time.perf_counter()
        start, rng = r.position, rng_states()  # to drop this step if a stop request cuts it
        should_stop = lambda: _agree(r, stop.reason is not None)  # noqa: E731 (asked per micro-batch)
        loss = None
        with stop.cuttable() as cut:
            window = _next_window(r, stream, should_stop)
            loss = window and accumulate_gradients(r.model, window, acc, r.causal, r.config.data.use_weights,
                                                   should_stop=should_stop)
        if loss is None or cut.happened:  # stopped inside the window: the step never happened (exact resume)
            _drop_window(r, start, rng)
            interrupted = True
            if saved_step != r.step:
                checkpoint, saved_step = save_checkpoint(r, on_checkpoint), r.step
            r.log(f"stopped at step {r.step} ({stop.reason}), between micro-batches of step {r.step + 1}, "
                  f"which is dropped; checkpoint saved: {checkpoint}")
            break
        grad_norm = acc.clip_grad_norm_(r.model.parameters(), t.max_grad_norm or float("inf"))
        r.optimizer.step()
        r.scheduler.step()
        r.optimizer.zero_grad(set_to_none=True)
        r.step += 1
        tokens += sum(input_tokens(b) for b in window) * acc.num_processes
        busy += time.perf_counter() - started

        losses.append(loss)
        stopping = False
        with stop.cuttable() as cut:  # a second request here: the step itself is done
            logged = r.step % t.log_every_steps == 0 or r.step == r.max_steps
            row = {"step": r.step, "epoch": round(r.position.epoch + r.position.micro / r.batches.per_epoch, 4),
                   "loss": loss, "lr": r.scheduler.get_last_lr()[0], "grad_norm": float(grad_norm)}
            speed = round(tokens / busy, 1)  # over the interval so far: the bar shows it on every step
            shown = {"loss": sum(losses) / len(losses)}
            if logged:
                row.update(tokens_per_s=speed, **monitor.sample())
                tokens, busy, losses = 0, 0.0, []
            r.interval_losses = losses
            if r.tracker is not None:
                r.tracker.log(row, write=logged, shown=shown)
            if rank_log is not None:
                rank_log.write(f"step {r.step} rank {acc.process_index}/{acc.num_processes} loss {loss:.6f}\n")
            progress.update(r.step, {**row, **shown, "tokens_per_s": speed}, r.max_steps, logged)
            if on_progress is not None and acc.is_main_process:
                on_progress(r.step, r.max_steps, row)

            if e.every_steps and r.step % e.every_steps == 0:
                stopped_early = _evaluate_and_decide(r)
                if on_progress is not None and acc.is_main_process:
                    on_progress(r.step, r.max_steps, {"step": r.step, **r.last_eval})
            if behavioural_check and e.behavioural_every_steps and r.step % e.behavioural_every_steps == 0:
                _behavioural_eval(r, behavioural_check)
            stopping = _agree(r, stop.reason is not None or bool(stop_when and stop_when(r.step)))
        stopping = stopping or cut.happened
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
        if r.config.eval.threshold == "tune":
            _log_threshold(r)
        if r.unigram:
            r.log(f"{r.eval_name} loss {r.last_eval['eval_loss']:.4f} vs unigram {r.unigram:.4f} "
                  f"({r.last_eval['eval_loss'] / r.unigram:.3f}x)")
    return _summary(r, interrupted, stopped_early, checkpoint)


def tuned_threshold(r: TrainingSession) -> dict | None:
    """`eval.threshold=tune`: the final evaluation's best-F1 cut-off on label 1, or None (not asked
    for, interrupted, or no label-1 row to tune on)."""
    e = r.last_eval or {}
    if r.config.eval.threshold != "tune" or "eval_best_threshold" not in e:
        return None
    return {"threshold": e["eval_best_threshold"], "label": r.labels[1], "f1": e["eval_best_f1"],
            "tuned_on": r.eval_name, "step": r.last_eval_step}


def _log_threshold(r: TrainingSession) -> None:
    tuned = tuned_threshold(r)
    if tuned is None:
        r.log(f"eval.threshold=tune: the {r.eval_name} rows have no {r.labels[1]!r} example to tune on;"
              " predictions stay argmax")
    else:
        r.log(f"decision threshold for {tuned['label']!r}: probability >= {tuned['threshold']:.4f}"
              f" (F1 {tuned['f1']:.4f} on the {r.eval_name} rows), written to final/")


def _next_window(r: TrainingSession, stream, should_stop: Callable[[], bool]) -> list[dict] | None:
    """The micro-batches of one optimizer step (None if a stop request comes while fetching
    them: a window of 100,000 takes a while to gather)."""
    window = []
    for _ in range(r.config.training.gradient_accumulation_steps):
        if should_stop():
            return None
        batch, r.position = next(stream)
        window.append(batch)
    return window


def _drop_window(r: TrainingSession, start, rng: dict) -> None:
    """Undo a window cut before its optimizer step: gradients, data position and RNG back to
    where the step began, so its checkpoint is the last completed step exactly."""
    r.optimizer.zero_grad(set_to_none=True)
    r.position = start
    restore_rng(rng)


def _trainer_state(r: TrainingSession) -> dict:
    optimizer = None if r.sharded_state else r.optimizer.state_dict()  # sharded: in ACCELERATE_STATE
    return {"step": r.step, "position": vars(r.position), "optimizer": optimizer,
            "scheduler": r.scheduler.state_dict(), "early_stopping": r.early.state(),
            "plateau": r.plateau.state(), "metrics": r.tracker.state(), "before": r.before,
            "last_eval": r.last_eval, "last_eval_step": r.last_eval_step, "interval_losses": r.interval_losses,
            # fp16 on CUDA: accelerate's gradient scaler carries its loss scale across steps.
            "scaler": r.accelerator.scaler.state_dict() if r.accelerator.scaler is not None else None}


def save_checkpoint(r: TrainingSession, on_checkpoint: Callable[[Path], None] | None) -> Path | None:
    """Checkpoint on the main process (others wait); then the storage hook sees the folder.

    The weights are gathered by accelerate on every rank first (`get_state_dict` is a collective
    under FSDP / ZeRO-3), then written by the main process alone. Under FSDP / DeepSpeed the
    optimizer state is sharded too: every rank writes its part with `save_state` into a staging
    folder, which the main process then moves into the checkpoint before sealing it.
    """
    folder, staged = None, None
    state_dict = r.accelerator.get_state_dict(r.model)
    if r.sharded_state:
        staged = r.checkpoints.root / f".accelerate-state-{r.step:06d}"
        if r.accelerator.is_main_process:
            shutil.rmtree(staged, ignore_errors=True)  # left by a run killed at this step
        r.accelerator.wait_for_everyone()
        r.accelerator.save_state(str(staged))
        r.accelerator.wait_for_everyone()
    if r.accelerator.is_main_process:
        metric = r.last_eval[r.config.eval.metric] if r.last_eval else None
        model = r.accelerator.unwrap_model(r.model)
        folder = r.checkpoints.save(r.step, metric, lambda tmp: write_checkpoint(
            tmp, model, state_dict, r.tokenizer, _trainer_state(r), staged))
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
        "threshold": None if interrupted else tuned_threshold(r),
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
            r.tracker.close(summary)
        if not summary["interrupted"]:
            final = r.run_dir / FINAL
            shutil.rmtree(final, ignore_errors=True)
            save_final(r.accelerator.unwrap_model(r.model), r.tokenizer, final, r.config.adapter.merge_on_export, r.labels,
                       tuned_threshold(r))
            summary["final"] = str(final)
        atomic_write(r.run_dir / RUN_SUMMARY, json.dumps(summary, indent=2, default=str))
    r.accelerator.wait_for_everyone()
    r.accelerator.end_training()
    # Every rank returns to the CLI; only the main process's summary is the run's (it prints it).
    return summary if r.accelerator.is_main_process else {**summary, "main_process": False}


def run_training(config: TrainConfig, dataset_dir: Path, run_dir: Path, log: Callable[[str], None], *,
                 resume: str | None = None, on_checkpoint: Callable[[Path], None] | None = None,
                 stop_when: Callable[[int], bool] | None = None,
                 behavioural_check: BehaviouralCheck | None = None,
                 on_progress: Callable[[int, int, dict], None] | None = None) -> dict:
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
        on_progress: Called on the main process after every step with (step, max_steps, the
            step's metric row) and after every evaluation with its metrics.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    session = setup(config, dataset_dir, run_dir, log, resume)
    with StopRequest(second_stops_now=session.accelerator.num_processes == 1) as stop:
        summary = train_loop(session, stop, on_checkpoint, stop_when, HardwareMonitor(), behavioural_check,
                             on_progress)
        return cleanup(session, summary)  # a further request is only noted: summary.json must say what happened
