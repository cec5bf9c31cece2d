"""Secrets and e-mail addresses redacted from text before anything is written.

Each pattern is a known credential format (AWS, GitHub, GitLab, Slack, PEM private keys), plus
high-entropy strings assigned to names like `password` or `api_key`. Ordinary hashes are left
alone: a hex value assigned to a name that says `sha`, `hash`, `digest` or `checksum` is not a
secret, and neither is a value with low entropy (`password = "changeme"` is a placeholder).
Replacements keep the line count, so line numbers of the units cut later stay true.
"""
from __future__ import annotations

import math
import re
from collections import Counter

EMAIL_PLACEHOLDER = "<EMAIL>"

_PATTERNS = (
    ("private_key", re.compile(
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----",
        re.DOTALL)),
    ("aws_access_key_id", re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b")),
    ("github_token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b")),
    ("gitlab_token", re.compile(r"\bglpat-[A-Za-z0-9_\-]{20,}\b")),
    ("slack_token", re.compile(
        r"\bxox[abposre]-[A-Za-z0-9-]{10,}\b|https://hooks\.slack\.com/services/[A-Za-z0-9/]+")),
)
_AWS_SECRET = re.compile(
    r"(?i)(aws[\w-]{0,20}?secret[\w-]{0,20}\s*['\"]?\s*[:=]\s*['\"]?)([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])")
_ASSIGNED = re.compile(
    r"(?i)\b([\w.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|auth[_-]?key"
    r"|private[_-]?key|credential)[\w.-]*)(['\"]?\s*(?::=|=|:|=>)\s*)(['\"])([^'\"\s]{8,200})\3")
_HASH_NAMES = re.compile(r"(?i)sha|hash|digest|checksum|md5|crc|etag|commit")
_HEX = re.compile(r"[0-9a-fA-F]+")
_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}\b")
_PLACEHOLDER = re.compile(r"^<[A-Z_]+>$|^\$\{?\w+\}?$|^%\(?\w+\)?s?$|^\{\w*\}$")


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def _keep_lines(match_text: str, placeholder: str) -> str:
    return placeholder + "\n" * match_text.count("\n")


def _looks_secret(name: str, value: str, min_entropy: float) -> bool:
    if _PLACEHOLDER.match(value) or value.startswith("<REDACTED"):
        return False
    if _HEX.fullmatch(value) and _HASH_NAMES.search(name):
        return False  # a commit SHA or content hash, not a credential
    return entropy(value) >= min_entropy


def redact(text: str, min_entropy: float = 3.5) -> tuple[str, Counter]:
    """Replace secrets and e-mail addresses in `text`.

    Returns:
        The redacted text and how many replacements were made per kind.
    """
    counts: Counter = Counter()

    def sub(kind: str, pattern: re.Pattern, text: str) -> str:
        def replace(match: re.Match) -> str:
            counts[kind] += 1
            return _keep_lines(match.group(0), f"<REDACTED_{kind.upper()}>")
        return pattern.sub(replace, text)

    for kind, pattern in _PATTERNS:
        text = sub(kind, pattern, text)

    def aws(match: re.Match) -> str:
        counts["aws_secret_access_key"] += 1
        return match.group(1) + "<REDACTED_AWS_SECRET_ACCESS_KEY>"
    text = _AWS_SECRET.sub(aws, text)

    def assigned(match: re.Match) -> str:
        name, op, quote, value = match.groups()
        if not _looks_secret(name, value, min_entropy):
            return match.group(0)
        counts["high_entropy_secret"] += 1
        return f"{name}{op}{quote}<REDACTED_SECRET>{quote}"
    text = _ASSIGNED.sub(assigned, text)

    def email(match: re.Match) -> str:
        counts["email"] += 1
        return EMAIL_PLACEHOLDER
    text = _EMAIL.sub(email, text)
    return text, counts
