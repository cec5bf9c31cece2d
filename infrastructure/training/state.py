"""What a checkpoint holds besides the weights, and putting it all back.

Weights go through `save_pretrained` (adapter-only for peft, full otherwise) so a checkpoint is
itself loadable by transformers / peft; everything else is one `trainer_state.pt`.
"""
from __future__ import annotations

import random
from pathlib import Path

from domain.errors import TrainingError

TRAINER_STATE = "trainer_state.pt"


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


def write_checkpoint(folder: Path, model, trainer_state: dict) -> None:
    """Weights via save_pretrained, the rest (optimizer, scheduler, RNG, data position...) in one file."""
    import torch

    model.save_pretrained(str(folder))
    # Through a Python file: a full disk then surfaces as the OSError it is (ENOSPC) behind
    # torch's own error, which on a path says only "enforce fail ... unexpected pos".
    with open(folder / TRAINER_STATE, "wb") as handle:
        torch.save({**trainer_state, "rng": rng_states()}, handle)


def read_trainer_state(folder: Path) -> dict:
    import torch

    # Our own file (it carries numpy/python RNG tuples), so the full unpickler is needed.
    return torch.load(folder / TRAINER_STATE, weights_only=False)


def load_weights(model, folder: Path) -> None:
    """Put a checkpoint's weights into `model` (the unwrapped one), exactly."""
    from safetensors.torch import load_file

    if hasattr(model, "peft_config"):
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(model, load_file(str(folder / "adapter_model.safetensors")))
        return
    state: dict = {}
    for path in sorted(folder.glob("*.safetensors")):
        state.update(load_file(str(path)))
    result = model.load_state_dict(state, strict=False)
    tied = set(getattr(model, "_tied_weights_keys", None) or [])
    missing = [k for k in result.missing_keys if k not in tied and not k.endswith("lm_head.weight")]
    if missing or result.unexpected_keys:
        raise TrainingError(f"checkpoint {folder}: weights do not fit this model "
                            f"(missing {missing[:3]}, unexpected {result.unexpected_keys[:3]})")
