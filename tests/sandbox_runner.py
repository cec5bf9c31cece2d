"""Runs programs in the real sandbox from a separate process, as whichever user started it.

The hostile-program tests start this file as root and, through `setpriv`, as the unprivileged
user `nobody`, with the programs as a JSON list on stdin; it prints one JSON object: the
isolation chosen, the memory bound, and each run's result. Stdlib + the sandbox only, so the
system Python can run it where the project's virtualenv is closed to `nobody`.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from domain.errors import CodetrainError  # noqa: E402
from infrastructure.sandbox.supervisor import Limits, Sandbox  # noqa: E402


def main() -> None:
    options = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    programs = json.loads(sys.stdin.read())
    limits = Limits(**options.get("limits", {}))
    try:
        box = Sandbox(limits, **({"allow_unsafe": True} if options.get("unsafe") else {}))
    except CodetrainError as error:
        print(json.dumps({"refused": str(error)}))
        return
    with box:
        print(json.dumps({"pid": os.getpid(), "isolation": box.isolation}), flush=True)
        results = dict(box.run_many(programs, options.get("workers", 1)))
        print(json.dumps({"isolation": box.isolation, "memory_bound": box.memory_bound, "warning": box.warning,
                          "results": [asdict(results[i]) for i in range(len(programs))]}))


if __name__ == "__main__":
    main()
