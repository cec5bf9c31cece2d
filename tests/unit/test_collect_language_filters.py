"""Filters and redaction for the twelve languages added with parsing/families: their build folders,
lock files and generated sources are skipped; shell `export TOKEN=...` lines are redacted."""
from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

from application.collect.filters import FilterConfig, dir_skip_reason, name_skip_reason, text_skip_reason
from application.collect.secrets import _UNQUOTED_VALUE, redact

GITHUB_TOKEN = "ghp_" + "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5"
DEPLOY_SH = f"""#!/usr/bin/env bash
set -euo pipefail
export GITHUB_TOKEN={GITHUB_TOKEN}
export API_TOKEN=Zx9qL2vR7pT4wK8mN3bV6cX1
declare -x SLACK_SECRET=aB3dE5gH7jK9mN1pQ3sT
NPM_TOKEN=npm_AbCdEf123456GhIjKl7890MnOpQr  # publish
deploy() {{
  local db_password=Qw8Er5Ty2Ui9Op4As7Df
  export DEFAULT_TOKEN=changeme
  export AUTH_TOKEN=$(cat /run/secrets/token)
  TOKEN_TYPE=bearer curl -H "Authorization: Bearer $API_TOKEN" https://example.org
}}
"""


def test_a_shell_script_of_exported_tokens_is_redacted_line_for_line():
    text, counts = redact(DEPLOY_SH)
    assert text.count("\n") == DEPLOY_SH.count("\n")
    for secret in (GITHUB_TOKEN, "Zx9qL2vR7pT4wK8mN3bV6cX1", "aB3dE5gH7jK9mN1pQ3sT",
                   "npm_AbCdEf123456GhIjKl7890MnOpQr", "Qw8Er5Ty2Ui9Op4As7Df"):
        assert secret not in text
    assert "export API_TOKEN=<REDACTED_SECRET>\n" in text
    assert "local db_password=<REDACTED_SECRET>\n" in text
    assert "NPM_TOKEN=<REDACTED_SECRET>  # publish" in text
    # placeholders, command substitutions and non-secret names are code, left alone
    for kept in ("DEFAULT_TOKEN=changeme", "AUTH_TOKEN=$(cat /run/secrets/token)", "TOKEN_TYPE=bearer",
                 'Bearer $API_TOKEN"'):
        assert kept in text
    assert counts["github_token"] == 1 and counts["high_entropy_secret"] == 4


@pytest.mark.parametrize("line", [
    "token=someVariableName2",          # code: a lower-case name without `export` is not a shell variable
    "    api_key=settings.API_KEY,",    # a keyword argument
    "SECRET_KEY=os.environ['KEY']",     # a quoted part: not an unquoted shell value
])
def test_code_that_looks_like_an_assignment_is_not_a_shell_secret(line):
    assert redact(line + "\n")[0] == line + "\n"


def test_the_shell_pattern_finds_no_secret_in_the_standard_library():
    """No false positives on real code: the stdlib's Python has no unquoted shell secrets."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(stdlib.glob("*.py"))
    hits = []
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        lines = [text[text.rfind("\n", 0, m.start()) + 1:m.end()] for m in _UNQUOTED_VALUE.finditer(text)]
        hits += [(path.name, line) for line in lines if redact(line)[1]["high_entropy_secret"]]
    assert len(files) > 150 and hits == []


@pytest.mark.parametrize("name, reason", [
    ("_build", "vendored_dir"), ("deps", "vendored_dir"), (".stack-work", "vendored_dir"),
    ("dist-newstyle", "vendored_dir"), (".dart_tool", "vendored_dir"), ("zig-out", "vendored_dir"),
    ("lua_modules", "vendored_dir"), ("src", None), ("lib", None),
])
def test_build_folders_of_the_new_languages_are_pruned(name, reason):
    assert dir_skip_reason(name) == reason


@pytest.mark.parametrize("path, reason", [
    ("mix.lock", "lock_file"), ("app/pubspec.lock", "lock_file"), ("Package.resolved", "lock_file"),
    ("Manifest.toml", "lock_file"), ("lib/user.g.dart", "generated"), ("lib/user.freezed.dart", "generated"),
    ("Forms/Main.Designer.cs", "generated"), ("api.pb.swift", "generated"),
    ("lib/user.dart", None), ("Main.cs", None), ("mix.exs", None),
])
def test_lock_files_and_generated_names(path, reason):
    assert name_skip_reason(path) == reason


def test_dart_build_runner_header_marks_a_file_generated():
    text = "// GENERATED CODE - DO NOT MODIFY BY HAND\n\npart of 'user.dart';\n\nUser _$UserFromJson() => User();\n"
    assert text_skip_reason("lib/user.dart", text, "dart", FilterConfig()) == "generated"
