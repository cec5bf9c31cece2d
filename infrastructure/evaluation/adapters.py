"""One base model in memory serving several projects' LoRA adapters (peft multi-adapter): each
adapter is loaded once beside the others, and switching between projects is `set_adapter`,
with no reload of the base."""
from __future__ import annotations

from pathlib import Path


class SharedBase:
    """A base model with any number of named adapters on it; `use(name, folder)` makes one active."""

    def __init__(self, base_folder: Path, threads: int | None = None):
        from infrastructure.evaluation.loading import load_model

        self.base = load_model(Path(base_folder), "causal-lm", threads)
        self.model = None  # the PeftModel wrapping `base`, once the first adapter is loaded

    def use(self, name: str, adapter_folder: Path):
        """The model with `name`'s adapter active, loading it on first use."""
        from peft import PeftModel

        from domain.errors import EvaluationError

        try:
            if self.model is None:
                self.model = PeftModel.from_pretrained(self.base, str(adapter_folder), adapter_name=name)
            elif name not in self.model.peft_config:
                self.model.load_adapter(str(adapter_folder), adapter_name=name)
        except (OSError, ValueError, RuntimeError) as exc:
            raise EvaluationError(f"adapter {adapter_folder}: cannot load it on this base "
                                  f"({str(exc).splitlines()[0]})") from None
        self.model.set_adapter(name)
        return self.model.eval()

    @property
    def adapters(self) -> list[str]:
        return list(self.model.peft_config) if self.model is not None else []
