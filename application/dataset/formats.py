"""Rows a user brings (JSONL, CSV, Parquet, a saved or hub dataset): which format they are in, and
checking each row once, with its `FILE:LINE` in the error.

Formats are told apart by their columns (renamed first with `--column ROLE=NAME`):

- `text`: plain language-model text;
- `prompt` + `completion`: a completion to learn after a prompt (strings, or lists of messages);
- `messages`: a conversation, a list of `{role, content}` with roles system/user/assistant
  (ShareGPT's `{from, value}` with human/gpt is read too);
- `instruction` (+ optional `input`) + `output`: Alpaca.

A checked row is a *record*: `{"format": ..., ...}` with `text`, or `prompt`/`completion`
strings, or `messages` (each `{"role", "content"}`).
"""
from __future__ import annotations

from typing import Sequence

from domain.errors import DatasetError

FORMATS = ("text", "prompt_completion", "messages", "alpaca")
COLUMN_ROLES = ("text", "prompt", "completion", "messages", "instruction", "input", "output", "system")
ROLES = ("system", "user", "assistant")
SHAREGPT_ROLES = {"human": "user", "gpt": "assistant", "system": "system", "user": "user",
                  "assistant": "assistant"}


def column_map(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Role -> column name: the defaults (each role's own name) with `--column ROLE=NAME` applied."""
    mapping = {role: role for role in COLUMN_ROLES}
    for role, name in pairs:
        if role not in COLUMN_ROLES:
            raise DatasetError(f"--column {role}={name}: unknown role {role!r} (choose from {', '.join(COLUMN_ROLES)})")
        mapping[role] = name
    return mapping


def parse_column(text: str) -> tuple[str, str]:
    """`"prompt=question"` -> ("prompt", "question")."""
    role, sep, name = text.partition("=")
    if not sep or not role.strip() or not name.strip():
        raise DatasetError(f"--column {text}: expected ROLE=NAME, e.g. prompt=question")
    return role.strip(), name.strip()


def detect_format(columns: Sequence[str], mapping: dict[str, str], where: str) -> str:
    """The format a source's columns hold, most specific first."""
    have = set(columns)
    if mapping["messages"] in have:
        return "messages"
    if mapping["prompt"] in have and mapping["completion"] in have:
        return "prompt_completion"
    if mapping["instruction"] in have and mapping["output"] in have:
        return "alpaca"
    if mapping["text"] in have:
        return "text"
    if mapping["prompt"] in have:
        raise DatasetError(f"{where}: {mapping['prompt']!r} without {mapping['completion']!r} "
                           f"(a row missing its completion, or map yours with --column completion=NAME)")
    raise DatasetError(
        f"{where}: no column to read (have {', '.join(sorted(have)) or 'none'}; need text, prompt+completion, "
        f"messages or instruction+output; map other names with --column ROLE=NAME)")


def _string(row: dict, column: str, where: str, required: bool = True) -> str:
    value = row.get(column)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise DatasetError(f"{where}: missing or empty {column!r}")
        return ""
    if not isinstance(value, str):
        raise DatasetError(f"{where}: {column!r} must be a string (got {type(value).__name__})")
    return value


def check_messages(value, where: str) -> list[dict]:
    """`[{role, content}, ...]` checked: known roles, string contents, at least one assistant turn."""
    if not isinstance(value, (list, tuple)):
        raise DatasetError(f"{where}: messages must be a list of {{role, content}} (got {type(value).__name__})")
    if not value:
        raise DatasetError(f"{where}: empty conversation (no messages)")
    messages = []
    for number, message in enumerate(value, 1):
        if not isinstance(message, dict):
            raise DatasetError(f"{where}: message {number} is not an object with role and content")
        role = message.get("role", message.get("from"))
        content = message.get("content", message.get("value"))
        if role not in SHAREGPT_ROLES:
            raise DatasetError(f"{where}: message {number} has unknown role {role!r} (use {', '.join(ROLES)})")
        if not isinstance(content, str):
            raise DatasetError(f"{where}: message {number} ({role}) has no text content")
        messages.append({"role": SHAREGPT_ROLES[role], "content": content})
    if not any(m["role"] == "assistant" for m in messages):
        raise DatasetError(f"{where}: no assistant message (nothing to learn from this conversation)")
    return messages


def to_record(row: dict, fmt: str, mapping: dict[str, str], where: str) -> dict:
    """One row of format `fmt` checked and normalised; a bad row raises naming `where`."""
    if fmt == "text":
        return {"format": fmt, "text": _string(row, mapping["text"], where)}
    if fmt == "messages":
        return {"format": fmt, "messages": check_messages(row.get(mapping["messages"]), where)}
    if fmt == "alpaca":
        record = {"format": fmt, "instruction": _string(row, mapping["instruction"], where),
                  "input": _string(row, mapping["input"], where, required=False),
                  "output": _string(row, mapping["output"], where)}
        system = _string(row, mapping["system"], where, required=False)
        return {**record, "system": system} if system else record
    prompt, completion = row.get(mapping["prompt"]), row.get(mapping["completion"])
    if isinstance(prompt, list) or isinstance(completion, list):  # conversational prompt/completion
        if not isinstance(completion, list) or not completion:
            raise DatasetError(f"{where}: missing or empty {mapping['completion']!r}")
        return {"format": "messages", "messages": check_messages(list(prompt or []) + list(completion), where)}
    return {"format": fmt, "prompt": _string(row, mapping["prompt"], where),
            "completion": _string(row, mapping["completion"], where)}


def record_text(record: dict) -> str:
    """All the text of a record, for deduplication, decontamination and the generation task."""
    fmt = record["format"]
    if fmt == "text":
        return record["text"]
    if fmt == "prompt_completion":
        return record["prompt"] + record["completion"]
    if fmt == "alpaca":
        return "\n\n".join(p for p in (record.get("system"), record["instruction"], record["input"],
                                       record["output"]) if p)
    return "\n\n".join(m["content"] for m in record["messages"])
