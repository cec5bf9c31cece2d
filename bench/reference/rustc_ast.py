"""rustc's own parser for Rust: structs, enums, unions, traits, functions and methods.

Stable rustc has no parse-only dump, but `RUSTC_BOOTSTRAP=1 rustc -Z unpretty=ast-tree` (an
unstable flag, allowed by RUSTC_BOOTSTRAP) prints the AST before macro expansion, with a span on
every item and attribute: this module reads that Debug dump by its indentation. One file is
parsed alone (`mod x;` files are not loaded before expansion). An item's span starts after its
attributes, so the unit starts at its first outer non-doc attribute (`#[inline]`), as collect's
do; a doc comment is not part of the unit. Function items inside a function body are not units;
a trait's method without a body is none either (as tree-sitter's `function_signature_item`).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

RUSTC = shutil.which("rustc") or "/root/.cargo/bin/rustc"
_SPAN = re.compile(r"span: .+?:(\d+):\d+: \d+:\d+ \(#\d+\),?$")
_NAME = re.compile(r"^(?:ident: )?(?:r#)?([A-Za-z_][A-Za-z0-9_]*)#\d+,$")
_CLASSES = {"Struct", "Enum", "Union", "Trait"}


def available() -> bool:
    return Path(RUSTC).exists()


def units(paths: list[Path]) -> dict[Path, list | None]:
    return {path: file_units(path) for path in paths}


def file_units(path: Path) -> list | None:
    env = dict(os.environ, RUSTC_BOOTSTRAP="1")
    done = subprocess.run([RUSTC, "--edition", "2021", "-Z", "unpretty=ast-tree", str(path)],
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        return None
    return read_dump(done.stdout.splitlines())


class _Item:
    def __init__(self, indent: int, parents: list["_Item"]):
        self.indent, self.kind, self.name, self.start, self.body = indent, None, None, None, True
        self.attributes: list[int] = []
        self.field = None
        self.doc = False
        self.in_function = any(p.kind == "Fn" for p in parents)
        self.owner = bool(parents) and parents[-1].kind in ("Impl", "Trait")

    def read(self, relative: int, text: str) -> None:
        if relative == 4:
            self.field = text.split(":", 1)[0]
            if self.field == "span":
                self.start = int(_SPAN.match(text).group(1))
            elif self.field == "kind" and self.kind is None:
                self.kind = text[len("kind: "):].rstrip("({,")
        elif self.field == "attrs" and relative == 12:
            if text.startswith("kind: "):
                self.doc = text.startswith("kind: DocComment")
            elif text.startswith("span: ") and not self.doc:
                self.attributes.append(int(_SPAN.match(text).group(1)))
            elif text == "style: Inner,":
                self.doc = True  # `#![...]` belongs to the enclosing module
        elif self.field == "kind" and self.name is None and relative in (8, 12):
            found = _NAME.match(text)
            if found and (relative == 8) == (self.kind in ("Struct", "Enum", "Union")):
                self.name = found.group(1)
        elif self.field == "kind" and self.kind == "Fn" and relative == 12 and text == "body: None,":
            self.body = False

    def unit(self) -> list | None:
        if self.in_function or self.name is None or self.start is None:
            return None
        start = min([self.start] + self.attributes)
        if self.kind in _CLASSES:
            return [self.name, start, "class", None]
        if self.kind == "Fn" and self.body:
            return [self.name, start, "method" if self.owner else "function", None]
        return None


def read_dump(lines: list[str]) -> list:
    """Units of one `-Z unpretty=ast-tree` dump."""
    stack: list[_Item] = []
    items: list[_Item] = []
    for line in lines:
        text = line.lstrip(" ")
        indent = len(line) - len(text)
        while stack and indent <= stack[-1].indent:
            stack.pop()
        if text == "Item {":
            item = _Item(indent, stack)
            stack.append(item)
            items.append(item)
        elif stack:
            stack[-1].read(indent - stack[-1].indent, text)
    return [u for u in (item.unit() for item in items) if u is not None]
