"""The memory preflight: what a training run will need, checked against what the machine has
before any data is loaded, so a hopeless batch size is refused in one line instead of OOM-killed.

The estimate is the peak resident memory of one training process above what it already holds:
weights + gradients + optimizer state + the activations kept for the backward pass. Activations
are the bytes autograd saves in a forward pass run on the meta device (no memory allocated),
or, when that pass cannot run, a per-token formula (bench/memory.py checks the total against
the measured peak RSS of real runs).
"""
from __future__ import annotations

from dataclasses import dataclass

from domain.errors import TrainingError

GB = 1024 ** 3
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


@dataclass(frozen=True)
class ModelShape:
    """The sizes of the model to train, read without building it (infrastructure/training/memory.py)."""

    parameters: int
    """All parameters, adapter included."""
    trainable: int
    """Parameters the optimizer updates (the adapter's alone under LoRA)."""
    layers: int
    hidden: int
    intermediate: int
    """MLP inner width."""
    vocab: int
    weight_bytes: int
    """Bytes of every weight as loaded (dtype, 4/8-bit quantisation)."""
    trainable_bytes: int = 4
    """Bytes per trainable parameter (their gradients and AdamW moments share this dtype)."""
    saved_activations: int | None = None
    """Bytes autograd saves in one forward pass of the configured micro-batch, counted on the
    meta device; None when that pass could not run (the per-token formula is used instead)."""


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a training process needs beyond what it holds at the preflight."""

    weights: int
    gradients: int
    optimizer: int
    activations: int

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer + self.activations

    def describe(self) -> str:
        unit, size = ("GB", GB) if self.total >= GB else ("MB", 1024 ** 2)
        parts = ", ".join(f"{name} {getattr(self, name) / size:.2f}"
                          for name in ("weights", "gradients", "optimizer", "activations"))
        return f"{self.total / size:.2f} {unit} ({parts})"


# Values autograd keeps per token and layer, in units of the hidden size: the block input,
# two layer norms, q, k, v, the attention output and its projection, the residuals (~12 h),
# plus the MLP's inner activations (up, activation, gate: ~2.5 x the inner width). Attention runs
# through SDPA, which keeps no seq x seq matrix.
LAYER_HIDDEN_VALUES = 12
LAYER_INTERMEDIATE_VALUES = 2.5
# Per token at the head: logits, their log-softmax and the logits' gradient (fp32 in the loss).
LOGIT_COPIES = 3


def activation_bytes(shape: ModelShape, micro_batch: int, seq_len: int, compute_bytes: int,
                     gradient_checkpointing: bool) -> int:
    """Activations saved for the backward pass of one micro-batch."""
    tokens = micro_batch * seq_len
    per_layer = LAYER_HIDDEN_VALUES * shape.hidden + LAYER_INTERMEDIATE_VALUES * shape.intermediate
    if gradient_checkpointing:  # only each block's input is kept; one block is recomputed at a time
        layers = shape.layers * shape.hidden + per_layer
    else:
        layers = shape.layers * per_layer
    return int(tokens * (layers * compute_bytes + LOGIT_COPIES * shape.vocab * 4))


# The backward pass holds the gradients of the activations it is working through on top of the
# saved ones, and the allocator keeps freed blocks resident: measured peaks (bench/memory.py)
# are about 1.3x the saved bytes.
BACKWARD_HEADROOM = 1.3
# Under bf16 autocast the matmul outputs (about 60% of the saved bytes) are kept in 2 bytes while
# norms, softmax and the loss stay fp32: 1 - 0.6 / 2 = 0.7 of the fp32 count.
BF16_SHARE = 0.7


def estimate_memory(shape: ModelShape, *, micro_batch: int, seq_len: int, precision: str,
                    gradient_checkpointing: bool = False) -> MemoryEstimate:
    """Weights + gradients + AdamW (two moments per trainable parameter) + activations."""
    compute_bytes = 2 if precision in ("bf16", "fp16") else 4
    trainable = shape.trainable * shape.trainable_bytes
    if shape.saved_activations is not None:  # counted in fp32 (autocast does not act on meta tensors)
        activations = int(shape.saved_activations * BACKWARD_HEADROOM * (BF16_SHARE if compute_bytes == 2 else 1))
    else:
        activations = activation_bytes(shape, micro_batch, seq_len, compute_bytes, gradient_checkpointing)
    return MemoryEstimate(weights=shape.weight_bytes, gradients=trainable, optimizer=2 * trainable,
                          activations=activations)


def check_memory(estimate: MemoryEstimate, available: int, device: str, limit_gb: float | None) -> None:
    """Refuse a run whose estimate exceeds the available memory (or `training.memory_limit_gb`)."""
    budget, where = available, f"available on {device}"
    if limit_gb is not None and limit_gb * GB < available:
        budget, where = int(limit_gb * GB), f"allowed by training.memory_limit_gb={limit_gb:g}"
    if estimate.total > budget:
        raise TrainingError(
            f"not enough memory: this training needs about {estimate.describe()} but {budget / GB:.2f} GB "
            f"is {where}; lower training.micro_batch_size or the dataset's seq_len, use adapter.type=lora, "
            f"model.gradient_checkpointing=true or training.precision=bf16")
