"""Python's own parser as the fallback when tree-sitter's grammar falls behind the language.

tree-sitter-python recovers from syntax it does not know (new grammar, odd string nesting) by
wrapping part of the file in an ERROR node, and definitions inside it are lost. When that
happens and `ast` parses the file, `ast`'s definitions are used instead.
"""
from __future__ import annotations

import ast

from domain.entities import ParsedUnit

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def parse_with_ast(source: bytes) -> list[ParsedUnit] | None:
    """Classes, functions and methods of `source`, or None when `ast` cannot parse it either."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    units: list[ParsedUnit] = []
    _visit(tree, None, lines, offsets, units)
    units.sort(key=lambda u: u.start_line)
    return units


def _visit(node: ast.AST, owner: str | None, lines: list[bytes], offsets: list[int],
           out: list[ParsedUnit]) -> None:
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, _DEFS):
            _visit(child, owner, lines, offsets, out)
            continue
        is_class = isinstance(child, ast.ClassDef)
        first = min([d.lineno for d in child.decorator_list] + [child.lineno])
        kind = "class" if is_class else ("method" if owner else "function")
        # whole lines from the first decorator, like tree-sitter's span without the last newline
        content = b"".join(lines[first - 1:child.end_lineno])
        content = content[:-2] if content.endswith(b"\r\n") else content.removesuffix(b"\n")
        out.append(ParsedUnit(
            kind=kind, name=child.name, start_line=first, end_line=child.end_lineno,
            content=content.decode("utf-8", "replace"), parent=owner if kind == "method" else None,
            docstring=ast.get_docstring(child, clean=False),
            start_byte=offsets[first - 1], end_byte=offsets[first - 1] + len(content),
        ))
        if is_class:  # a def inside a function is part of that function's unit (treesitter.py)
            _visit(child, child.name, lines, offsets, out)
