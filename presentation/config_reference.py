"""`python main.py config`: the training config's reference, generated from the typed models,
and a check of a config file without training."""
from __future__ import annotations

import json

from pydantic import BaseModel


def _type_name(field) -> str:
    text = str(field.annotation).replace("typing.", "")
    return text.removeprefix("<class '").removesuffix("'>")


def reference_rows(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(key, type, default, description) for every leaf field, depth first."""
    rows = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows.extend(reference_rows(annotation, f"{prefix}{name}."))
            continue
        default = field.get_default(call_default_factory=True)
        rows.append((f"{prefix}{name}", _type_name(field), json.dumps(default, default=str), field.description or ""))
    return rows


def reference_markdown(model: type[BaseModel]) -> str:
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for key, kind, default, meaning in reference_rows(model):
        cells = (f"`{key}`", f"`{kind}`", f"`{default}`", " ".join(meaning.split()))  # docstrings wrap
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)
