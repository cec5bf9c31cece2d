"""Building or loading the model to train: tokenizer check, quantisation, LoRA."""
from __future__ import annotations

import json
from pathlib import Path

from application.train.config import TrainConfig
from domain.errors import TrainingError
from domain.layout import BASE_MODEL, LABELS, THRESHOLD, TOKENIZER

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "tokenizer.model")


def model_folder(name_or_path: str | None) -> Path | None:
    """The folder holding a model's config and tokenizer: a local folder, or a hub name's snapshot
    in the Hugging Face cache (offline: only if already there; online: config and tokenizer files
    are fetched, not the weights). None when there is no model or it cannot be had."""
    if not name_or_path:
        return None
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    from huggingface_hub import snapshot_download

    for local_only in (True, False):
        try:
            return Path(snapshot_download(name_or_path, local_files_only=local_only,
                                          allow_patterns=None if local_only else ["*.json", "*.model", "*.txt"]))
        except Exception:  # not cached / offline / no such repository: loading the model will say so
            continue
    return None


def check_model_path(name_or_path: str | None) -> None:
    """A local path given as the model must be a model folder: one with a config.json (e.g. not
    /etc, not a dataset, not a single weights file)."""
    path = Path(name_or_path).expanduser() if name_or_path else None
    if path is None or not path.exists():
        return  # empty: from scratch; otherwise a hub name, or missing (loading says so)
    if not (path / "config.json").is_file():
        what = "the folder holds no config.json" if path.is_dir() else "a file"
        raise TrainingError(f"model.name_or_path {name_or_path}: {what}, not a model folder "
                            f"(give a folder written by save_pretrained, or a hub name)")


def _embedding_rows(folder: Path) -> int | None:
    config = folder / "config.json"
    if not config.is_file():
        return None
    raw = json.loads(config.read_text())
    return raw.get("vocab_size") or (raw.get("text_config") or {}).get("vocab_size")


def check_vocabulary(name: str, folder: Path, tokenizer) -> None:
    """Refuse a dataset whose token ids do not mean to the model what they meant to the dataset.

    The dataset's tokenizer must be the model's own, or the model's own plus tokens added after
    it (ChatML or FIM tokens: embeddings are then resized). A model without a tokenizer must have
    as many embedding rows as the dataset's tokenizer has tokens."""
    from transformers import AutoTokenizer

    fix = f"rebuild it with `python main.py dataset --tokenizer {name}`"
    if any((folder / f).exists() for f in TOKENIZER_FILES):
        own, vocab = AutoTokenizer.from_pretrained(str(folder)).get_vocab(), tokenizer.get_vocab()
        end = max(own.values()) + 1
        if any(vocab.get(t) != i for t, i in own.items()) or any(i < end for t, i in vocab.items() if t not in own):
            raise TrainingError(f"model.name_or_path {name} has its own tokenizer (vocab {len(own)}) but the dataset "
                                f"was tokenized with another (vocab {len(tokenizer)}): {fix}")
        return
    rows = _embedding_rows(folder)
    if rows is not None and rows != len(tokenizer):
        raise TrainingError(f"model.name_or_path {name} has vocab_size {rows} (embedding rows) and no tokenizer, "
                            f"but the dataset's tokenizer has {len(tokenizer)} tokens: its ids would mean nothing "
                            f"to the model; {fix}")


def load_dataset_tokenizer(config: TrainConfig, dataset_dir: Path):
    """The tokenizer the dataset was built with, checked against the model (local folder or hub name).

    A pretrained model's embeddings only mean something for its own token ids, so a dataset
    tokenized by another tokenizer would train silently on garbage.
    """
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(dataset_dir / TOKENIZER))
    check_model_path(config.model.name_or_path)
    folder = model_folder(config.model.name_or_path)
    if folder is not None:
        check_vocabulary(config.model.name_or_path, folder, tokenizer)
    return tokenizer


def _quantization(config: TrainConfig):
    m = config.model
    if not (m.load_in_4bit or m.load_in_8bit):
        return None
    import torch
    from transformers import BitsAndBytesConfig

    # A fresh classification head must stay in full precision: quantising random weights
    # leaves nothing to train.
    skip = ["classifier", "score"] if m.task == "sequence-classification" else None
    if m.load_in_8bit:
        return BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=skip)
    return BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type=m.bnb_4bit_quant_type,
        bnb_4bit_use_double_quant=m.bnb_4bit_use_double_quant,
        bnb_4bit_compute_dtype=torch.bfloat16 if m.dtype == "bfloat16" else torch.float32,
        llm_int8_skip_modules=skip,
    )


def from_scratch(config: TrainConfig, tokenizer, labels: list[str]):
    from transformers import (GPT2Config, GPT2ForSequenceClassification, GPT2LMHeadModel, LlamaConfig,
                              LlamaForCausalLM, LlamaForSequenceClassification)

    arch = config.model.architecture
    common = dict(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                  eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    if labels:
        common.update(num_labels=len(labels), id2label=dict(enumerate(labels)),
                      label2id={name: i for i, name in enumerate(labels)})
    classify = config.model.task == "sequence-classification"
    if arch.type == "gpt2":
        cfg = GPT2Config(n_layer=arch.n_layer, n_embd=arch.n_embd, n_head=arch.n_head,
                         n_positions=arch.max_position_embeddings, resid_pdrop=arch.dropout,
                         embd_pdrop=arch.dropout, attn_pdrop=arch.dropout, **common)
        return GPT2ForSequenceClassification(cfg) if classify else GPT2LMHeadModel(cfg)
    cfg = LlamaConfig(num_hidden_layers=arch.n_layer, hidden_size=arch.n_embd, num_attention_heads=arch.n_head,
                      intermediate_size=arch.n_embd * 4, max_position_embeddings=arch.max_position_embeddings,
                      attention_dropout=arch.dropout, **common)
    return LlamaForSequenceClassification(cfg) if classify else LlamaForCausalLM(cfg)


def _pretrained(config: TrainConfig, labels: list[str]):
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    m = config.model
    quant = _quantization(config)
    kwargs = dict(trust_remote_code=m.trust_remote_code, dtype=getattr(torch, m.dtype))
    if quant is not None:
        kwargs.update(quantization_config=quant, device_map={"": 0} if torch.cuda.is_available() else "cpu")
    if m.task == "causal-lm":
        return AutoModelForCausalLM.from_pretrained(m.name_or_path, **kwargs)
    return AutoModelForSequenceClassification.from_pretrained(
        m.name_or_path, num_labels=len(labels), id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)}, **kwargs)


def _keep_4bit_layout_trainable(model) -> None:
    """Stop bitsandbytes from repacking 4-bit weights for CPU inference.

    On a CPU with AVX512-BF16, bitsandbytes 0.50 rewrites a Linear4bit's weights, in place and for
    good, into an inference-only layout the first time it runs in eval mode without gradients
    (our evaluation before training). Training then goes through that layout's kernel, which adds
    the bias in place (`result += bias`): every biased layer (GPT-2's Conv1D, Qwen2's q/k/v) fails
    with "a view of a leaf Variable that requires grad is being used in an in-place operation",
    and gradients no longer flow through the layer to the LoRA weights below it.
    """
    import bitsandbytes as bnb

    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            module.support_avx512bf16_for_cpu = False


def build_model(config: TrainConfig, tokenizer, labels: list[str]):
    """The model to train: pretrained or from scratch, optionally quantised, optionally LoRA-wrapped."""
    m, a = config.model, config.adapter
    try:
        model = _pretrained(config, labels) if m.name_or_path else from_scratch(config, tokenizer, labels)
    except (OSError, ValueError) as exc:  # ValueError: a config.json transformers cannot read
        if not m.name_or_path:
            raise
        raise TrainingError(f"model.name_or_path {m.name_or_path}: cannot load ({str(exc).splitlines()[0]})") from None
    if getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = tokenizer.pad_token_id  # classification heads find the last token by it
    if m.name_or_path and len(tokenizer) > model.get_input_embeddings().num_embeddings:
        model.resize_token_embeddings(len(tokenizer))  # tokens the dataset added (check_vocabulary allowed them)
    if m.load_in_4bit or m.load_in_8bit:
        from peft import prepare_model_for_kbit_training

        _keep_4bit_layout_trainable(model)
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=m.gradient_checkpointing)
    elif m.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        if a.type == "lora":
            model.enable_input_require_grads()  # frozen embeddings: checkpointed blocks still need grads
    if a.type == "lora":
        model = with_lora(model, config)
    return model


def with_lora(model, config: TrainConfig):
    from peft import LoraConfig, TaskType, get_peft_model
    from peft.utils.error import NoMatchingPeftModuleError

    a = config.adapter
    task = TaskType.CAUSAL_LM if config.model.task == "causal-lm" else TaskType.SEQ_CLS
    try:
        return get_peft_model(model, LoraConfig(r=a.r, lora_alpha=a.alpha, lora_dropout=a.dropout,
                                                target_modules=a.target_modules, task_type=task))
    except NoMatchingPeftModuleError:
        raise TrainingError(f"adapter.target_modules {a.target_modules} match no module of the model; "
                            f"its adaptable modules include {', '.join(adaptable_modules(model)[:8])}") from None


def adaptable_modules(model) -> list[str]:
    """Distinct names (last part) of the layers LoRA can adapt (linear, embedding, convolution),
    in model order: what `adapter.target_modules` may name."""
    import torch
    from transformers.pytorch_utils import Conv1D

    kinds = (torch.nn.Linear, torch.nn.Embedding, torch.nn.Conv1d, torch.nn.Conv2d, Conv1D)
    names = [name.rsplit(".", 1)[-1] for name, module in model.named_modules() if isinstance(module, kinds)]
    return list(dict.fromkeys(names))


def save_final(model, tokenizer, folder: Path, merge: bool, labels: list[str], threshold: dict | None = None) -> None:
    """`final/`: adapter-only (peft) or merged/full weights, plus the tokenizer.

    An adapter-only folder has no model config, so a classifier's label names also go to
    `labels.json` (index = class id) for whoever loads it with peft; a tuned two-class cut-off
    goes to `threshold.json`.
    """
    import json

    if merge and hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    from infrastructure.data.tokenization import save_tokenizer

    model.save_pretrained(str(folder))
    save_tokenizer(tokenizer, folder)
    if labels:
        (folder / LABELS).write_text(json.dumps(labels))
    if threshold:
        (folder / THRESHOLD).write_text(json.dumps(threshold, indent=2))
    record_base_portably(folder)


def record_base_portably(folder: Path) -> None:
    """peft records the base model as given, often an absolute path that breaks once the run is
    moved or copied to another machine. A local base is recorded relative to the adapter folder
    (peft's field, so run and base can move together) and, in `base_model.json`, also absolutely
    (so the run alone can move on the same machine); a hub name stays as it is."""
    import json
    import os

    config_file = Path(folder) / "adapter_config.json"
    if not config_file.is_file():
        return
    config = json.loads(config_file.read_text())
    base = config.get("base_model_name_or_path")
    if base and Path(base).expanduser().is_dir():
        absolute = Path(base).expanduser().resolve()
        config["base_model_name_or_path"] = os.path.relpath(absolute, Path(folder).resolve())
        config_file.write_text(json.dumps(config, indent=2))
        (Path(folder) / BASE_MODEL).write_text(json.dumps(
            {"relative": config["base_model_name_or_path"], "absolute": str(absolute)}))
