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


def _guard(*literals: str):
    """A test for whether any of `literals` occurs in a text (cheap: it skips most files).

    When the literals share their first character, one regex scan is about 8x faster than a
    scan per literal (the regex engine jumps between occurrences of that character, measured on
    the bench corpus); otherwise one `in` scan per literal is the faster one.
    """
    if len({literal[0] for literal in literals}) == 1:
        return re.compile("|".join(map(re.escape, literals))).search
    return lambda text: any(literal in text for literal in literals)


# (kind, guard: a substring one of which must occur, pattern)
_PATTERNS = (
    ("private_key", _guard("PRIVATE KEY"), re.compile(
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----",
        re.DOTALL)),
    ("aws_access_key_id", _guard("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA"), re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b")),
    ("github_token", _guard("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"), re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b")),
    ("gitlab_token", _guard("glpat-"), re.compile(r"\bglpat-[A-Za-z0-9_\-]{20,}\b")),
    ("slack_token", _guard("xox", "hooks.slack"), re.compile(
        r"\bxox[abposre]-[A-Za-z0-9-]{10,}\b|https://hooks\.slack\.com/services/[A-Za-z0-9/]+")),
)
_AWS_SECRET = re.compile(
    r"(?i)(aws[\w-]{0,20}?secret[\w-]{0,20}\s*['\"]?\s*[:=]\s*['\"]?)([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])")
# `name = "value"` is found from its operator and quote (a fast literal scan in the regex engine),
# then the name is read backwards; a regex starting at every identifier would be 10x slower.
_ASSIGNED_VALUE = re.compile(r"(?::=|=>|=|:)[ \t]*+(['\"])([^'\"\s]{8,200})\1")
_NAME_BEFORE = re.compile(r"([\w.-]+)(['\"]?[ \t]*)$")
# shell and .env lines with an unquoted value: `export API_TOKEN=...`, `local secret=...`,
# `GITHUB_TOKEN=...`; without a keyword only an upper-case name (an environment variable, not code).
# Found from the `=` and its value (a fast scan), then the line's head is read: a regex anchored at
# every line start was 12x slower on the stdlib.
_UNQUOTED_VALUE = re.compile(r"=([^\s'\"`$;|&<>(){}\[\],=]{8,200})(?=[ \t]*(?:[;#\n]|$))")
_SHELL_NAME = re.compile(
    r"[ \t]*(?:(?:export|declare|local|readonly|typeset)[ \t]+(?:-\w+[ \t]+)*(\w+)|([A-Z_][A-Z0-9_]*))")
_SECRET_WORDS = ("password", "passwd", "pwd", "secret", "token", "apikey", "api_key", "api-key",
                 "access_key", "access-key", "auth_key", "auth-key", "private_key", "private-key", "credential")
# The name must END with one: `auth_token` holds a secret, `token_type` and `password_hash` do not.
_SECRET_NAME_END = re.compile(
    r"(?i)(password|passwd|pwd|secret|token|api_?key|access_?key|secret_?key|auth_?key|private_?key"
    r"|credentials?)$")
_HASH_NAMES = re.compile(r"(?i)sha|hash|digest|checksum|md5|crc|etag|commit")
_HEX = re.compile(r"[0-9a-fA-F]+")
# e-mail: the domain part is matched from the `@` (fast), the local part read backwards. `\Z`,
# not `$`: `$` also matches before a final newline, so `word\n@pytest.mark.x` became an address.
# Not an address: a local part right after `/` or `:` (URL userinfo, handled below), a domain
# followed by `:path` (an SSH remote `git@host:owner/repo`).
_EMAIL_DOMAIN = re.compile(r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}\b(?!:[\w~/])")
_LOCAL_BEFORE = re.compile(r"(?<![\w.+/:%@-])[A-Za-z0-9._%+-]+\Z")
# The last label must be a country code or a common generic TLD: `A@B.conjugate()` (matmul) and
# `...\n@t.overload` are code, not addresses.
_GENERIC_TLDS = frozenset(
    "com org net edu gov mil int info biz name pro io dev app ai co me tech xyz online site cloud "
    "email museum aero coop jobs travel mobi asia tel".split())
# Nobody's address: RFC 2606 / 6761 reserved names, which tests and validators use on purpose,
# and SSH's `name@openssh.com` algorithm names (RFC 4251 section 6).
_RESERVED_DOMAIN = re.compile(
    r"(?i)@(?:[\w-]+\.)*(?:example\.(?:com|org|net)|example|test|invalid|localhost|openssh\.com)$")
_BASE64_CHAR = re.compile(r"[A-Za-z0-9+/]")
# `scheme://user:password@host`: the password is a secret, the URL's shape is code (kept).
_URL_PASSWORD = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]{1,15}://[^\s/:@'\"]+:)([^\s/@'\"]+)(?=@[\w.-])")
_URL_WITH_PASSWORD = re.compile(r"://[^\s/@'\"]*:[^\s/@'\"]*@")  # what every _URL_PASSWORD match holds
_PLACEHOLDER = re.compile(r"^<[A-Z_]+>$|^\$\{?\w+\}?$|^%\(?\w+\)?s?$|^\{\w*\}$")


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def _keep_lines(match_text: str, placeholder: str) -> str:
    return placeholder + "\n" * match_text.count("\n")


def _looks_secret(name: str, value: str, min_entropy: float) -> bool:
    if not _SECRET_NAME_END.search(name.replace("-", "_").strip("'\"")):
        return False
    if _PLACEHOLDER.match(value) or value.startswith("<REDACTED"):
        return False
    classes = sum(any(test(c) for c in value) for test in (str.islower, str.isupper, str.isdigit))
    if classes < 2:
        return False  # `obs-local-part`, `UTF8`: words and constants, not random credentials
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
            if kind == "private_key" and not _has_key_body(match.group(0)):
                return match.group(0)  # `("-----BEGIN ...-----", "-----END ...-----")`: markers only
            counts[kind] += 1
            return _keep_lines(match.group(0), f"<REDACTED_{kind.upper()}>")
        return pattern.sub(replace, text)

    lower = text.lower()
    for kind, guard, pattern in _PATTERNS:
        if guard(text):
            text = sub(kind, pattern, text)

    def aws(match: re.Match) -> str:
        counts["aws_secret_access_key"] += 1
        return match.group(1) + "<REDACTED_AWS_SECRET_ACCESS_KEY>"
    if "aws" in lower:
        text = _AWS_SECRET.sub(aws, text)

    if any(word in lower for word in _SECRET_WORDS):
        text = _replace_assigned(text, counts, min_entropy)
        text = _replace_shell_assigned(text, counts, min_entropy)
    if "@" in text:
        text = _replace_url_passwords(text, counts)
        text = _replace_emails(text, counts)
    return text, counts


def _has_key_body(block: str) -> bool:
    """A PEM block holds a key (hundreds of base64 characters), not two markers quoted in code."""
    body = block.split("-----", 2)[2].rsplit("-----END", 1)[0]
    return len(_BASE64_CHAR.findall(body)) >= 16


def _replace_assigned(text: str, counts: Counter, min_entropy: float) -> str:
    """High-entropy string literals assigned to secret-sounding names."""
    out, last = [], 0
    for match in _ASSIGNED_VALUE.finditer(text):
        name = _NAME_BEFORE.search(text, max(0, match.start() - 100), match.start())
        value = match.group(2)
        if name is None or not _looks_secret(name.group(1), value, min_entropy):
            continue
        counts["high_entropy_secret"] += 1
        out += [text[last:match.start(2)], "<REDACTED_SECRET>"]
        last = match.end(2)
    return "".join(out) + text[last:] if out else text


def _replace_shell_assigned(text: str, counts: Counter, min_entropy: float) -> str:
    """High-entropy unquoted values of secret-sounding shell variables (`export TOKEN=...`)."""
    out, last = [], 0
    for match in _UNQUOTED_VALUE.finditer(text):
        head = _SHELL_NAME.fullmatch(text, text.rfind("\n", 0, match.start()) + 1, match.start())
        if head is None or not _looks_secret(head.group(1) or head.group(2), match.group(1), min_entropy):
            continue
        counts["high_entropy_secret"] += 1
        out += [text[last:match.start(1)], "<REDACTED_SECRET>"]
        last = match.end(1)
    return "".join(out) + text[last:] if out else text


def _replace_url_passwords(text: str, counts: Counter) -> str:
    def replace(match: re.Match) -> str:
        if _PLACEHOLDER.match(match.group(2)) or match.group(2).startswith("<REDACTED"):
            return match.group(0)  # `://user:${PASSWORD}@`, `:%(password)s@`: a template
        counts["url_password"] += 1
        return match.group(1) + "<REDACTED_PASSWORD>"
    # the full pattern tries a scheme at every word; this one starts at a literal `://` (fast)
    return _URL_PASSWORD.sub(replace, text) if _URL_WITH_PASSWORD.search(text) else text


def _replace_emails(text: str, counts: Counter) -> str:
    out, last = [], 0
    for match in _EMAIL_DOMAIN.finditer(text):
        local = _LOCAL_BEFORE.search(text, max(last, match.start() - 64), match.start())
        tld = match.group(0).rsplit(".", 1)[-1].lower()
        if local is None or (len(tld) > 2 and tld not in _GENERIC_TLDS) or _RESERVED_DOMAIN.search(match.group(0)):
            continue  # `@decorator.attr`, `x @ y.T`: no local part right before the `@`
        counts["email"] += 1
        out += [text[last:local.start()], EMAIL_PLACEHOLDER]
        last = match.end()
    return "".join(out) + text[last:] if out else text
