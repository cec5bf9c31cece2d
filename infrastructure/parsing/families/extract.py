"""Units from a parse tree, by a language's `Rules`: the one loop behind the twelve languages.

The query engine captures definitions and comments in one pass (in C). A unit's text runs from
the first to the last node of its span; its owner is the nearest enclosing captured class (or
container); its doc comment is the block of comments ending on the line above its first line
(line-based, so a comment the grammar hangs elsewhere in the tree is still found).
"""
from __future__ import annotations

from bisect import bisect_right
from functools import lru_cache

import tree_sitter as ts

from domain.entities import ParsedUnit
from infrastructure.parsing.families.rules import Rules, Span, text


@lru_cache(maxsize=None)
def _tools(language: str, suffix: str, rules: Rules) -> tuple[ts.Parser, ts.Query]:
    grammar = ts.Language(rules.grammar(suffix))
    return ts.Parser(grammar), ts.Query(grammar, rules.query)


def _starts_line(source: bytes, node: ts.Node) -> bool:
    line_start = source.rfind(b"\n", 0, node.start_byte) + 1
    return not source[line_start:node.start_byte].strip()


def _rest_is_blank(source: bytes, end: int) -> bool:
    """Whether the line after the one `end` is on is blank (or the file ends first)."""
    newline = source.find(b"\n", end)
    if newline < 0:
        return True
    following = source.find(b"\n", newline + 1)
    return not source[newline + 1:following if following >= 0 else len(source)].strip()


class _Comments:
    """The file's comments by the row they end and start on."""

    def __init__(self, source: bytes, nodes: list[ts.Node], rules: Rules):
        self.source, self.style = source, rules.doc
        self.by_end = {node.end_point[0]: node for node in nodes}
        self.by_start = {node.start_point[0]: node for node in reversed(nodes)}

    def before(self, first: ts.Node) -> str | None:
        """The doc comments of the contiguous comment block right above `first` (no blank line)."""
        block, row = [], first.start_point[0]
        comment = self.by_end.get(row)
        if comment is None or comment.end_byte > first.start_byte:  # `/** x */ fun f()` on one line
            comment = self.by_end.get(row - 1)
        while comment is not None and _starts_line(self.source, comment):
            block.insert(0, text(comment))
            row = comment.start_point[0]
            comment = self.by_end.get(row - 1)
        docs = [body for body in block if self.style.is_doc(body)]  # not a `// TODO` among them
        return self.style.clean(docs) if docs else None

    def after(self, last: ts.Node) -> str | None:
        """A doc comment on the definition's last line or the next, followed by a blank line."""
        row = last.end_point[0]
        for comment in (self.by_start.get(row), self.by_start.get(row + 1)):
            if comment is not None and comment.start_byte >= last.end_byte \
                    and self.style.is_doc(text(comment)) and _rest_is_blank(self.source, comment.end_byte):
                return self.style.clean([text(comment)])
        return None

    def find(self, span: Span) -> str | None:
        found = self.before(span[0])
        if found is None and self.style.after:
            found = self.after(span[1])
        return found


def _owner(node: ts.Node, rules: Rules, classes: set[int], functions: set[int]) -> str | None:
    """Name of the class (or container) a function is defined in; None when free or nested."""
    parent = node.parent
    while parent is not None:
        if parent.id in classes:
            return rules.name(parent)
        if parent.type in rules.containers:
            return rules.containers[parent.type](parent)
        if parent.id in functions or parent.type in rules.bodies:
            return None
        parent = parent.parent
    return None


def _siblings_before(node: ts.Node, skipped: frozenset[str]) -> ts.Node | None:
    """The named sibling before `node`, passing over comments, pragmas and attributes."""
    sibling = node.prev_named_sibling
    while sibling is not None and sibling.type in skipped:
        sibling = sibling.prev_named_sibling
    return sibling


def _unit(kind: str, name: str, parent: str | None, docstring: str | None, source: bytes,
          start: int, end: int, start_line: int) -> ParsedUnit:
    """A unit over the whole lines of `source[start:end]` (the first line's indentation, the rest
    of the last line: `M.f = function() end -- why`), without trailing blank space: an
    indentation-based body (Scala 3, Haskell) ends where the next definition starts, after the
    lines between."""
    start = source.rfind(b"\n", 0, start) + 1
    end = start + len(source[start:end].rstrip())
    line_end = source.find(b"\n", end)
    content = source[start:len(source) if line_end < 0 else line_end].rstrip()
    return ParsedUnit(
        kind=kind, name=name, start_line=start_line, end_line=start_line + content.count(b"\n"),
        content=content.decode("utf-8", "replace"), parent=parent, docstring=docstring,
        start_byte=start, end_byte=start + len(content),
    )


def _lines(source: bytes):
    """Line number of a byte offset, for sources whose parsed text moved a line break."""
    breaks, at = [], source.find(b"\n")
    while at >= 0:
        breaks.append(at)
        at = source.find(b"\n", at + 1)
    return lambda offset: bisect_right(breaks, offset - 1) + 1


def _identity(node: ts.Node, is_class: bool, rules: Rules, classes: set[int],
              functions: set[int]) -> tuple[str, str | None, str] | None:
    """Name, owner and kind of a captured definition; None when it has no name."""
    name = rules.name(node)
    if not name:
        return None
    parent = None if is_class else _owner(node, rules, classes, functions)
    if not is_class and rules.qualifier is not None:  # Lua `function json.decode()`
        *owners, name = rules.qualifier.split(name)
        parent = parent or (owners[-1] if owners and owners[-1] else None)
    return name, parent, "class" if is_class else ("method" if parent else "function")


def units(source: bytes, language: str, rules: Rules, path: str = "") -> list[ParsedUnit]:
    """Classes, functions and methods of one file of `language`."""
    dot = path.rfind(".")
    parser, query = _tools(language, path[dot:] if dot > path.rfind("/") else "", rules)
    parsed = rules.prepare(source) if rules.prepare is not None else source
    assert len(parsed) == len(source), "prepare must keep every byte offset"
    captures = ts.QueryCursor(query).captures(parser.parse(parsed).root_node)
    line_of = _lines(source) if parsed is not source else lambda offset: None
    classes = {node.id: node for node in captures.get("class", [])}
    functions = {node.id: node for node in captures.get("function", []) if node.id not in classes}
    comments = _Comments(source, sorted(captures.get("comment", []), key=lambda n: n.start_byte), rules)
    found = sorted([(n, True) for n in classes.values()] + [(n, False) for n in functions.values()],
                   key=lambda item: (item[0].start_byte, -item[0].end_byte))
    class_ids, function_ids = set(classes), set(functions)
    result: list[ParsedUnit] = []
    ends: dict[int, int] = {}  # last node id of a unit -> its index in result (clause merging)
    for node, is_class in found:
        identity = _identity(node, is_class, rules, class_ids, function_ids)
        if identity is None:
            continue
        (name, parent, kind), (first, last) = identity, rules.span(node)
        before = _siblings_before(first, rules.clauses) if rules.clauses else None
        known = result[ends[before.id]] if before is not None and before.id in ends else None
        if known is not None and (known.name, known.kind) == (name, kind):  # one more clause
            result[ends[before.id]] = _unit(kind, name, parent, known.docstring, source, known.start_byte,
                                            last.end_byte, known.start_line)
            ends[last.id] = ends[before.id]
            continue
        docstring = rules.docstring(node, (first, last)) if rules.docstring else comments.find((first, last))
        ends[last.id] = len(result)
        start_line = line_of(first.start_byte) or first.start_point[0] + 1
        result.append(_unit(kind, name, parent, docstring, source, first.start_byte, last.end_byte, start_line))
    return result
