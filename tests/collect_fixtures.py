"""A generated repository holding every hazard collect must handle, and what it must make of it.

Each entry of HAZARD_FILES is written as is; symlinks and the outside folder are made by
`make_hazard_repo`. The expectations below are the contract the hazard tests check.
"""
from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import make_git_repo

MIT = """MIT License

Copyright (c) 2026 Example

Permission is hereby granted, free of charge, to any person obtaining a copy of this software
and associated documentation files, to deal in the Software without restriction.

The above copyright notice and this permission notice shall be included in all copies.
"""
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
GITHUB_TOKEN = "ghp_" + "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5"
PASSWORD = "Zx9$qL2!vR7#pT4w"
PRIVATE_KEY_BODY = "MIIEowIBAAKCAQEAx7yQk3mL9"
EMAILS = ("jane.doe@acme-corp.com", "ops-team@corp.acme.io")  # not RFC 2606 names: those are kept
COMMIT_SHA = "3f786850e387550fdab836ed7e6dc881de23001b"

APP_PY = f'''"""Service settings and a client."""
import os

AWS_ACCESS_KEY_ID = "{AWS_KEY}"
GITHUB = "{GITHUB_TOKEN}"
password = "{PASSWORD}"
default_password = "changeme"
commit_sha = "{COMMIT_SHA}"
MAINTAINER = "{EMAILS[0]}"

KEY = """-----BEGIN RSA PRIVATE KEY-----
{PRIVATE_KEY_BODY}
-----END RSA PRIVATE KEY-----"""


def connect(host, port=443):
    """Open a connection; questions to {EMAILS[1]}."""
    return (host, port, os.getpid())


class Client:
    """A tiny client."""

    def fetch(self, path):
        return connect("example.com") + (path,)
'''
HELPERS_PY = '''"""Helpers shared by the service."""


def clamp(value, low, high):
    """Keep value within [low, high]."""
    return max(low, min(high, value))


def chunks(items, size):
    """Split items into lists of at most size."""
    return [items[i:i + size] for i in range(0, len(items), size)]
'''
REPORT_A = '''"""Monthly report builder."""


def build_report(records, month, currency="EUR"):
    totals = {}
    for record in records:
        if record["month"] != month:
            continue
        customer = record["customer"]
        amount = record["amount"] * record.get("rate", 1.0)
        totals[customer] = totals.get(customer, 0.0) + amount
    lines = [f"Report for {month} in {currency}"]
    for customer, amount in sorted(totals.items(), key=lambda kv: -kv[1]):
        lines.append(f"{customer:<30} {amount:>12.2f}")
    grand = sum(totals.values())
    lines.append(f"{'TOTAL':<30} {grand:>12.2f}")
    average = grand / len(totals) if totals else 0.0
    lines.append(f"{'AVERAGE':<30} {average:>12.2f}")
    return "\\n".join(lines)
'''
# report_b: the same code with one line edited: a near duplicate (Jaccard ~0.9), not an exact one
REPORT_B = REPORT_A.replace('lines = [f"Report for {month} in {currency}"]',
                            'lines = [f"Monthly report for {month}, amounts in {currency}"]')

LANGUAGE_FILES = {
    "web/app.js": "// Adds two numbers.\nfunction addNumbers(a, b) {\n  return a + b;\n}\n"
                  "const double = (x) => x * 2;\n",
    "web/util.ts": "// Greets someone.\nexport function greet(name: string): string {\n"
                   "  return `hello ${name}`;\n}\n",
    "src/Main.java": "/** Entry point. */\npublic class Main {\n  /** Runs it. */\n"
                     "  public static void main(String[] args) {\n    System.out.println(args.length);\n  }\n}\n",
    "cmd/main.go": "package main\n\nimport \"fmt\"\n\n// Serve starts serving.\nfunc Serve(port int) {\n"
                   "\tfmt.Println(port)\n}\n",
    "src/lib.rs": "/// Squares a number.\npub fn square(x: i64) -> i64 {\n    x * x\n}\n",
    "native/core.c": "/* Sums an array. */\nint sum_array(const int *values, int count) {\n"
                     "  int total = 0;\n  for (int i = 0; i < count; i++) total += values[i];\n  return total;\n}\n",
    "native/engine.cpp": "// A render engine.\nclass Engine {\n public:\n  int render(int frames) { return frames * 2; }\n};\n",
    "lib/tool.rb": "# Formats a title.\ndef format_title(text)\n  text.strip.capitalize\nend\n",
    "web/index.php": "<?php\n// Renders the page.\nfunction render_page($title) {\n  return \"<h1>\" . $title . \"</h1>\";\n}\n",
    "bin/tool": "#!/usr/bin/env python3\n\"\"\"A script without an extension.\"\"\"\n\n\ndef main():\n"
                "    return 0\n",
}

HAZARD_FILES: dict[str, str | bytes] = {
    "LICENSE": MIT,
    "README.md": "# Hazards\n\nEvery case collect must handle.\n",
    "src/app.py": APP_PY,
    "src/helpers.py": HELPERS_PY,
    "src_copy/helpers.py": HELPERS_PY,  # exact duplicate, walked after src/helpers.py
    "near/report_a.py": REPORT_A,
    "near/report_b.py": REPORT_B,
    **LANGUAGE_FILES,
    "assets/logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
    "big.py": "x = 1  # padding to exceed the 1 MB cap\n" * 30_000,
    "web/vendor.min.js": "function a(b){return b+1}var c=a(2);\n",
    "web/bundle.js": "var q=" + "[" + ",".join(str(i) for i in range(1500)) + "];\n",
    "data_table.py": "TABLE = [" + ", ".join(str(i) for i in range(600)) + "]\n",
    "wide.py": "".join(f"value_{i} = compute('{'w' * 120}', {i})\n" for i in range(20)),
    "art.py": "# " + "=-+*" * 30 + "\n" + "# ~~~~ |||| ---- ==== ++++ ****\n" * 20,
    "gen/api_pb2.py": "# Generated by the protocol buffer compiler.  DO NOT EDIT!\n"
                      "# source: api.proto\nDESCRIPTOR = object()\n",
    "latin1.py": "# caf\xe9 cr\xe8me br\xfbl\xe9e\nNAME = 'caf\xe9'\n".encode("latin-1"),
    "package-lock.json": '{"lockfileVersion": 3}\n',
    "data/users.csv": "id,name\n1,ann\n",
    "node_modules/left-pad/index.js": "module.exports = function leftPad(s) { return s; };\n",
    "vendor/lib/dep.go": "package dep\n\nfunc Dep() {}\n",
    "third_party/zlib/inflate.c": "int inflate(void) { return 0; }\n",
    ".venv/lib/python3.11/site-packages/six.py": "def six():\n    return 6\n",
    "build/out.js": "function built() { return 1; }\n",
    "dist/bundle.js": "function dist() { return 2; }\n",
}

# What the walk yields (files_seen): every regular file outside vendored folders, .git and links.
VENDORED_DIRS = 6  # node_modules, vendor, third_party, .venv, build, dist
SYMLINKS_OUTSIDE = 2  # a file link and a folder link leaving the repository
SYMLINKS_INSIDE = 1  # a file link to src/helpers.py: its content is collected at the real path
KEPT_FILES = {"src/app.py", "src/helpers.py", "near/report_a.py", *LANGUAGE_FILES}
SKIPPED = {
    "binary": {"assets/logo.png"}, "too_large": {"big.py"},
    "minified": {"web/vendor.min.js", "web/bundle.js"}, "long_line": {"data_table.py"},
    "long_mean_line": {"wide.py"}, "low_alphanumeric": {"art.py"}, "generated": {"gen/api_pb2.py"},
    "undecodable": {"latin1.py"}, "lock_file": {"package-lock.json"}, "data_file": {"data/users.csv"},
    "unsupported_language": {"LICENSE", "README.md"},
}
# Files read and cut that are then dropped whole as duplicates of a kept file.
EXACT_DUPLICATE_FILES = {"src_copy/helpers.py"}
NEAR_DUPLICATE_FILES = {"near/report_b.py"}
REDACTIONS = {"aws_access_key_id": 1, "github_token": 1, "high_entropy_secret": 1,
              "private_key": 1, "email": 2}


def make_hazard_repo(base: Path) -> tuple[Path, str]:
    """Write the hazard repository (a git work tree) under `base`; returns (root, commit)."""
    root, outside = base / "hazards", base / "outside"
    outside.mkdir(parents=True)
    (outside / "stolen.py").write_text("def stolen():\n    return 'outside the repository'\n")
    (outside / "secret.txt").write_text("top secret\n")
    text = {k: v for k, v in HAZARD_FILES.items() if isinstance(v, str)}
    commit_files = dict(text)
    root.mkdir(parents=True)
    for rel, data in HAZARD_FILES.items():
        if isinstance(data, bytes):
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    os.symlink(outside / "stolen.py", root / "escape.py")
    os.symlink(outside, root / "escape_dir")
    os.symlink(root / "src" / "helpers.py", root / "helpers_link.py")
    commit = make_git_repo(root, commit_files)
    return root, commit
