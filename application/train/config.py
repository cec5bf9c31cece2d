"""Typed `training_config.yaml`: one model per section, every field documented.

Errors name the file, the key path and the bad value in one line (`ConfigError`, exit 2).
"""
from __future__ import annotations

import difflib
import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from domain.errors import ConfigError


class Section(BaseModel):
    # Each field is documented by the docstring under it (litgpt style): pydantic reads those
    # as the field descriptions that `config --reference` and error messages show.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, use_attribute_docstrings=True)

    @model_validator(mode="before")
    @classmethod
    def _comma_lists(cls, data):
        """`--set adapter.target_modules=q_proj,v_proj`: a comma string where a list is expected is that list."""
        if not isinstance(data, dict):
            return data
        for name, field in cls.model_fields.items():
            value = data.get(name)
            if isinstance(value, str) and "," in value and _accepts_list(field.annotation):
                data = {**data, name: [part.strip() for part in value.split(",") if part.strip()]}
        return data


def _accepts_list(annotation) -> bool:
    return annotation is list or typing.get_origin(annotation) is list or \
        any(_accepts_list(a) for a in typing.get_args(annotation))


class ArchitectureConfig(Section):
    """A model built from scratch when `model.name_or_path` is empty."""

    type: Literal["gpt2", "llama"] = "gpt2"
    """transformers model family."""
    n_layer: int = Field(2, ge=1, le=128)
    """Number of transformer blocks."""
    n_embd: int = Field(128, ge=8)
    """Hidden size."""
    n_head: int = Field(4, ge=1)
    """Attention heads; must divide n_embd."""
    max_position_embeddings: int = Field(1024, ge=16)
    """Longest sequence the model sees."""
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    """Dropout on embeddings, attention and MLP."""

    @model_validator(mode="after")
    def _heads_divide(self):
        if self.n_embd % self.n_head:
            raise ValueError(f"n_head={self.n_head} must divide n_embd={self.n_embd}")
        return self


class ModelConfig(Section):
    """Which model to train and how to load it."""

    name_or_path: str | None = None
    """Local folder or hub name of a pretrained model; empty = from scratch."""
    architecture: ArchitectureConfig = Field(default_factory=ArchitectureConfig)
    """From-scratch architecture."""
    task: Literal["causal-lm", "sequence-classification"] = "causal-lm"
    """Head to train."""
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    """Dtype the weights are loaded in."""
    load_in_4bit: bool = False
    """QLoRA: quantise the base to 4 bit (bitsandbytes)."""
    load_in_8bit: bool = False
    """Quantise the base to 8 bit (bitsandbytes)."""
    bnb_4bit_quant_type: Literal["nf4", "fp4"] = "nf4"
    """4-bit data type."""
    bnb_4bit_use_double_quant: bool = True
    """Quantise the quantisation constants."""
    gradient_checkpointing: bool = False
    """Trade compute for activation memory."""
    trust_remote_code: bool = False
    """Allow model code from the checkpoint folder."""

    @model_validator(mode="after")
    def _one_quantisation(self):
        if self.load_in_4bit and self.load_in_8bit:
            raise ValueError("load_in_4bit and load_in_8bit are exclusive")
        return self


class AdapterConfig(Section):
    """Parameter-efficient fine-tuning; `type: none` trains every weight."""

    type: Literal["lora", "none"] = "none"
    """`lora` or `none` (full fine-tuning)."""
    r: int = Field(8, ge=1)
    """LoRA rank."""
    alpha: int = Field(16, ge=1)
    """LoRA scaling numerator (scale = alpha / r)."""
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    """Dropout on the LoRA input."""
    target_modules: list[str] | Literal["all-linear"] = "all-linear"
    """Module names to adapt, or `all-linear`."""
    merge_on_export: bool = False
    """Write final/ merged rather than adapter-only."""


class DataConfig(Section):
    """The dataset built by `python main.py dataset`, or a plain saved `DatasetDict`."""

    path: str = "runs/demo/dataset"
    """Dataset folder or s3:// URI: a `dataset` output, or any saved DatasetDict with `input_ids`
    (optionally `labels`, `position_ids`, `attention_mask`) or `text` columns."""
    seq_len: int | None = Field(None, ge=8)
    """Row length made from a plain DatasetDict (packed `text`, or the cap on `input_ids` rows);
    None = the model's position limit, at most 2048. Ignored for `dataset` outputs."""
    max_eval_samples: int | None = Field(None, ge=1)
    """Cap on validation examples."""
    use_weights: bool = True
    """Scale each example's loss by the dataset's `weight` column when it has one."""
    sampling: Literal["natural", "balanced"] = "natural"
    """Order of training rows (sequence-classification): `natural` shuffles each epoch; `balanced` draws
    rows with replacement so every class is equally likely (for rare classes such as vulnerable code)."""


class TrainingConfig(Section):
    """Optimisation and loop settings."""

    epochs: float = Field(1.0, gt=0)
    """Passes over the training split (if max_steps unset)."""
    max_steps: int | None = Field(None, ge=1)
    """Optimizer steps; overrides epochs."""
    micro_batch_size: int = Field(8, ge=1, strict=True)
    """Examples per forward pass per process."""
    gradient_accumulation_steps: int = Field(1, ge=1)
    """Micro-batches per optimizer step."""
    lr: float = Field(1e-3, gt=0, le=10)
    """Peak learning rate (AdamW)."""
    weight_decay: float = Field(0.01, ge=0)
    """AdamW decoupled weight decay."""
    warmup_steps: int = Field(0, ge=0)
    """Linear warm-up steps (wins over warmup_ratio)."""
    warmup_ratio: float = Field(0.05, ge=0, le=1)
    """Warm-up as a share of all steps."""
    scheduler: Literal["linear", "cosine", "constant", "reduce_on_plateau"] = "cosine"
    """Learning-rate schedule after warm-up."""
    plateau_factor: float = Field(0.5, gt=0, lt=1)
    """reduce_on_plateau: lr multiplier per cut."""
    plateau_patience: int = Field(1, ge=0)
    """reduce_on_plateau: evaluations without improvement before a cut."""
    max_grad_norm: float | None = Field(1.0, gt=0)
    """Gradient clipping norm; null = off."""
    precision: Literal["no", "bf16", "fp16"] = "no"
    """Mixed precision."""
    class_weights: Literal["auto", "none"] | list[float] = "none"
    """Loss weight per class (sequence-classification): `none`; `auto` = rows / (classes x rows of the
    class) on the training split (a rare class weighs more); or one weight per class in label id order."""
    seed: int = Field(42, ge=0, le=2**32 - 1)
    """Seed for weights, data order and dropout (0 to 2**32 - 1, what numpy accepts)."""
    num_threads: int | None = Field(None, ge=1)
    """torch CPU threads; null = torch default."""
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    """Where to train: auto takes CUDA, then Apple MPS, then the CPU (the choice is printed); forcing a
    device this machine lacks fails at start-up."""
    memory_limit_gb: float | None = Field(None, gt=0)
    """Refuse to start when the estimated memory (weights + gradients + optimizer + activations)
    exceeds this many GB; the available memory is always a limit; null = that alone."""
    log_every_steps: int = Field(10, ge=1)
    """Steps between metric lines."""
    progress_bar: bool = True
    """Show a progress bar on a terminal."""


class EvalConfig(Section):
    """Validation during training and early stopping."""

    every_steps: int | None = Field(None, ge=1)
    """Steps between evaluations; null = end only."""
    metric: str = "eval_loss"
    """Metric that ranks checkpoints and drives early stopping: eval_loss or eval_perplexity (causal-lm);
    eval_loss, eval_accuracy, eval_precision, eval_recall or eval_f1 (sequence-classification, macro
    averages), or eval_pr_auc (two classes: area under the precision-recall curve of class 1)."""
    mode: Literal["min", "max"] = "min"
    """Whether lower or higher `metric` is better."""
    early_stopping_patience: int | None = Field(None, ge=1)
    """Evaluations without improvement before stopping; null = off."""
    early_stopping_min_delta: float = Field(0.0, ge=0)
    """Smallest change that counts."""
    max_batches: int | None = Field(None, ge=1)
    """Cap on validation batches per evaluation."""
    threshold: Literal["argmax", "tune"] = "argmax"
    """Two-class sequence-classification: `tune` chooses the cut-off on class 1's probability that
    maximises class 1's F1 on the final evaluation's rows, writes it to final/threshold.json, and
    `evaluate` then predicts with it (for a rare class trained with balanced sampling or class
    weights, argmax's 0.5 raises mostly false alarms); `argmax` predicts the likeliest class."""
    on_train: bool = False
    """Evaluate on the training split when the dataset has no validation rows (logged as train-split
    figures); false refuses such a dataset rather than call training numbers validation."""
    behavioural_every_steps: int | None = Field(None, ge=1)
    """Steps between greedy pass@1 checks on a code benchmark, run in the sandbox and logged as eval_pass@1
    (causal-lm only); null = off."""
    behavioural_benchmark: str = "humaneval"
    """`humaneval` or a JSONL file of problems in its format for the pass@1 check."""
    behavioural_problems: int = Field(10, ge=1)
    """How many problems (the first N) each check runs."""
    behavioural_max_new_tokens: int = Field(128, ge=1)
    """Longest completion in a pass@1 check."""


class CheckpointConfig(Section):
    """Checkpoint cadence and retention."""

    every_steps: int | None = Field(None, ge=1)
    """Steps between checkpoints; null = end only."""
    keep_best: int = Field(2, ge=1)
    """Best checkpoints kept (plus the latest)."""


class TrackingConfig(Section):
    """Where metrics go besides metrics.jsonl and metrics.csv (always written)."""

    tensorboard: bool = False
    """Also write TensorBoard event files."""
    mlflow: bool = False
    """Also log to MLflow."""
    mlflow_tracking_uri: str | None = None
    """MLflow URI; default is a file store in the run (`mlruns/`; MLflow 3 reads a file store only with
    MLFLOW_ALLOW_FILE_STORE=true, which codetrain sets for it: `MLFLOW_ALLOW_FILE_STORE=true mlflow ui
    --backend-store-uri RUN/mlruns`)."""
    wandb: bool = False
    """Also log to Weights & Biases; its files go to RUN/wandb. With WANDB_MODE=offline nothing leaves the
    machine (`wandb sync RUN/wandb/offline-run-*` uploads later)."""
    wandb_project: str = "codetrain"
    """W&B project name."""
    run_name: str | None = None
    """Run name shown by MLflow and W&B; null = the output folder's name."""


CAUSAL_METRICS = ("eval_loss", "eval_perplexity")
CLASSIFICATION_METRICS = ("eval_loss", "eval_accuracy", "eval_precision", "eval_recall", "eval_f1", "eval_pr_auc")


class OutputConfig(Section):
    """Where the run folder goes."""

    dir: str = "runs/demo/model"
    """Run folder or s3:// URI."""


class TrainConfig(Section):
    """The whole `training_config.yaml`."""

    model: ModelConfig = Field(default_factory=ModelConfig)
    adapter: AdapterConfig = Field(default_factory=AdapterConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    checkpoints: CheckpointConfig = Field(default_factory=CheckpointConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)

    @model_validator(mode="after")
    def _consistent(self):
        known = CAUSAL_METRICS if self.model.task == "causal-lm" else CLASSIFICATION_METRICS
        if self.eval.metric not in known:
            raise ValueError(f"eval.metric {self.eval.metric!r} is not one of {', '.join(known)} for {self.model.task}")
        quantised = self.model.load_in_4bit or self.model.load_in_8bit
        if quantised and self.adapter.type != "lora":
            raise ValueError("a 4/8-bit base cannot be trained in full: set adapter.type=lora (QLoRA)")
        if quantised and self.adapter.merge_on_export:
            raise ValueError("adapter.merge_on_export cannot merge into a 4/8-bit base: export the adapter")
        classify = self.model.task == "sequence-classification"
        if not classify and (self.data.sampling != "natural" or self.training.class_weights != "none"):
            raise ValueError("data.sampling=balanced and training.class_weights apply to sequence-classification only")
        if not classify and self.eval.threshold != "argmax":
            raise ValueError("eval.threshold=tune applies to sequence-classification only")
        if self.training.scheduler == "reduce_on_plateau" and not self.eval.every_steps:
            raise ValueError("training.scheduler=reduce_on_plateau needs eval.every_steps")
        return self


def parse_override(text: str) -> tuple[list[str], Any]:
    """`training.lr=3e-4` -> (["training", "lr"], 0.0003). Values are parsed as YAML."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text!r}: expected section.key=value")
    try:
        parsed = yaml.safe_load(value) if value else None
    except yaml.YAMLError:
        parsed = value
    return key.strip().split("."), parsed


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    for text in overrides:
        path, value = parse_override(text)
        node = raw
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {text!r}: {part} is not a section")
        node[path[-1]] = value
    return raw


def load_train_config(path: str | Path | None, overrides: list[str] = ()) -> TrainConfig:
    """Read, override and validate a training config; raise one-line ConfigError on any fault."""
    source = str(path) if path else "<defaults>"
    raw: dict = {}
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{source}: config file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{source}: cannot read config: {exc}") from None
        try:
            raw = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark else ""
            raise ConfigError(f"{source}: not valid YAML{where}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{source}: top level must be a mapping of sections")
    raw = apply_overrides(raw, list(overrides))
    try:
        return TrainConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {describe_validation_error(exc)}") from None


# Names other trainers (axolotl, TRL / transformers.TrainingArguments, LLaMA-Factory) use for our keys.
ALIASES = {
    "learning_rate": "training.lr", "lr": "training.lr", "num_epochs": "training.epochs",
    "num_train_epochs": "training.epochs", "micro_batch_size": "training.micro_batch_size",
    "per_device_train_batch_size": "training.micro_batch_size", "batch_size": "training.micro_batch_size",
    "gradient_accumulation_steps": "training.gradient_accumulation_steps", "lr_scheduler": "training.scheduler",
    "lr_scheduler_type": "training.scheduler", "warmup_steps": "training.warmup_steps",
    "warmup_ratio": "training.warmup_ratio", "max_steps": "training.max_steps", "seed": "training.seed",
    "bf16": "training.precision", "fp16": "training.precision", "logging_steps": "training.log_every_steps",
    "lora_r": "adapter.r", "lora_alpha": "adapter.alpha", "lora_dropout": "adapter.dropout",
    "lora_target_modules": "adapter.target_modules", "target_modules": "adapter.target_modules",
    "adapter": "adapter.type", "base_model": "model.name_or_path", "model_name_or_path": "model.name_or_path",
    "load_in_4bit": "model.load_in_4bit", "load_in_8bit": "model.load_in_8bit",
    "gradient_checkpointing": "model.gradient_checkpointing", "eval_steps": "eval.every_steps",
    "save_steps": "checkpoints.every_steps", "save_total_limit": "checkpoints.keep_best",
    "output_dir": "output.dir", "dataset_path": "data.path", "report_to": "tracking.wandb",
}


def config_keys(model: type[BaseModel] = None, prefix: str = "") -> list[str]:
    """Every leaf key of the config schema as a dotted path (`training.lr`, ...)."""
    model = model or TrainConfig
    keys = []
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            keys += config_keys(field.annotation, f"{prefix}{name}.")
        else:
            keys.append(prefix + name)
    return keys


def suggest_key(path: str) -> str | None:
    """The schema key an unknown dotted `path` most likely meant: another trainer's name for it, or the
    closest spelling (difflib) of the full path or of its last part."""
    known = config_keys()
    leaf = path.rsplit(".", 1)[-1]
    if leaf in ALIASES:
        return ALIASES[leaf]
    close = difflib.get_close_matches(path, known, n=1, cutoff=0.75)
    if close:
        return close[0]
    leaves = {key.rsplit(".", 1)[-1]: key for key in known}
    close = difflib.get_close_matches(leaf, list(leaves), n=1, cutoff=0.75)
    return leaves[close[0]] if close else None


def describe_validation_error(exc: ValidationError) -> str:
    """First error as `key.path: message (got value)`; counts the rest."""
    errors = exc.errors()
    first = errors[0]
    key = ".".join(str(p) for p in first["loc"]) or "<root>"
    if first["type"] == "extra_forbidden":
        suggestion = suggest_key(key)
        message = "unknown key" + (f" (did you mean {suggestion}?)" if suggestion else "")
    else:
        message = first["msg"].removeprefix("Value error, ")
    got = first.get("input")
    shown = f" (got {got!r})" if not isinstance(got, dict) else ""
    more = f"; and {len(errors) - 1} more error(s)" if len(errors) > 1 else ""
    return f"{key}: {message}{shown}{more}"
