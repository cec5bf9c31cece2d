"""Instruction pairs derived from code: docstring -> function body, commit message -> diff.

A function or method with a docstring (or the comment block right above it, which `collect`
records as its docstring) becomes prompt = signature + docstring, completion = body. A
`--history` commit unit becomes prompt = message, completion = the file's diff. Pure functions:
they cut strings the collection already holds.
"""
from __future__ import annotations

import re

# How a docstring is written back above a signature, for languages whose docstring is a comment.
COMMENT_PREFIX = {"ruby": "# ", "rust": "/// "}
DEFAULT_COMMENT_PREFIX = "// "
_BODY_BRACE = re.compile(r"\{[ \t]*\r?\n")  # the brace that opens a body ends its line
_QUOTE = re.compile(r"\"\"\"|'''|\"|'")


def _python_split(content: str, docstring: str) -> tuple[str, str] | None:
    """(def line(s) + docstring, rest of the body) of a Python function."""
    at = content.find(docstring)
    closing = _QUOTE.search(content, at + len(docstring)) if at >= 0 else None
    if closing is None:
        return None
    line_end = content.find("\n", closing.end())
    return None if line_end < 0 else (content[:line_end + 1], content[line_end + 1:])


def _commented(docstring: str, language: str) -> str:
    prefix = COMMENT_PREFIX.get(language, DEFAULT_COMMENT_PREFIX)
    return "".join(f"{prefix}{line}".rstrip() + "\n" for line in docstring.strip().splitlines())


def _signature_split(content: str, language: str) -> tuple[str, str] | None:
    """(signature, body) of a function in a language with `{` bodies, or Ruby's `def ... end`."""
    if language == "ruby":
        line_end = content.find("\n")
        return None if line_end < 0 else (content[:line_end + 1], content[line_end + 1:])
    brace = _BODY_BRACE.search(content)
    return None if brace is None else (content[:brace.end()], content[brace.end():])


def code_pair(unit: dict) -> tuple[dict | None, str]:
    """A prompt/completion record from a code unit, or (None, why not)."""
    docstring = (unit.get("docstring") or "").strip()
    content = unit["content"]
    if unit["kind"] == "commit":
        if not docstring:
            return None, "commit_without_message"
        if not content.strip():
            return None, "empty_diff"
        return {"format": "prompt_completion", "prompt": f"{docstring}\n\n", "completion": content}, ""
    if unit["kind"] not in ("function", "method"):
        return None, f"{unit['kind']}_unit"
    if not docstring:
        return None, "no_docstring"
    if unit["language"] == "python":
        parts = _python_split(content, unit["docstring"])
    else:
        parts = _signature_split(content, unit["language"])
    if parts is None or not parts[1].strip():
        return None, "no_body"
    signature, body = parts
    prompt = signature if unit["language"] == "python" else _commented(docstring, unit["language"]) + signature
    return {"format": "prompt_completion", "prompt": prompt, "completion": body}, ""
