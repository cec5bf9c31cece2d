"""Small collections for the dataset tests, written the way `collect` writes them
(Parquet shards + manifest.json with shards and sources), so the real `dataset` verb reads them."""
from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import xxhash

WORDS = (
    "alpha beta gamma delta omega sigma kappa lambda theta zeta record buffer stream parse token "
    "cache index merge split frame packet socket header footer matrix vector scalar tensor node edge "
    "graph tree heap queue stack table column row field value entry batch chunk block page layout "
    "window cursor signal event handler router server client request response session secret"
).split()


def random_module(rng: random.Random, functions: int = 4, marker: str = "") -> str:
    """A plausible Python module whose word 5-grams differ from any other one's."""
    parts = []
    for f in range(functions):
        name = f"{rng.choice(WORDS)}_{rng.choice(WORDS)}_{rng.randint(0, 10**6)}"
        args = ", ".join(rng.sample(WORDS, 2))
        body = [f"    {rng.choice(WORDS)}_{i} = {rng.choice(WORDS)}({rng.choice(WORDS)}, {rng.randint(0, 999)})"
                for i in range(rng.randint(3, 7))]
        if marker:
            body.append(f"    {marker} = {marker}_{f}({marker})")
        parts.append(f"def {name}({args}):\n" + "\n".join(body) + f"\n    return {rng.choice(WORDS)}\n")
    return "\n\n".join(parts)


def unit(repo: str, path: str, content: str, kind: str = "file", language: str = "python",
         name: str | None = None, **extra) -> dict:
    row = {
        "id": xxhash.xxh64_hexdigest(f"{repo}\0{path}\0{kind}\0{name}".encode()), "repo": repo,
        "commit": xxhash.xxh64_hexdigest(repo.encode()) * 2 + "0" * 8, "path": path, "language": language,
        "kind": kind, "name": name, "parent": None, "start_line": 1, "end_line": content.count("\n") + 1,
        "content": content, "docstring": None,
        "content_hash": xxhash.xxh64_hexdigest(" ".join(content.split()).encode()), "license": "mit",
    }
    row.update(extra)
    return row


def write_collection(root: Path, rows: list[dict], shard_rows: int = 50) -> Path:
    """Write `rows` as a collection folder (shards first, manifest last)."""
    from infrastructure.data.parquet import write_shard

    root.mkdir(parents=True, exist_ok=True)
    shards = []
    for start in range(0, len(rows), shard_rows):
        path = f"data/part-{len(shards):05d}.parquet"
        write_shard(rows[start : start + shard_rows], root / path)
        shards.append({"path": path, "rows": len(rows[start : start + shard_rows])})
    sources = [{"origin": f"/src/{repo}", "repo": repo, "commit": commit}
               for repo, commit in sorted({(r["repo"], r["commit"]) for r in rows})]
    manifest = {"format": "codetrain-collection/1", "shards": shards, "sources": sources,
                "counts": {"units": len(rows)}}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def humaneval_problems() -> list[dict]:
    from infrastructure.evaluation.benchmarks import humaneval_path

    with gzip.open(humaneval_path(), "rt") as handle:
        return [json.loads(line) for line in handle]


def near_copy(text: str) -> str:
    """The same module with one line edited: a near-duplicate (Jaccard ~0.9)."""
    lines = text.splitlines()
    lines[1] = lines[1] + "  # patched"
    return "\n".join(lines) + "\n"
