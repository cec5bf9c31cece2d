"""Issue 11, item 12 (collect and dataset part), through the real CLI: a 0-byte or blank source
file is a counted skip (`empty`), not an empty unit; a --seq-len out of all proportion to the data
or beyond what the given tokenizer's model reads is refused in one line, before any row is laid
out (the dataset run is capped at 2 GB of address space: a 10M-token row took 3.5 GB before)."""
from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from presentation.cli import cli

ROOT = Path(__file__).resolve().parents[2]
# Real code: a few modules of this interpreter's standard library, copied at test time.
STDLIB = Path(sysconfig.get_paths()["stdlib"])
REAL = ("colorsys.py", "bisect.py", "fnmatch.py", "glob.py", "shlex.py", "textwrap.py",
        "calendar.py", "heapq.py", "difflib.py")


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    root = tmp_path_factory.mktemp("stdlib")
    source = root / "src"
    source.mkdir()
    for name in REAL:
        shutil.copy(STDLIB / name, source / name)
    (source / "__init__.py").write_bytes(b"")
    (source / "blank.py").write_text("\n   \n\t\n")
    done = CliRunner().invoke(cli, ["collect", str(source), "-o", str(root / "coll"), "--workers", "1",
                                    "--granularity", "file"])
    assert done.exit_code == 0, done.output
    return root / "coll", done.output


def test_empty_source_files_are_counted_skips_not_units(collected):
    collection, output = collected
    manifest = json.loads((collection / "manifest.json").read_text())
    assert manifest["counts"]["skipped"].get("empty") == 2, manifest["counts"]
    rows = [r for shard in manifest["shards"] for r in pq.read_table(collection / shard["path"]).to_pylist()]
    assert sorted(r["path"] for r in rows) == sorted(REAL)
    assert all(r["content"].strip() for r in rows)
    assert "'empty': 2" in output


def limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30))


def dataset(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "main.py", "dataset", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, preexec_fn=limit_memory)


@pytest.mark.parametrize("extra, needle", [
    ([], "the training split holds"),
    (["--no-pack"], "its longest training document has"),
])
def test_a_seq_len_no_row_could_fill_is_refused_in_one_line(collected, tmp_path, extra, needle):
    collection, _ = collected
    done = dataset("-i", str(collection), "-o", str(tmp_path / "ds"), "--seq-len", "10000000",
                   "--vocab-size", "400", *extra)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert lines[-1].startswith("Error: --seq-len 10000000: ") and needle in lines[-1], lines[-1]
    assert "% padding; use --seq-len " in lines[-1]
    assert not (tmp_path / "ds" / "stats.json").exists()
    suggested = int(lines[-1].rsplit("use --seq-len ", 1)[1].split()[0])
    assert 8 <= suggested < 10_000_000


def test_a_seq_len_beyond_the_given_tokenizer_is_refused(collected, tmp_path):
    from infrastructure.data.tokenization import train_bpe_tokenizer

    collection, _ = collected
    tokenizer = train_bpe_tokenizer([(STDLIB / name).read_text() for name in REAL], 400)
    tokenizer.model_max_length = 512  # what a model's tokenizer_config.json declares
    tokenizer.save_pretrained(str(tmp_path / "tok"))
    done = dataset("-i", str(collection), "-o", str(tmp_path / "ds"), "--seq-len", "4096",
                   "--tokenizer", str(tmp_path / "tok"))
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert lines[-1] == (f"Error: --seq-len 4096: the tokenizer {tmp_path / 'tok'} declares model_max_length 512 "
                         f"(the longest input its model reads); use --seq-len 512 or less")
