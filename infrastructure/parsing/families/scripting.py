"""Shell, Lua, Julia and Elixir: functions first, each with its own doc convention.

Shell and Lua document a function with the comment block above it (`#`, `--`/`---`); Julia with
a string literal right before it; Elixir with a `@doc` attribute (and a module with
`@moduledoc` inside it). Elixir's `def` is a macro call, picked out by the query's `#any-of?`;
its clauses (`def f(0)`, `def f(n)`) are one unit.
"""
from __future__ import annotations

import re

import tree_sitter as ts

from infrastructure.parsing.families.rules import (
    DocStyle, Rules, Span, field_name, first_child, strip_quotes, text, wheel,
)


SHELL = Rules(
    grammar=wheel("tree_sitter_bash"), query="(function_definition) @function\n(comment) @comment",
    doc=DocStyle(prefixes=("#",), not_prefixes=("#!",), markers=re.compile(r"^\s*#+\s?")),
)


def _lua_name(node: ts.Node) -> str | None:
    """`function json.decode()` is named by its field; `M.f = function() end` by its target."""
    if node.type == "function_declaration":
        return field_name(node)
    targets = first_child(node.parent.parent, "variable_list")
    return text(targets.named_children[0]) if targets is not None and targets.named_children else None


def _lua_span(node: ts.Node) -> Span:
    outer = node
    if node.type == "function_definition":  # the assignment, with its `local`
        outer = node.parent.parent
        if outer.parent is not None and outer.parent.type == "variable_declaration":
            outer = outer.parent
    return outer, outer


LUA = Rules(
    grammar=wheel("tree_sitter_lua"), name=_lua_name, span=_lua_span, qualifier=re.compile(r"[.:]"),
    query="(function_declaration) @function\n"
    "(assignment_statement (expression_list . (function_definition) @function))\n(comment) @comment",
    doc=DocStyle(prefixes=("--",), closing="]]", markers=re.compile(r"^\s*--+(?:\[=*\[)?\s?")),
)

_JULIA_WRAPPERS = ("typed_expression", "where_expression")


def _julia_callee(node: ts.Node | None) -> str | None:
    """The function name in a signature: `f(x)`, `Base.push!(h, v)`, `g(x)::Int where T`."""
    while node is not None and node.type in _JULIA_WRAPPERS:
        node = node.named_children[0] if node.named_children else None
    if node is None or node.type != "call_expression" or not node.named_children:
        return None
    callee = node.named_children[0]
    if callee.type == "field_expression" and callee.named_children:
        callee = callee.named_children[-1]
    return text(callee) if callee.type in ("identifier", "operator") else None  # not `$(name)(x)`


def _julia_name(node: ts.Node) -> str | None:
    if node.type == "module_definition":
        return field_name(node)
    if node.type in ("struct_definition", "abstract_definition"):
        head = first_child(node, "type_head")
        while head is not None and head.type != "identifier":
            head = head.named_children[0] if head.named_children else None
        return text(head)
    if node.type == "assignment":
        return _julia_callee(node.named_children[0])
    signature = first_child(node, "signature")
    inner = signature.named_children[0] if signature is not None and signature.named_children else None
    if inner is not None and inner.type == "identifier":  # `function f end`
        return text(inner)
    return _julia_callee(inner)


def _julia_span(node: ts.Node) -> Span:
    """`@inline function f` spans its macro call."""
    outer = node
    while outer.parent is not None and outer.parent.type == "macro_argument_list":
        outer = outer.parent.parent
    return outer, outer


def _julia_docstring(node: ts.Node, span: Span) -> str | None:
    """Julia's docstring is a string literal right above the definition."""
    before = span[0].prev_named_sibling
    if before is not None and before.type == "string_literal" \
            and before.end_point[0] >= span[0].start_point[0] - 1:
        return strip_quotes(text(before)) or None
    return None


JULIA = Rules(
    grammar=wheel("tree_sitter_julia"), name=_julia_name, span=_julia_span, doc=None,
    docstring=_julia_docstring,
    query="[(struct_definition) (abstract_definition) (module_definition)] @class\n"
    "[(function_definition) (macro_definition)] @function\n"
    "(assignment . [(call_expression) (where_expression) (typed_expression)]) @function",
)

_ELIXIR_MODULES = ("defmodule", "defprotocol", "defimpl")
_ELIXIR_FUNCTIONS = ("def", "defp", "defmacro", "defmacrop", "defguard", "defguardp", "defdelegate",
                     "defn", "defnp")
# attributes that belong to the function below them: the unit starts at the first of them
_ELIXIR_FUNCTION_ATTRIBUTES = frozenset({"spec", "impl", "deprecated", "decorate", "dialyzer", "compile"})


def _elixir_attribute(node: ts.Node | None) -> str | None:
    """`doc` for `@doc "..."`: the name of a module attribute, or None for another node."""
    if node is None or node.type != "unary_operator" or not text(node).startswith("@"):
        return None
    operand = node.child_by_field_name("operand")
    if operand is None:
        return None
    return text(operand.child_by_field_name("target") if operand.type == "call" else operand)


def _elixir_function_name(head: ts.Node | None) -> str | None:
    if head is not None and head.type == "binary_operator":
        operator = text(head.child_by_field_name("operator"))
        if operator != "when":
            return operator  # `def a + b`
        head = head.child_by_field_name("left")
    if head is not None and head.type == "call":
        head = head.child_by_field_name("target")
    return text(head) if head is not None and head.type == "identifier" else None


def _elixir_name(node: ts.Node) -> str | None:
    arguments = first_child(node, "arguments")
    head = arguments.named_children[0] if arguments is not None and arguments.named_children else None
    kind = text(node.child_by_field_name("target"))
    if kind not in _ELIXIR_MODULES:
        return _elixir_function_name(head)
    if head is None or head.type != "alias":
        return None
    implemented = re.search(r"\bfor:\s*([\w.]+)", text(arguments))  # defimpl Inspect, for: Conn
    return f"{text(head)}.{implemented.group(1)}" if kind == "defimpl" and implemented else text(head)


def _elixir_span(node: ts.Node) -> Span:
    """From the `@spec` / `@impl` attributes right above a function to its `end`."""
    first = node
    while _elixir_attribute(first.prev_named_sibling) in _ELIXIR_FUNCTION_ATTRIBUTES \
            and first.prev_named_sibling.end_point[0] >= first.start_point[0] - 1:
        first = first.prev_named_sibling
    return first, node


def _elixir_doc_text(attribute: ts.Node) -> str | None:
    """The text of a `@doc` / `@moduledoc` string or `~S` sigil (heredocs too); None for `@doc false`."""
    value = attribute.child_by_field_name("operand")
    arguments = first_child(value, "arguments")
    literal = first_child(arguments, "string", "sigil")
    if literal is None:
        return None
    if literal.type == "sigil":
        content = first_child(literal, "quoted_content")
        return strip_quotes('"' + (text(content) or "") + '"') or None
    return strip_quotes(text(literal)) or None


def _elixir_docstring(node: ts.Node, span: Span) -> str | None:
    if text(node.child_by_field_name("target")) in _ELIXIR_MODULES:
        body = first_child(node, "do_block")
        found = next((c for c in (body.named_children if body else ()) if _elixir_attribute(c) == "moduledoc"),
                     None)
        return _elixir_doc_text(found) if found is not None else None
    attribute = span[0].prev_named_sibling
    while _elixir_attribute(attribute) is not None:
        if _elixir_attribute(attribute) == "doc":
            return _elixir_doc_text(attribute)
        attribute = attribute.prev_named_sibling
    return None


def _any_of(capture: str, names: tuple[str, ...]) -> str:
    quoted = " ".join(f'"{name}"' for name in names)
    return f"((call target: (identifier) @_{capture}) @{capture} (#any-of? @_{capture} {quoted}))"


ELIXIR = Rules(
    grammar=wheel("tree_sitter_elixir"), name=_elixir_name, span=_elixir_span, doc=None,
    docstring=_elixir_docstring, clauses=frozenset({"comment", "unary_operator"}),
    query=_any_of("class", _ELIXIR_MODULES) + "\n" + _any_of("function", _ELIXIR_FUNCTIONS),
)
