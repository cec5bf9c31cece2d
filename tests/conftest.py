"""Shared fixtures. Tests run against real disk, real git and real tiny models."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no hub here: anything that tries it must fail fast
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tests.s3_server import moto_server, s3_env  # noqa: E402  (S3 fixtures, moto on 127.0.0.1)

__all__ = ["moto_server", "s3_env"]  # pytest finds fixtures by name here


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


def make_git_repo(root: Path, files: dict[str, str]) -> str:
    """Create a git repository holding `files`; returns its HEAD commit."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return git(root, "rev-parse", "HEAD")


# A small Python module per index: a class with methods, a function and an async function.
SHAPES_MODULE = '''"""Module {i}: small helpers for shapes."""


class Shape{i}:
    """A shape with {i} sides."""

    def __init__(self, size):
        self.size = size

    def area(self):
        return self.size * self.size * {i}


def scale_{i}(values, factor={i}):
    """Multiply every value by the factor."""
    return [value * factor for value in values]


async def fetch_{i}(client, key):
    return await client.get(key + "{i}")
'''
