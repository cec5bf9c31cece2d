"""In-memory fakes of the ports, for driving the use cases without infrastructure/.

Each one is a small working implementation (cosmicpython's `FakeRepository`): tests assert on
the state it ends in (what the storage holds, what the trainer wrote), not on the calls made.
Nothing here may import `infrastructure` (tests/unit/test_layers.py checks it).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from domain.entities import Checkout, ParsedUnit, SkippedSource
from domain.errors import StorageError


class FakeStorage:
    """The Storage port over a dict of key -> bytes, with S3's semantics (no local folder).

    `written` keeps the keys in the order they were written: publication order (data first,
    marker last) is behaviour the use cases promise.
    """

    def __init__(self, uri: str = "fake://store", objects: dict[str, bytes] | None = None):
        self.uri = uri
        self.objects: dict[str, bytes] = dict(objects or {})
        self.written: list[str] = []

    def exists(self, key: str) -> bool:
        return key in self.objects

    def list(self, prefix: str = "") -> list[str]:
        folder = prefix.rstrip("/")
        return sorted(k for k in self.objects if not prefix or k == folder or k.startswith(folder + "/"))

    def read_bytes(self, key: str) -> bytes:
        if key not in self.objects:
            raise StorageError(f"{self.uri}: {key} not found")
        return self.objects[key]

    def write_bytes(self, key: str, data: bytes) -> None:
        self.objects[key] = bytes(data)
        self.written.append(key)

    def upload_file(self, local_path: Path, key: str) -> None:
        self.write_bytes(key, Path(local_path).read_bytes())

    def download_file(self, key: str, local_path: Path) -> None:
        local_path = Path(local_path)
        local_path.parent.mkdir(parents=True, exist_ok=True)
        local_path.write_bytes(self.read_bytes(key))

    def delete(self, key: str) -> None:
        for k in self.list(key) if key else list(self.objects):
            del self.objects[k]

    def local_root(self) -> Path | None:
        return None

    def read_json(self, key: str) -> dict:
        return json.loads(self.objects[key])


class FakeFetcher:
    """Repositories held in memory, {name: {path: text}}, fetched as `fake:NAME`.

    `fetch` writes the files into the workdir it is given: collect reads from the checkout root.
    An unknown name is a SkippedSource, as a 404 from GitHub is.
    """

    def __init__(self, repos: dict[str, dict[str, str]]):
        self.repos = repos

    def accepts(self, source: str) -> bool:
        return source.startswith("fake:")

    def fetch(self, source: str, workdir: Path) -> Iterator[Checkout | SkippedSource]:
        name = source.removeprefix("fake:")
        if name not in self.repos:
            yield SkippedSource(origin=source, reason="no such repository")
            return
        root = Path(workdir) / name
        for rel, text in self.repos[name].items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
        root.mkdir(parents=True, exist_ok=True)
        yield Checkout(repo=f"fake/{name}", root=root, commit=None, origin=source)


_HEADER = re.compile(r"^(\s*)(def|class) (\w+)")


class FakeParser:
    """A parser for "toy", a made-up language of `.toy` files: a `def NAME` or `class NAME` line
    starts a unit that runs until the next non-blank line indented no deeper."""

    def language_for(self, path: str, head: bytes = b"", header_hint: str | None = None) -> str | None:
        return "toy" if path.endswith(".toy") else None

    def parse(self, source: bytes, language: str, path: str = "") -> list[ParsedUnit]:
        lines = source.decode().splitlines(keepends=True)
        units, open_classes = [], []  # (indent, name) of the classes around the current line
        for start, line in enumerate(lines):
            match = _HEADER.match(line)
            if not match:
                continue
            indent, keyword, name = len(match[1]), match[2], match[3]
            open_classes = [(i, n) for i, n in open_classes if i < indent]
            end = next((k for k in range(start + 1, len(lines))
                        if lines[k].strip() and len(lines[k]) - len(lines[k].lstrip()) <= indent), len(lines))
            parent = open_classes[-1][1] if open_classes else None
            kind = "class" if keyword == "class" else ("method" if parent else "function")
            units.append(ParsedUnit(kind, name, start + 1, end, "".join(lines[start:end]), parent))
            if keyword == "class":
                open_classes.append((indent, name))
        return units


def walk_sorted(root: Path, skip_dir: Callable[[str], str | None],
                on_skip: Callable[[str, str], None]) -> Iterator[Path]:
    """The Walk port without the symlink care of the real walker: files in sorted order."""
    root = Path(root).resolve()
    for dirpath, dirnames, filenames in os.walk(root):
        kept = []
        for name in sorted(dirnames):
            reason = skip_dir(name)
            if reason is None:
                kept.append(name)
            elif reason != "ignored":
                on_skip(reason, (Path(dirpath) / name).relative_to(root).as_posix())
        dirnames[:] = kept
        yield from (Path(dirpath) / name for name in sorted(filenames))


def write_json_shard(rows: list[dict], path: Path) -> None:
    """A shard as JSON lines (collect's `write_shard` port; production writes Parquet)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def read_json_shards(paths: list[Path]) -> list[dict]:
    return [json.loads(line) for path in paths for line in Path(path).read_text().splitlines()]


class ByteTokenizer:
    """A byte-level tokenizer: ids 0-255 are bytes, special tokens follow. Needs no training,
    and decodes any split exactly (tests read the rows back as text)."""

    SPECIALS = ("<eos>", "<pad>")

    def __init__(self, extra_special_tokens: Sequence[str] = ()):
        self.specials = list(self.SPECIALS) + list(extra_special_tokens)
        self.eos_token_id = 256
        self.pad_token_id = 257

    def __len__(self) -> int:
        return 256 + len(self.specials)

    def convert_tokens_to_ids(self, token: str) -> int:
        return 256 + self.specials.index(token)

    def encode(self, text: str) -> list[int]:
        return list(text.encode())

    def decode(self, ids: Iterable[int]) -> str:
        return bytes(i for i in ids if i < 256).decode(errors="replace")

    def save_pretrained(self, path: str) -> list[str]:
        Path(path).mkdir(parents=True, exist_ok=True)
        (Path(path) / "tokenizer.json").write_text(json.dumps({"type": "bytes", "specials": self.specials}))
        return [str(Path(path) / "tokenizer.json")]


def train_byte_tokenizer(texts: Iterable[str], vocab_size: int, extra_special_tokens: Sequence[str] = ()) -> ByteTokenizer:
    return ByteTokenizer(extra_special_tokens)


def load_byte_tokenizer(name_or_path: str, extra_special_tokens: Sequence[str] = (), needs_eos: bool = True) -> ByteTokenizer:
    return ByteTokenizer(extra_special_tokens)


def tokenize(tokenizer: ByteTokenizer, texts: Sequence[str], num_proc: int = 1) -> list[list[int]]:
    return [tokenizer.encode(text) for text in texts]


class ShingleNearDuplicates:
    """Near-duplicates by exact Jaccard similarity of word 3-shingles (what MinHash estimates)."""

    def sign(self, texts: Sequence[str]) -> list[object]:
        shingles = []
        for text in texts:
            words = text.split()
            shingles.append(frozenset(tuple(words[i:i + 3]) for i in range(max(len(words) - 2, 1))))
        return shingles

    def clusters(self, signatures: Sequence[object], threshold: float) -> list[str]:
        labels = list(range(len(signatures)))
        for i in range(len(signatures)):
            for j in range(i):
                if _jaccard(signatures[i], signatures[j]) >= threshold:
                    labels[i] = labels[j]
                    break
        return [f"near:{label}" for label in labels]

    def matches(self, reference: Sequence[object], queries: Sequence[object], threshold: float) -> list[bool]:
        return [any(_jaccard(q, r) >= threshold for r in reference) for q in queries]


def _jaccard(a, b) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def save_json_dataset(tables: dict[str, dict], path: Path) -> dict[str, int]:
    """The save_dataset_dict port: each split's rows as `{split}/rows.json` (production: Arrow)."""
    counts = {}
    for name, table in tables.items():
        n = table["row_len"]
        sequences, values = table["sequences"], table.get("values", {})
        count = len(next(iter(sequences.values()))) // n if sequences else 0
        rows = [{**{c: v[k * n:(k + 1) * n] for c, v in sequences.items()},
                 **{c: v[k] for c, v in values.items()}} for k in range(count)]
        (path / name).mkdir(parents=True, exist_ok=True)
        (path / name / "rows.json").write_text(json.dumps(rows))
        counts[name] = count
    return counts


class FakeTrainer:
    """The Trainer port: writes one checkpoint, `final/` and `summary.json` into the run folder.

    `given` keeps what each call received and found (the run folder's files at start), so a
    test can check that `resume` and the dataset reached the trainer.
    """

    def __init__(self):
        self.given: list[dict] = []

    def __call__(self, config, dataset_dir: Path, run_dir: Path, log: Callable[[str], None], *,
                 resume: str | None, on_checkpoint: Callable[[Path], None] | None,
                 on_progress: Callable[[int, int, dict], None] | None = None) -> dict:
        self.given.append({
            "dataset_files": sorted(p.relative_to(dataset_dir).as_posix() for p in dataset_dir.rglob("*") if p.is_file()),
            "run_files": sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file()),
            "resume": resume, "config": config,
        })
        step = len(self.given)
        checkpoint = run_dir / "checkpoints" / f"step-{step:06d}"
        checkpoint.mkdir(parents=True)
        (checkpoint / "weights.txt").write_text(f"weights after step {step}")
        (checkpoint / "checkpoint.json").write_text(json.dumps({"step": step}))
        if on_checkpoint is not None:
            on_checkpoint(checkpoint)
        if on_progress is not None:
            on_progress(step, step, {"step": step, "loss": 1.0 / step})
        (run_dir / "final").mkdir(exist_ok=True)
        (run_dir / "final" / "model.txt").write_text(f"model after step {step}")
        summary = {"steps": step, "final": str(run_dir / "final"), "resumed_from": resume}
        (run_dir / "summary.json").write_text(json.dumps(summary))
        log(f"trained {step} step(s)")
        return summary
