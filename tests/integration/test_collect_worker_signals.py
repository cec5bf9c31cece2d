"""collect's worker pool ends when its parent only notes SIGTERM.

A trainer (or Ray) in the same process installs a SIGTERM handler that records the signal and
returns. Forked pool workers inherited it, so when the pool was terminated (`with Pool(...)`
ends with terminate(); the end of collect, or an error) the idle workers noted the SIGTERM and
went on waiting for tasks: the join never returned (seen as a test run hung in
test_train_classification). Real processes, real fork.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import multiprocessing, signal, sys
sys.path.insert(0, {root!r})
from application.collect import files

def handler_in_worker(_):
    return signal.getsignal(signal.SIGTERM) == signal.SIG_DFL

if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda signum, frame: None)  # a stop request: noted, not obeyed
    with multiprocessing.get_context("fork").Pool(2, initializer=files._init_worker, initargs=(None,)) as pool:
        print(all(pool.map(handler_in_worker, range(8))))
    print("terminated")
"""


def test_pool_workers_end_on_sigterm_whatever_their_parent_installed(tmp_path):
    script = tmp_path / "pool.py"
    script.write_text(textwrap.dedent(SCRIPT.format(root=str(ROOT))))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True", "terminated"]
