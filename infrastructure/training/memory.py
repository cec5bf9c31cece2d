"""What the memory preflight measures: the model's sizes (built on torch's `meta` device, so no
weight is allocated), the memory free on the chosen device, and which device that is."""
from __future__ import annotations

import os

from application.train.config import TrainConfig
from application.train.memory import DTYPE_BYTES, ModelShape
from domain.errors import TrainingError


def resolve_device(wanted: str) -> tuple[str, str]:
    """(`cuda` | `mps` | `cpu`, why): `auto` takes CUDA, then Apple MPS, then the CPU."""
    import torch

    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    available = {"cuda": torch.cuda.is_available(), "mps": mps, "cpu": True}
    if wanted != "auto":
        if not available[wanted]:
            raise TrainingError(f"training.device={wanted}: no {wanted.upper()} device on this machine "
                                f"(use training.device=auto or cpu)")
        return wanted, "training.device"
    device = next(name for name in ("cuda", "mps", "cpu") if available[name])
    return device, "auto" if device != "cpu" else "auto: no CUDA or MPS device"


def available_memory(device: str) -> int:
    """Bytes free for one training process on `device` (host RAM split between local ranks on CPU)."""
    import torch

    if device == "cuda":
        free, _ = torch.cuda.mem_get_info()
        return int(free)
    import psutil

    ranks = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ.get("WORLD_SIZE", "1")))
    return int(psutil.virtual_memory().available // max(1, ranks))


class _StandInTokenizer:
    """What a from-scratch model reads of its tokenizer (its size and special ids), from stats.json."""

    def __init__(self, stats: dict):
        self.size = int(stats["vocab_size"])
        self.bos_token_id = self.eos_token_id = stats.get("eos_token_id")
        self.pad_token_id = stats.get("pad_token_id")

    def __len__(self) -> int:
        return self.size


def _meta_model(config: TrainConfig, stats: dict, labels: list[str]):
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification

    from infrastructure.training.models import from_scratch, check_model_path

    m = config.model
    if not m.name_or_path:
        return from_scratch(config, _StandInTokenizer(stats), labels)
    check_model_path(m.name_or_path)  # the same one-line refusals as loading it for real
    try:
        model_config = AutoConfig.from_pretrained(m.name_or_path, trust_remote_code=m.trust_remote_code)
    except (OSError, ValueError) as exc:
        raise TrainingError(f"model.name_or_path {m.name_or_path}: cannot load ({str(exc).splitlines()[0]})") from None
    if m.task == "causal-lm":
        return AutoModelForCausalLM.from_config(model_config, trust_remote_code=m.trust_remote_code)
    model_config.num_labels = len(labels)
    return AutoModelForSequenceClassification.from_config(model_config, trust_remote_code=m.trust_remote_code)


def _weight_bytes(model, config: TrainConfig) -> int:
    """Bytes of the loaded weights: linear layers at 4 or 8 bit when quantised, the rest in model.dtype."""
    import torch

    m = config.model
    base_bytes = DTYPE_BYTES[m.dtype] if m.name_or_path else 4
    quantised = 0.5 if m.load_in_4bit else 1.0 if m.load_in_8bit else None
    total = 0.0
    for name, module in model.named_modules():
        for param in module.parameters(recurse=False):
            linear = isinstance(module, torch.nn.Linear) and "lm_head" not in name and "lora_" not in name
            total += param.numel() * (quantised if quantised and linear else base_bytes)
    return int(total)


def model_shape(config: TrainConfig, stats: dict) -> ModelShape:
    """The sizes of the model `config` trains on a dataset with these stats (and the activations
    of one micro-batch), without allocating it."""
    import torch

    labels = list(stats.get("label_map") or [])
    with torch.device("meta"):
        model = _meta_model(config, stats, labels)
        if config.adapter.type == "lora":
            from infrastructure.training.models import with_lora

            model = with_lora(model, config)
        if config.model.gradient_checkpointing:
            saved = None  # recomputation frees what the meta pass would count: use the formula
        else:
            saved = saved_activation_bytes(model, config, config.training.micro_batch_size, int(stats.get("seq_len") or 1))
    params = list(model.parameters())
    c = model.config
    hidden = getattr(c, "hidden_size", None) or c.n_embd
    trainable_bytes = 4 if config.adapter.type == "lora" or not config.model.name_or_path \
        else DTYPE_BYTES[config.model.dtype]
    return ModelShape(
        parameters=sum(p.numel() for p in params), trainable=sum(p.numel() for p in params if p.requires_grad),
        layers=getattr(c, "num_hidden_layers", None) or c.n_layer, hidden=hidden,
        intermediate=getattr(c, "intermediate_size", None) or getattr(c, "n_inner", None) or 4 * hidden,
        vocab=c.vocab_size if config.model.task == "causal-lm" else 0,
        weight_bytes=_weight_bytes(model, config), trainable_bytes=trainable_bytes, saved_activations=saved)


def probe_memory(config: TrainConfig, stats: dict) -> tuple[ModelShape, str, str, int] | None:
    """The memory preflight's measurements: model sizes, device (and why), bytes free on it.
    None when the model cannot be sized before loading (a from-scratch model on a dataset whose
    stats.json does not record its vocabulary, e.g. one written by hand)."""
    device, why = resolve_device(config.training.device)
    if not config.model.name_or_path and "vocab_size" not in stats:
        return None
    return model_shape(config, stats), device, why, available_memory(device)


def saved_activation_bytes(model, config: TrainConfig, micro_batch: int, seq_len: int) -> int | None:
    """Bytes autograd saves for the backward of one micro-batch, counted by running the forward
    pass and loss on the meta device (shapes only, nothing allocated); None if the pass fails.

    Parameters saved by an op are left out (they are the weights, counted already). Packed rows
    carry per-document position_ids, so transformers builds a document mask from them; on meta
    its packed-sequence detection cannot read values, so it is told the rows are packed.
    """
    import torch
    import torch.nn.functional as F
    from transformers import masking_utils

    params = {id(p) for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(tensor):
        base = tensor._base if tensor._base is not None else tensor
        if id(base) not in params and id(tensor) not in params:
            saved[id(base)] = base.numel() * base.element_size()
        return tensor

    detect = masking_utils.find_packed_sequence_indices
    masking_utils.find_packed_sequence_indices = lambda position_ids: torch.zeros_like(position_ids)
    try:
        ids = torch.zeros((micro_batch, seq_len), dtype=torch.long, device="meta")
        causal = config.model.task == "causal-lm"
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            model.train()
            # Embeddings passed in: some models inspect input_ids' values (a padding warning).
            embeds = model.get_input_embeddings()(ids)
            inputs = {"position_ids": ids, "use_cache": False} if causal else {}
            logits = model(inputs_embeds=embeds, **inputs).logits.float()
            target = ids.reshape(-1) if causal else ids[:, 0]
            F.cross_entropy(logits.view(-1, logits.size(-1)), target, reduction="none").sum()
    except Exception:  # an architecture whose forward needs real values: fall back to the formula
        return None
    finally:
        masking_utils.find_packed_sequence_indices = detect
    return sum(saved.values())
