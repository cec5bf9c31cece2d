"""What a language's rules say, and the small node helpers every family's rules are written with.

A `Rules` value is the whole description of one of the twelve languages of this package: its
grammar, a query that captures definition nodes as `@class` or `@function` (and comment nodes as
`@comment`), how a definition is named, which nodes its text spans, and where its doc comment is.
`extract.py` turns those into units; nothing in it knows a language by name.
"""
from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from typing import Callable

import tree_sitter as ts

Span = tuple[ts.Node, ts.Node]
"""First and last node of a unit's text (a Dart signature and the body after it)."""


def text(node: ts.Node | None) -> str | None:
    """The node's source text, or None for no node."""
    return node.text.decode("utf-8", "replace") if node is not None else None


def field_name(node: ts.Node) -> str | None:
    """The text of the node's `name` field: most grammars' definitions have one."""
    return text(node.child_by_field_name("name"))


def first_child(node: ts.Node | None, *types: str) -> ts.Node | None:
    """The first named child of one of `types`."""
    if node is None:
        return None
    return next((child for child in node.named_children if child.type in types), None)


def wheel(module: str) -> Callable[[str], object]:
    """The grammar of a tree-sitter wheel exposing `language()`, imported at its first file."""
    def grammar(suffix: str):
        return importlib.import_module(module).language()
    return grammar


def own_span(node: ts.Node) -> Span:
    """A definition whose node holds all of its text (attributes and modifiers included)."""
    return node, node


def strip_quotes(literal: str) -> str:
    """A string literal's content without its quotes, dedented (docstrings, `@doc`)."""
    body = literal.strip()
    for quote in ('"""', "'''", '"', "'"):
        if len(body) >= 2 * len(quote) and body.startswith(quote) and body.endswith(quote):
            body = body[len(quote):-len(quote)]
            break
    lines = body.strip("\n").splitlines()
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    cut = min(indents, default=0)
    return "\n".join(line[cut:] for line in lines).strip()


@dataclass(frozen=True)
class DocStyle:
    """Which comments are doc comments in a language, and how their markers are removed."""

    prefixes: tuple[str, ...]
    """A comment is a doc comment when its text starts with one of these (`///`, `/**`, `-- |`)."""
    markers: re.Pattern
    """Comment markers removed from the start of each line (`///`, ` * `, `--`)."""
    closing: str = ""
    """The block comment's end removed from the last line (`*/`, `*)`, `-}`)."""
    not_prefixes: tuple[str, ...] = ()
    """Comments that look like docs but are not (`#!` shebangs, `////` separators)."""
    after: bool = False
    """A doc comment right after a definition counts when none is before it (OCaml `.mli` style)."""
    noise: re.Pattern | None = None
    """Markup removed from the text (C#'s `<summary>` tags)."""

    def is_doc(self, comment: str) -> bool:
        return comment.startswith(self.prefixes) and not comment.startswith(self.not_prefixes)

    def clean(self, comments: list[str]) -> str | None:
        lines = []
        for comment in comments:
            if self.closing:
                comment = comment.rstrip().removesuffix(self.closing)
            lines += [self.markers.sub("", line, count=1).rstrip() for line in comment.splitlines()]
        joined = "\n".join(lines)
        if self.noise is not None:
            joined = self.noise.sub("", joined)
        return joined.strip() or None


@dataclass(frozen=True, eq=False)  # hashed by identity: one parser and query per Rules
class Rules:
    """Everything language-specific about cutting one language's files into units."""

    grammar: Callable[[str], object]
    """The tree-sitter language capsule for a file path (OCaml interfaces have their own)."""
    query: str
    """Query patterns capturing definitions as `@class` / `@function` and comments as `@comment`."""
    doc: DocStyle | None
    """Doc comments as comments before the definition; None when `docstring` finds them."""
    name: Callable[[ts.Node], str | None] = field_name
    """The definition's name; None drops the capture (an anonymous or non-definition node)."""
    span: Callable[[ts.Node], Span] = own_span
    """First and last node of the unit's text (attributes before, a detached body after)."""
    docstring: Callable[[ts.Node, Span], str | None] | None = None
    """Doc text found in the tree rather than in comments (Julia strings, Elixir `@doc`)."""
    containers: dict[str, Callable[[ts.Node], str | None]] = field(default_factory=dict)
    """Node types that are not units but make their functions methods (Haskell `instance`),
    mapped to the owner name they give."""
    bodies: frozenset[str] = frozenset()
    """Node types holding a function's body outside its definition node (Dart's `function_body`):
    a definition inside one is nested in that function, not a method of the class around it."""
    qualifier: re.Pattern | None = None
    """Splits a qualified function name into owner and name (Lua `json:decode`)."""
    prepare: Callable[[bytes], bytes] | None = None
    """Rewrites a source into text of the same length that the grammar parses better (Kotlin:
    a primary constructor on the line after its class header); units keep the original text."""
    clauses: frozenset[str] = frozenset()
    """Node types allowed between clauses of one definition, which then become one unit
    (Haskell equations after their signature, Elixir `def` clauses); empty: no merging."""
