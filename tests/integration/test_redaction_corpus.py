"""Redaction over the real stdlib + site-packages corpus never changes code, only literals.

About 38,000 files (Python, C, C++, JavaScript, TypeScript) and 2,000+ e-mail-like matches: an
e-mail match may never span a newline, a file's line count never changes, and in every Python
file redaction touched, the tokens that are code (names, operators, numbers: decorators and
imports included) are exactly the original ones.
"""
from __future__ import annotations

import io
import sysconfig
import tokenize
from pathlib import Path

import pytest

from application.collect import secrets

_CODE_TOKENS = (tokenize.NAME, tokenize.OP, tokenize.NUMBER)


def _corpus() -> list[Path]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    site = Path(sysconfig.get_paths()["purelib"])
    paths = [p for p in stdlib.rglob("*.py") if "site-packages" not in p.parts]
    for ext in ("py", "c", "h", "cc", "cpp", "hpp", "js", "ts"):
        paths += site.rglob(f"*.{ext}")
    return paths


def _code_tokens(text: str) -> list[tuple[int, str]] | None:
    try:
        return [(t.type, t.string) for t in tokenize.generate_tokens(io.StringIO(text).readline)
                if t.type in _CODE_TOKENS]
    except (tokenize.TokenError, SyntaxError):
        return None


def _email_spans_newline(text: str) -> int:
    spanning = 0
    for match in secrets._EMAIL_DOMAIN.finditer(text):
        local = secrets._LOCAL_BEFORE.search(text, max(0, match.start() - 64), match.start())
        spanning += local is not None and "\n" in text[local.start():match.end()]
    return spanning


@pytest.mark.slow
def test_redaction_never_changes_code_on_the_real_corpus():
    files = matches = spanning = 0
    damaged: list[str] = []
    for path in _corpus():
        try:
            text = path.read_text("utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if "@" not in text:
            continue
        files += 1
        spanning += _email_spans_newline(text)
        redacted, counts = secrets.redact(text)
        matches += sum(counts.values())
        if redacted == text:
            continue
        if redacted.count("\n") != text.count("\n"):
            damaged.append(f"{path}: line count")
        elif path.suffix == ".py" and _code_tokens(text) not in (None, _code_tokens(redacted)):
            damaged.append(f"{path}: code tokens")
        decorators = [line for line in text.splitlines() if line.lstrip().startswith("@")]
        if decorators != [line for line in redacted.splitlines() if line.lstrip().startswith("@")]:
            damaged.append(f"{path}: decorator line")
    assert files > 10_000 and matches > 500  # the corpus is really there and redaction really ran
    assert spanning == 0
    assert damaged == []
