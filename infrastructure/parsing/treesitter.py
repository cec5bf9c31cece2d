"""tree-sitter parser: files into classes, functions and methods."""
from __future__ import annotations

from functools import lru_cache

import tree_sitter as ts

from domain.entities import ParsedUnit

EXTENSIONS = {".py": "python", ".pyi": "python"}


@lru_cache(maxsize=None)
def _parser(language: str) -> ts.Parser:
    import tree_sitter_python

    grammars = {"python": tree_sitter_python.language}
    return ts.Parser(ts.Language(grammars[language]()))


def _text(node: ts.Node | None) -> str | None:
    return node.text.decode("utf-8", "replace") if node is not None else None


def _python_docstring(body: ts.Node | None) -> str | None:
    if body is None or not body.named_children:
        return None
    first = body.named_children[0]
    if first.type == "expression_statement" and first.named_children:
        string = first.named_children[0]
        if string.type == "string":
            parts = [c for c in string.named_children if c.type == "string_content"]
            return "".join(_text(p) for p in parts) or None
    return None


def _walk_python(node: ts.Node, parent_class: str | None, out: list[ParsedUnit]) -> None:
    for child in node.named_children:
        target = child.child_by_field_name("definition") if child.type == "decorated_definition" else child
        if target is None or target.type not in ("class_definition", "function_definition"):
            if child.type not in ("class_definition", "function_definition"):
                _walk_python(child, parent_class, out)
            continue
        name = _text(target.child_by_field_name("name"))
        body = target.child_by_field_name("body")
        is_class = target.type == "class_definition"
        kind = "class" if is_class else ("method" if parent_class else "function")
        out.append(
            ParsedUnit(
                kind=kind,
                name=name,
                start_line=child.start_point[0] + 1,
                end_line=child.end_point[0] + 1,
                content=_text(child),
                parent=parent_class if kind == "method" else None,
                docstring=_python_docstring(body),
            )
        )
        if body is not None:
            _walk_python(body, name if is_class else None, out)


class TreeSitterParser:
    def language_for(self, path: str, head: bytes = b"") -> str | None:
        for ext, language in EXTENSIONS.items():
            if path.endswith(ext):
                return language
        if head.startswith(b"#!") and b"python" in head.split(b"\n", 1)[0]:
            return "python"
        return None

    def parse(self, source: bytes, language: str) -> list[ParsedUnit]:
        tree = _parser(language).parse(source)
        units: list[ParsedUnit] = []
        _walk_python(tree.root_node, None, units)
        return units
