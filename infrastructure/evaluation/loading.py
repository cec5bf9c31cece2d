"""Loading what a run produced: a full model folder, or a peft adapter over its base."""
from __future__ import annotations

import json
from pathlib import Path

from domain.errors import EvaluationError

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "tokenizer.model")


def is_adapter(folder: Path) -> bool:
    """True for an adapter-only folder (peft's `adapter_config.json`, no full weights)."""
    return (Path(folder) / "adapter_config.json").is_file()


def model_task(folder: Path) -> str:
    """`causal-lm` or `sequence-classification`, read from the folder's configs."""
    folder = Path(folder)
    if is_adapter(folder):
        task = json.loads((folder / "adapter_config.json").read_text()).get("task_type")
        return "sequence-classification" if task == "SEQ_CLS" else "causal-lm"
    config = folder / "config.json"
    if not config.is_file():
        raise EvaluationError(f"{folder}: no config.json or adapter_config.json; not a model folder")
    architectures = json.loads(config.read_text()).get("architectures") or [""]
    return "sequence-classification" if architectures[0].endswith("ForSequenceClassification") else "causal-lm"


def load_model(folder: Path, task: str | None = None, threads: int | None = None,
               adapter: Path | None = None, dtype: str = "float32"):
    """The model in `folder` in eval mode; an adapter folder is loaded over its base.

    Args:
        adapter: A peft adapter folder applied on top of the model in `folder` (`--adapter`).
        dtype: `float32` (scoring, parity checks), `auto` (the dtype the weights were saved in)
            or a torch dtype name.
        threads: torch CPU threads to use from now on (None: leave torch's choice). For a
            2-layer model generating on 2 shared cores, one thread measured 8x to 47x faster than two
            (bench/generation_speed.py): per-token work is too small to split.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    if threads:
        torch.set_num_threads(threads)
    folder = Path(folder)
    task = task or model_task(folder)
    classify = task == "sequence-classification"
    if is_adapter(folder):
        base = adapter_base(folder)
        if not base:
            raise EvaluationError(f"{folder}: adapter without a recorded base model (base_model_name_or_path); "
                                  f"export or evaluate needs the base it was trained on")
        if base.startswith(("/", ".", "~")) and not Path(base).expanduser().is_dir():
            raise EvaluationError(f"{folder}: the adapter's base model {base} is not there any more")
    try:
        if is_adapter(folder):
            from peft import AutoPeftModelForCausalLM, AutoPeftModelForSequenceClassification

            cls = AutoPeftModelForSequenceClassification if classify else AutoPeftModelForCausalLM
        else:
            cls = AutoModelForSequenceClassification if classify else AutoModelForCausalLM
        model = cls.from_pretrained(str(folder), dtype=dtype if dtype == "auto" else getattr(torch, dtype))
    except (OSError, ValueError) as exc:
        raise EvaluationError(f"{folder}: cannot load the model ({str(exc).splitlines()[0]})") from None
    if adapter is not None:
        model = apply_adapter(model, Path(adapter))
    return model.eval()


def apply_adapter(model, adapter: Path):
    """`model` with the peft adapter in `adapter` loaded on top (not merged)."""
    from peft import PeftModel

    if not is_adapter(adapter):
        raise EvaluationError(f"--adapter {adapter}: no adapter_config.json; not a peft adapter folder")
    try:
        return PeftModel.from_pretrained(model, str(adapter))
    except (OSError, ValueError, RuntimeError) as exc:
        raise EvaluationError(f"--adapter {adapter}: does not fit this model ({str(exc).splitlines()[0]})") from None


def saved_dtype(folder: Path) -> str:
    """The dtype a model folder's weights were saved in (an adapter: its base's), per its config."""
    folder = Path(folder)
    if is_adapter(folder):
        base = adapter_base(folder)
        folder = Path(base).expanduser() if base else folder
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, json.JSONDecodeError):
        return "float32"  # a hub name or no config: nothing says otherwise
    dtype = config.get("dtype") or config.get("torch_dtype") or "float32"  # transformers 5 / 4 spelling
    return dtype if dtype in ("float32", "bfloat16", "float16") else "float32"


def load_tokenizer(*candidates: Path | None):
    """The first of `candidates` (model folder, dataset tokenizer/, base model) holding a tokenizer."""
    from transformers import AutoTokenizer

    for folder in candidates:
        if folder is not None and any((Path(folder) / name).is_file() for name in TOKENIZER_FILES):
            tokenizer = AutoTokenizer.from_pretrained(str(folder))
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token
            return tokenizer
    raise EvaluationError(f"no tokenizer in {', '.join(str(c) for c in candidates if c)}")


def adapter_base(folder: Path) -> str | None:
    """The base model an adapter folder was trained on, as recorded by peft."""
    return json.loads((Path(folder) / "adapter_config.json").read_text()).get("base_model_name_or_path")
