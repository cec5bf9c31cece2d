"""Loading what a run produced: a full model folder, or a peft adapter over its base."""
from __future__ import annotations

import json
from pathlib import Path

from domain.errors import EvaluationError
from domain.layout import BASE_MODEL, LABELS, THRESHOLD

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
               adapter: Path | None = None, dtype: str = "float32", base: str | None = None):
    """The model in `folder` in eval mode; an adapter folder is loaded over its base.

    A classifier gets its label names (`labels.json`, else the config's): an adapter's base is
    built with that many outputs, so a 10-label head loads into a 10-label model.

    Args:
        adapter: A peft adapter folder applied on top of the model in `folder` (`--adapter`).
        dtype: `float32` (scoring, parity checks), `auto` (the dtype the weights were saved in)
            or a torch dtype name.
        base: The adapter's base model, overriding the one it recorded (`--base`).
        threads: torch CPU threads to use from now on (None: leave torch's choice). For a
            2-layer model generating on 2 shared cores, one thread measured 8x to 47x faster than two
            (bench/generation_speed.py): per-token work is too small to split.
    """
    import torch

    if threads:
        torch.set_num_threads(threads)
    folder = Path(folder)
    task = task or model_task(folder)
    classify = task == "sequence-classification"
    labels = read_labels(folder) if classify else None
    label_kwargs = ({"num_labels": len(labels), "id2label": dict(enumerate(labels)),
                     "label2id": {name: i for i, name in enumerate(labels)}} if labels else {})
    torch_dtype = dtype if dtype == "auto" else getattr(torch, dtype)
    try:
        if is_adapter(folder):
            from peft import PeftModel

            base_model = _auto_class(classify).from_pretrained(
                resolve_base(folder, base), dtype=torch_dtype, **label_kwargs)
            model = PeftModel.from_pretrained(base_model, str(folder))
        else:
            model = _auto_class(classify).from_pretrained(str(folder), dtype=torch_dtype, **label_kwargs)
    except (OSError, ValueError, RuntimeError) as exc:
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
        try:
            folder = Path(resolve_base(folder))
        except EvaluationError:
            return "float32"
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, json.JSONDecodeError):
        return "float32"  # a hub name or no config: nothing says otherwise
    dtype = config.get("dtype") or config.get("torch_dtype") or "float32"  # transformers 5 / 4 spelling
    return dtype if dtype in ("float32", "bfloat16", "float16") else "float32"


def _auto_class(classify: bool):
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    return AutoModelForSequenceClassification if classify else AutoModelForCausalLM


def read_labels(folder: Path) -> list[str] | None:
    """A classifier's label names in id order: `labels.json` (written by training), else the
    config's id2label; None when neither says."""
    folder = Path(folder)
    if (folder / LABELS).is_file():
        return [str(name) for name in json.loads((folder / LABELS).read_text())]
    config = folder / "config.json"
    id2label = json.loads(config.read_text()).get("id2label") if config.is_file() else None
    return [id2label[k] for k in sorted(id2label, key=int)] if id2label else None


def read_threshold(folder: Path) -> dict | None:
    """A two-class classifier's tuned cut-off (`threshold.json`, written by training with
    `eval.threshold: tune`), or None."""
    path = Path(folder) / THRESHOLD
    if not path.is_file():
        return None
    try:
        tuned = json.loads(path.read_text())
        float(tuned["threshold"])
    except (ValueError, KeyError, TypeError) as error:
        raise EvaluationError(f"{path}: not a threshold record ({error})") from None
    return tuned


def resolve_base(folder: Path, override: str | None = None) -> str:
    """Where an adapter's base model is: `override` (`--base`), else the recorded path relative to
    the adapter folder, else the recorded absolute path (`base_model.json`, written by training),
    else the recorded name as a hub name."""
    folder = Path(folder)
    if override:
        if override.startswith(("/", ".", "~")) and not Path(override).expanduser().is_dir():
            raise EvaluationError(f"--base {override}: no such folder")
        return str(Path(override).expanduser()) if Path(override).expanduser().is_dir() else override
    base = adapter_base(folder)
    if not base:
        raise EvaluationError(f"{folder}: adapter without a recorded base model (base_model_name_or_path); "
                              f"pass --base PATH")
    recorded = json.loads((folder / BASE_MODEL).read_text()) if (folder / BASE_MODEL).is_file() else {}
    for candidate in (folder / base, Path(recorded.get("absolute", "")), Path(base).expanduser()):
        if str(candidate) not in ("", ".") and candidate.is_dir():
            return str(candidate.resolve())
    if recorded or base.startswith(("/", ".", "~")):
        raise EvaluationError(f"{folder}: the adapter's base model {recorded.get('absolute', base)} is not there "
                              f"(pass --base PATH)")
    return base


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
