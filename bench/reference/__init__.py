"""Each language's own parser, as a reference for collect's units (bench/reference_parsers.py).

Every reference reads a batch of files and gives, per file, `[name, start line, kind, category]`
units under collect's unit policy (infrastructure/parsing/treesitter.py: a unit starts at its
first decorator / annotation / attribute, never at its doc comment; definitions inside a function
body are not units), or None when the parser rejects the file. `category` names the syntax the
unit is written in when it is one of issue 12's categories (decorated, grouped, anonymous-class,
string-keyed), else None.

They are bench tools, installed outside the repository and its venv (none is a dependency of
codetrain); checked 2026-11-30 on this machine (Debian 12):
- typescript, javascript: the TypeScript compiler API 5.6 (`npm install typescript@5` into a
  folder named by CODETRAIN_TYPESCRIPT, default /tmp/npm12/node_modules), run by node: units.js.
- go: go/parser from `apt-get install golang-go` (Go 1.19): units.go, built once into
  $TMPDIR/codetrain-reference-go.
- ruby: Ripper from `apt-get install ruby` (Ruby 3.1): units.rb.
- php: nikic/PHP-Parser 4.15 from `apt-get install php-parser` (with php-cli 8.2): units.php.
  (token_get_all would have needed a hand-written parser over tokens; not needed.)
- rust: rustc 1.95's own parser through `RUSTC_BOOTSTRAP=1 rustc -Z unpretty=ast-tree`: rustc_ast.py.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TYPESCRIPT = Path(os.environ.get("CODETRAIN_TYPESCRIPT", "/tmp/npm12/node_modules"))
PHP_PARSER = Path("/usr/share/php/PhpParser/autoload.php")
Units = dict[Path, list | None]


def _run(command: list[str], paths: list[Path], env: dict | None = None) -> Units:
    """One batch through a reference program: paths as JSON on stdin, units as JSON on stdout."""
    done = subprocess.run(command, input=json.dumps([str(p) for p in paths]), capture_output=True,
                          text=True, env=env, check=True)
    found = json.loads(done.stdout)
    return {path: found.get(str(path)) for path in paths}


def typescript(paths: list[Path]) -> Units:
    return _run(["node", str(HERE / "units.js")], paths, dict(os.environ, NODE_PATH=str(TYPESCRIPT)))


def _go_binary() -> Path:
    """units.go built once (go/parser is in Go's standard library: no module is fetched)."""
    folder = Path(tempfile.gettempdir()) / "codetrain-reference-go"
    binary = folder / "units"
    source = HERE / "units.go"
    if binary.exists() and binary.stat().st_mtime >= source.stat().st_mtime:
        return binary
    folder.mkdir(exist_ok=True)
    shutil.copy(source, folder / "main.go")
    (folder / "go.mod").write_text("module referenceunits\n\ngo 1.19\n")
    env = dict(os.environ, GOCACHE=str(folder / "cache"), GOFLAGS="-mod=mod", GO111MODULE="on")
    subprocess.run(["go", "build", "-o", str(binary), "."], cwd=folder, env=env, check=True)
    return binary


def golang(paths: list[Path]) -> Units:
    return _run([str(_go_binary())], paths)


def ruby(paths: list[Path]) -> Units:
    return _run(["ruby", str(HERE / "units.rb")], paths)


def php(paths: list[Path]) -> Units:
    return _run(["php", "-d", "memory_limit=1G", str(HERE / "units.php")], paths)


def rust(paths: list[Path]) -> Units:
    from bench.reference import rustc_ast

    return rustc_ast.units(paths)


def available() -> dict[str, object]:
    """language -> reference, for the references whose tool is installed here."""
    from bench.reference import rustc_ast

    node = shutil.which("node") and (TYPESCRIPT / "typescript").is_dir()
    tools = {
        "typescript": (typescript, node), "javascript": (typescript, node),
        "go": (golang, shutil.which("go")), "ruby": (ruby, shutil.which("ruby")),
        "php": (php, shutil.which("php") and PHP_PARSER.exists()),
        "rust": (rust, rustc_ast.available()),
    }
    return {language: reference for language, (reference, ok) in tools.items() if ok}
