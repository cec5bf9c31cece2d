"""Issue 11, items 8 and 12 (collect part): a repository holding a symlink loop, a file name that
is not UTF-8, 1,500 nested folders, a FIFO and a 6 GB sparse LICENSE is collected next to a
clean one through the real CLI: each hazard is a counted skip, the other source still finishes,
and the licence is read only as far as a licence can go (the run is capped at 4 GB of memory)."""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def hostile_repo(root: Path) -> Path:
    root.mkdir()
    (root / "ok.py").write_text("def ok():\n    return 1\n")
    os.symlink("b", root / "a")
    os.symlink("a", root / "b")
    (root / os.fsdecode(b"bad\xff\xfename.py")).write_text("def bad():\n    return 2\n")
    os.mkfifo(root / "pipe.py")
    fd = os.open(root, os.O_RDONLY)
    try:
        for _ in range(1500):  # relative steps: an absolute path this deep is past PATH_MAX
            os.mkdir("d", dir_fd=fd)
            inner = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
        with open(os.open("deep.py", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w") as handle:
            handle.write("def deep():\n    return 3\n")
    finally:
        os.close(fd)
    return root


def remove_deep(root: Path) -> None:
    """rmdir the nesting bottom up, iteratively: pytest's cleanup (shutil.rmtree) recurses and
    would fail on it in a later session."""
    subprocess.run(["find", str(root / "d"), "-depth", "-delete"], check=True)


def clean_repo(root: Path) -> Path:
    root.mkdir()
    (root / "fine.py").write_text("def fine():\n    return 4\n")
    with open(root / "LICENSE", "wb") as handle:
        handle.write(b"MIT License\n\nPermission is hereby granted, free of charge, to any person ... "
                     b"The above copyright notice and this permission notice shall be included\n")
        handle.truncate(6 * 2**30)  # sparse: 6 GB to read, nothing on disk
    return root


def run_collect(hostile: Path, clean: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "main.py", "collect", str(hostile), str(clean), "-o", str(out),
                           "--workers", "1"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          preexec_fn=limit_memory)


def limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, 4 * 2**30))


def test_hazards_are_counted_skips_and_the_other_source_finishes(tmp_path):
    hostile, clean = hostile_repo(tmp_path / "hostile"), clean_repo(tmp_path / "clean")
    try:
        done = run_collect(hostile, clean, tmp_path / "out")
    finally:
        remove_deep(hostile)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    skipped = manifest["counts"]["skipped"]
    assert skipped["symlink_inside"] == 2 and skipped["non_utf8_name"] == 1 and skipped["not_regular_file"] == 1
    assert {s["repo"]: s["files"] for s in manifest["sources"]} == {"clean": 2, "hostile": 2}  # deep.py is read
    assert {s["repo"]: s["license"] for s in manifest["sources"]}["clean"] == "MIT"
