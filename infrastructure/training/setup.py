"""Building a training session: model, data, optimizer, schedule, tracker and checkpoints, restored
from a checkpoint when resuming. `loop.py` runs what this builds."""
from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from application.train.config import CAUSAL_METRICS, CLASSIFICATION_METRICS, TrainConfig
from domain.layout import CHECKPOINTS, FINAL, STATS
from application.train.early_stopping import EarlyStopping, PlateauCuts
from application.train.launch import fewer_processes_warning
from domain.errors import TrainingError
from infrastructure.training.checkpoints import CheckpointManager
from infrastructure.training.data import DataPosition, MicroBatches
from infrastructure.training.metrics import MetricsTracker, check_sinks
from infrastructure.training.state import load_optimizer, load_weights, read_trainer_state, restore_rng


@dataclass
class TrainingSession:
    """Everything `setup` builds and the loop uses."""

    config: TrainConfig
    run_dir: Path
    log: Callable[[str], None]
    accelerator: Any
    model: Any
    tokenizer: Any
    optimizer: Any
    scheduler: Any
    batches: MicroBatches
    eval_split: Any
    labels: list[str]
    pad_id: int
    max_steps: int
    checkpoints: CheckpointManager
    tracker: MetricsTracker
    early: EarlyStopping
    plateau: PlateauCuts
    sharded_state: bool = False  # optimizer state saved by accelerate.save_state (FSDP / DeepSpeed)
    step: int = 0
    position: DataPosition = field(default_factory=DataPosition)
    before: dict | None = None
    last_eval: dict | None = None
    last_eval_step: int | None = None
    interval_losses: list = field(default_factory=list)  # step losses since the last written row
    eval_name: str = "validation"
    """What evaluation figures are of: `validation`, or `training-split` (eval.on_train)."""
    unigram: float | None = None
    """Causal LM: the unigram baseline's loss on the evaluated tokens."""

    @property
    def causal(self) -> bool:
        return self.config.model.task == "causal-lm"


SHARDING_ENV = {"ACCELERATE_USE_FSDP": "FSDP", "ACCELERATE_USE_DEEPSPEED": "DeepSpeed"}  # set by accelerate launch


def _check_device(config: TrainConfig, device: str) -> None:
    import os

    if config.training.precision == "fp16" and device != "cuda":
        raise TrainingError("training.precision=fp16 needs a CUDA GPU (its gradient scaler is a CUDA path); "
                            "use bf16 or no on CPU")
    asked = [name for variable, name in SHARDING_ENV.items() if os.environ.get(variable, "").lower() == "true"]
    if asked and device != "cuda":
        # both shard over CUDA devices: one line here beats a plain run or a crash deep inside accelerate
        raise TrainingError(f"{asked[0]} (from accelerate launch / accelerate config) shards across CUDA GPUs and "
                            f"there is none here; on CPU use DDP: ACCELERATE_USE_CPU=1 accelerate launch "
                            f"--multi_gpu --num_processes N main.py train ...")


def sharded_state(accelerator) -> bool:
    """FSDP or DeepSpeed: each rank holds a shard of the optimizer state, so a checkpoint saves it
    through accelerate's `save_state` (complete, every rank taking part) instead of rank 0's own."""
    from accelerate.utils import DistributedType

    return accelerator.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED)


def _read_labels(config: TrainConfig, dataset_dir: Path) -> list[str]:
    """Class names for a classifier (empty for a causal LM); refuse a dataset of the wrong task."""
    stats = json.loads((dataset_dir / STATS).read_text())
    task = stats.get("task", "generation")
    if config.model.task == "causal-lm" and task not in ("generation", "instruct"):
        raise TrainingError(f"model.task=causal-lm but the dataset at {dataset_dir} is a {task} dataset")
    labels = []
    if config.model.task == "sequence-classification":
        labels = list(stats.get("label_map") or [])
        if len(labels) < 2:
            raise TrainingError(f"model.task=sequence-classification needs a dataset with a label_map "
                                f"of 2+ labels; {dataset_dir} has task {task!r}")
    return labels


def class_weights(setting, counts: list[int]) -> list[float] | None:
    """Loss weight per class: None (`none`), the given list, or `auto`: rows / (classes x rows of the
    class), so each class carries the same total weight (a class absent from train gets 0)."""
    if setting == "none":
        return None
    if setting == "auto":
        total, present = sum(counts), sum(1 for c in counts if c)
        return [total / (present * c) if c else 0.0 for c in counts]
    if len(setting) != len(counts):
        raise TrainingError(f"training.class_weights has {len(setting)} weights but the dataset has "
                            f"{len(counts)} labels")
    return [float(w) for w in setting]


def _class_counts(split, labels: list[str]) -> list[int]:
    from collections import Counter

    counted = Counter(split["labels"])
    return [counted.get(i, 0) for i in range(len(labels))]


def _eval_split(config: TrainConfig, data, log: Callable[[str], None]):
    """The validation split; the training split only when asked (`eval.on_train`), and said so."""
    if len(data["validation"]):
        return data["validation"]
    if not config.eval.on_train:
        raise TrainingError("the dataset has no validation rows: rebuild it with a validation share "
                            "(`dataset --split` / `--validation-repos`), or --set eval.on_train=true to "
                            "evaluate on the training split")
    log("warning: no validation rows; evaluating on the TRAINING split (eval.on_train): "
        "these figures say nothing about held-out code")
    return data["train"]


def _check_positions(model, dataset_dir: Path) -> None:
    """Refuse rows longer than the model has position embeddings for: otherwise the first
    full-length batch fails mid-run with an IndexError deep inside the model."""
    seq_len = json.loads((dataset_dir / STATS).read_text()).get("seq_len")
    config = getattr(model, "config", None)
    limit = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
    if seq_len and limit and seq_len > limit:
        raise TrainingError(f"the dataset at {dataset_dir} has rows of {seq_len} tokens but the model has "
                            f"max_position_embeddings={limit}: rebuild it with `dataset --seq-len {limit}` "
                            f"or use a model with longer positions")


def _launcher_argv() -> list[str]:
    """The command line of the process that started this one (`accelerate launch ...`), if readable."""
    import os

    import psutil

    try:
        return psutil.Process(os.getppid()).cmdline()
    except psutil.Error:
        return []


def _warn_fewer_processes(accelerator, log: Callable[[str], None]) -> None:
    """`accelerate launch --cpu --num_processes 2` silently starts one process: say so, with the fix."""
    warning = fewer_processes_warning(_launcher_argv(), accelerator.num_processes,
                                      cpu=accelerator.device.type == "cpu")
    if warning:
        log(warning)


def lr_factor(step: int, warmup: int, total: int, shape: str, plateau: PlateauCuts) -> float:
    """Learning-rate multiplier: linear warm-up, then the schedule's shape, times plateau cuts."""
    if step < warmup:
        return step / max(1, warmup)
    progress = (step - warmup) / max(1, total - warmup)
    if shape == "linear":
        return max(0.0, 1.0 - progress) * plateau.scale
    if shape == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0))) * plateau.scale
    return plateau.scale  # constant, reduce_on_plateau


def setup(config: TrainConfig, dataset_dir: Path, run_dir: Path, log: Callable[[str], None],
          resume: str | None) -> TrainingSession:
    """Model, data, optimizer, schedule, tracker and checkpoints; restored from `resume` if given."""
    import torch
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState
    from accelerate.utils import set_seed
    from datasets import load_from_disk
    from transformers.utils import logging as hf_logging

    from infrastructure.training.models import build_model, load_dataset_tokenizer

    from infrastructure.training.memory import resolve_device

    t, e = config.training, config.eval
    device, _ = resolve_device(t.device)
    _check_device(config, device)
    hf_logging.disable_progress_bar()  # save_pretrained's per-shard bars would flood the log
    check_sinks(config.tracking.tensorboard, config.tracking.mlflow, config.tracking.wandb,
                config.tracking.mlflow_tracking_uri)
    labels = _read_labels(config, dataset_dir)
    if e.metric == "eval_pr_auc" and len(labels) != 2:
        raise TrainingError(f"eval.metric=eval_pr_auc needs two labels; the dataset has {len(labels)}")
    if t.num_threads:
        torch.set_num_threads(t.num_threads)
    # accelerate keeps its settings in a process-wide singleton; a second run in the same process
    # (tests, notebooks) with another precision must start from a clean one.
    AcceleratorState._reset_state()
    accelerator = Accelerator(cpu=device == "cpu", mixed_precision=t.precision)
    main_log = log if accelerator.is_main_process else (lambda _: None)
    _warn_fewer_processes(accelerator, main_log)
    set_seed(t.seed)
    tokenizer = load_dataset_tokenizer(config, dataset_dir)
    model = build_model(config, tokenizer, labels)
    _check_positions(model, dataset_dir)
    data = load_from_disk(str(dataset_dir))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    weights = None
    if labels:
        counts = _class_counts(data["train"], labels)
        weights = class_weights(t.class_weights, counts)
        main_log(f"training rows per class: {dict(zip(labels, counts))}"
                 + (f"; loss weights {dict(zip(labels, [round(w, 3) for w in weights]))}" if weights else "")
                 + f"; sampling {config.data.sampling}")
    batches = MicroBatches(data["train"], t.micro_batch_size, t.seed, accelerator.process_index,
                           accelerator.num_processes, pad_id=pad_id, sampling=config.data.sampling,
                           class_weights=weights)
    eval_split = _eval_split(config, data, main_log)
    if config.data.max_eval_samples:
        eval_split = eval_split.select(range(min(len(eval_split), config.data.max_eval_samples)))

    max_steps = t.max_steps or max(1, int(batches.per_epoch * t.epochs) // t.gradient_accumulation_steps)
    warmup = t.warmup_steps or int(max_steps * t.warmup_ratio)
    if warmup >= max_steps:
        main_log(f"warning: warm-up ({warmup} steps) >= training.max_steps ({max_steps}): "
                 f"the learning rate never reaches training.lr={t.lr:g}")
    params = [p for p in model.parameters() if p.requires_grad]
    # Fused AdamW (CPU and CUDA) is one kernel for all tensors: ~3x faster than the per-tensor
    # default on CPU, which matters for the small models this runs on (transformers.Trainer uses it too).
    fused = accelerator.device.type in ("cpu", "cuda") and all(p.is_floating_point() for p in params)
    optimizer = torch.optim.AdamW(
        [{"params": [p for p in params if p.ndim >= 2], "weight_decay": t.weight_decay},
         {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}], lr=t.lr, fused=fused)
    plateau = PlateauCuts(e.mode, t.plateau_factor, t.plateau_patience)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, warmup, max_steps, t.scheduler, plateau))
    model, optimizer = accelerator.prepare(model, optimizer)

    checkpoints = CheckpointManager(run_dir / CHECKPOINTS, config.checkpoints.keep_best, e.mode, warn=main_log)
    state, sharded = None, sharded_state(accelerator)
    if resume:
        folder = checkpoints.resolve(resume)
        main_log(f"resuming from {folder}")
        state = read_trainer_state(folder)
        load_weights(accelerator.unwrap_model(model), folder)
        load_optimizer(accelerator, optimizer, state, folder, sharded)
    elif accelerator.is_main_process:
        for old in (CHECKPOINTS, FINAL):  # a fresh run must not rank against an old run's files
            shutil.rmtree(run_dir / old, ignore_errors=True)
    accelerator.wait_for_everyone()
    tracker = _tracker(config, run_dir, state["step"] if state else None) if accelerator.is_main_process else None
    session = TrainingSession(config, run_dir, main_log, accelerator, model, tokenizer, optimizer, scheduler, batches,
                    eval_split, labels, pad_id, max_steps, checkpoints, tracker,
                    EarlyStopping(e.mode, e.early_stopping_patience, e.early_stopping_min_delta), plateau,
                    sharded_state=sharded)
    session.eval_name = "validation" if len(data["validation"]) else "training-split"
    if session.causal and accelerator.is_main_process:
        from infrastructure.training.baseline import unigram_loss

        rows = e.max_batches * t.micro_batch_size if e.max_batches else None
        session.unigram = unigram_loss(data["train"], eval_split, len(tokenizer), rows)
    if state:
        _restore(session, state)
    return session


def _tracker(config: TrainConfig, run_dir: Path, resume_step: int | None) -> MetricsTracker:
    fields = list(CAUSAL_METRICS if config.model.task == "causal-lm" else CLASSIFICATION_METRICS)
    tracking = config.tracking
    mlflow_uri = (tracking.mlflow_tracking_uri or "") if tracking.mlflow else None
    name = tracking.run_name or Path(config.output.dir.rstrip("/")).name or run_dir.name
    return MetricsTracker(run_dir, fields, resume_step, tensorboard=tracking.tensorboard, mlflow_uri=mlflow_uri,
                          wandb_project=tracking.wandb_project if tracking.wandb else None, run_name=name,
                          params=config.model_dump(mode="json"))


def _restore(session: TrainingSession, state: dict) -> None:
    session.scheduler.load_state_dict(state["scheduler"])
    session.early = EarlyStopping(**state["early_stopping"])
    for key, value in state["plateau"].items():
        setattr(session.plateau, key, value)  # the schedule's lambda holds this very object
    if session.tracker is not None:
        session.tracker.load_state(state["metrics"])
    session.step, session.position = state["step"], DataPosition(**state["position"])
    session.before, session.last_eval, session.last_eval_step = state["before"], state["last_eval"], state["last_eval_step"]
    session.interval_losses = list(state.get("interval_losses", []))
    if state.get("scaler") and session.accelerator.scaler is not None:
        session.accelerator.scaler.load_state_dict(state["scaler"])
    restore_rng(state["rng"])
