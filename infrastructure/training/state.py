"""What a checkpoint holds besides the weights, and putting it all back.

Weights go through `save_pretrained` (adapter-only for peft, full otherwise) with the state dict
gathered by accelerate's `get_state_dict` (complete under FSDP / ZeRO-3, where a rank's own
`state_dict()` holds only its shard), plus the tokenizer and its chat template, so a checkpoint
is itself loadable by transformers / peft. Everything else (optimizer, scheduler, RNG, data
position...) is `trainer_state.json` with its tensors in `trainer_state.safetensors`: loading a
checkpoint never unpickles anything (no `torch.load(weights_only=False)`).
"""
from __future__ import annotations

import random
from pathlib import Path

from domain.errors import TrainingError

TRAINER_STATE = "trainer_state.json"  # structure and scalars; tensors by name in TRAINER_TENSORS
TRAINER_TENSORS = "trainer_state.safetensors"
ACCELERATE_STATE = "accelerate_state"  # FSDP / DeepSpeed: accelerate's save_state folder (sharded optimizer)


def rng_states() -> dict:
    import numpy as np
    import torch

    states = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng(states: dict) -> None:
    import numpy as np
    import torch

    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def encode_state(value, tensors: dict, path: str = "s"):
    """`value` as JSON-able data; tensors and numpy arrays move to `tensors` under a path name.

    Tuples and dicts with non-string keys (optimizer state is keyed by parameter index) are
    tagged so `decode_state` gives back exactly what was saved.
    """
    import numpy as np
    import torch

    if isinstance(value, torch.Tensor):
        tensors[path] = value.detach().cpu().contiguous()
        return {"__tensor__": path}
    if isinstance(value, np.ndarray):
        tensors[path] = torch.from_numpy(np.ascontiguousarray(value))
        return {"__ndarray__": path}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {"__dict__": {k: encode_state(v, tensors, f"{path}.{k}") for k, v in value.items()}}
        return {"__items__": [[k, encode_state(v, tensors, f"{path}.{k}")] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        items = [encode_state(v, tensors, f"{path}.{i}") for i, v in enumerate(value)]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"trainer state at {path}: cannot store a {type(value).__name__}")


def decode_state(data, tensors: dict):
    if isinstance(data, list):
        return [decode_state(v, tensors) for v in data]
    if not isinstance(data, dict):
        return data
    if "__tensor__" in data:
        return tensors[data["__tensor__"]]
    if "__ndarray__" in data:
        return tensors[data["__ndarray__"]].numpy()
    if "__tuple__" in data:
        return tuple(decode_state(v, tensors) for v in data["__tuple__"])
    if "__items__" in data:
        return {k: decode_state(v, tensors) for k, v in data["__items__"]}
    return {k: decode_state(v, tensors) for k, v in data["__dict__"].items()}


def write_checkpoint(folder: Path, model, state_dict: dict, tokenizer, trainer_state: dict,
                     accelerate_state: Path | None = None) -> None:
    """Weights (`state_dict`, gathered on every rank by the caller), tokenizer, and the rest of the
    training state as JSON + safetensors.

    Args:
        accelerate_state: Under FSDP / DeepSpeed, the folder every rank wrote with
            `accelerator.save_state` (the optimizer state in full); moved in as ACCELERATE_STATE.
    """
    import json
    import shutil

    from safetensors.torch import save

    from infrastructure.data.tokenization import save_tokenizer

    if accelerate_state is not None:
        shutil.move(str(accelerate_state), str(folder / ACCELERATE_STATE))
        # accelerate pickles its RNG states (numpy's included); ours are in TRAINER_TENSORS, and
        # load_state goes on without them, so the checkpoint keeps nothing that must be unpickled.
        for pickled in (folder / ACCELERATE_STATE).glob("random_states_*.pkl"):
            pickled.unlink()
    model.save_pretrained(str(folder), state_dict=state_dict)
    save_tokenizer(tokenizer, folder)
    tensors: dict = {}
    encoded = encode_state({**trainer_state, "rng": rng_states()}, tensors)
    # Bytes through a Python file: a full disk then surfaces as the OSError it is (ENOSPC).
    (folder / TRAINER_TENSORS).write_bytes(save(tensors))
    (folder / TRAINER_STATE).write_text(json.dumps(encoded))


def read_trainer_state(folder: Path) -> dict:
    import json

    from safetensors.torch import load_file

    if not (folder / TRAINER_STATE).is_file():
        raise TrainingError(f"checkpoint {folder}: no {TRAINER_STATE} (written by an older codetrain, which "
                            f"pickled its state; resume from a newer checkpoint or start again)")
    tensors = load_file(str(folder / TRAINER_TENSORS))
    return decode_state(json.loads((folder / TRAINER_STATE).read_text()), tensors)


def load_optimizer(accelerator, optimizer, state: dict, folder: Path, sharded: bool) -> None:
    """The optimizer state of a checkpoint: rank 0's own (single process, DDP) or accelerate's
    `load_state` (FSDP / DeepSpeed, every rank taking its shard). A checkpoint of the other kind
    is refused: a full state does not fit sharded optimizers, nor the reverse."""
    saved_sharded = (folder / ACCELERATE_STATE).is_dir()
    if saved_sharded != sharded:
        kinds = ("single-process / DDP", "FSDP / DeepSpeed")
        raise TrainingError(f"checkpoint {folder} was saved by a {kinds[saved_sharded]} run; this run is "
                            f"{kinds[sharded]}: resume it the way it was launched")
    if sharded:
        accelerator.load_state(str(folder / ACCELERATE_STATE))
    else:
        optimizer.load_state_dict(state["optimizer"])


def load_weights(model, folder: Path) -> None:
    """Put a checkpoint's weights into `model` (the unwrapped one), exactly."""
    from safetensors.torch import load_file

    if hasattr(model, "peft_config"):
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(model, load_file(str(folder / "adapter_model.safetensors")))
        return
    state: dict = {}
    for path in sorted(p for p in folder.glob("*.safetensors") if p.name != TRAINER_TENSORS):
        state.update(load_file(str(path)))
    result = model.load_state_dict(state, strict=False)
    tied = set(getattr(model, "_tied_weights_keys", None) or [])
    missing = [k for k in result.missing_keys if k not in tied and not k.endswith("lm_head.weight")]
    if missing or result.unexpected_keys:
        raise TrainingError(f"checkpoint {folder}: weights do not fit this model "
                            f"(missing {missing[:3]}, unexpected {result.unexpected_keys[:3]})")
