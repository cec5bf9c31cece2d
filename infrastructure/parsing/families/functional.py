"""Haskell and OCaml: functions defined by equations and bindings, types as classes.

Haskell: a function is its type signature plus every equation after it (one unit, from the
signature's line), documented by a `-- |` or `{-|` comment above; type classes, `data` and
`newtype` declarations are classes, and an `instance` makes its equations methods of
`Class Type`. OCaml: a `let` binding with parameters (or bound to `fun`/`function`) is a
function, record and variant types, modules, module types and classes are classes, `val`
specifications of function type are functions in interfaces; a `(** *)` comment documents the
definition it is right before, or, in the `.mli` style, right after.
"""
from __future__ import annotations

import importlib
import re

import tree_sitter as ts

from infrastructure.parsing.families.rules import DocStyle, Rules, Span, field_name, first_child, text, wheel


def _haskell_instance(node: ts.Node) -> str | None:
    """`instance Random Int where` owns its equations as `Random Int`."""
    patterns = node.child_by_field_name("patterns")
    return " ".join(part for part in (field_name(node), text(patterns)) if part) or None


def _haskell_name(node: ts.Node) -> str | None:
    """`default f :: ...` (a class's default method) is named by the signature it holds."""
    if node.type == "default_signature":
        node = node.child_by_field_name("signature") or node
    return field_name(node)


HASKELL = Rules(
    grammar=wheel("tree_sitter_haskell"), name=_haskell_name,
    containers={"instance": _haskell_instance},
    clauses=frozenset({"comment", "haddock", "pragma"}),
    query="[(class) (data_type) (newtype)] @class\n"
    "(function name: (_)) @function\n(class_declarations (default_signature) @function)\n"
    + "".join(f"({body} [(bind) (signature)] @function)\n"
              for body in ("declarations", "class_declarations", "instance_declarations"))
    + "[(comment) (haddock)] @comment",
    doc=DocStyle(prefixes=("-- |", "--|", "{-|", "{- |"), closing="-}",
                 markers=re.compile(r"^\s*(?:--+ ?\|?|\{- ?\|?)\s?")),
)


def _ocaml_grammar(suffix: str):
    module = importlib.import_module("tree_sitter_ocaml")
    return module.language_ocaml_interface() if suffix == ".mli" else module.language_ocaml()


_OCAML_NAMES = {"module_binding": "module_name", "module_type_definition": "module_type_name",
                "class_binding": "class_name", "method_definition": "method_name",
                "value_specification": "value_name", "external": "value_name"}
_OCAML_DEFINITIONS = frozenset({"value_definition", "type_definition", "module_definition", "class_definition"})


def _ocaml_name(node: ts.Node) -> str | None:
    if node.type in _OCAML_NAMES:
        return text(first_child(node, _OCAML_NAMES[node.type]))
    if node.type == "let_binding":
        return text(node.child_by_field_name("pattern"))
    return field_name(node)


def _ocaml_span(node: ts.Node) -> Span:
    """The first binding of `let rec f ... and g ...` starts at `let`; later ones at their name."""
    parent = node.parent
    if parent is not None and parent.type in _OCAML_DEFINITIONS \
            and first_child(parent, node.type).id == node.id:
        return parent, node
    return node, node


OCAML = Rules(
    grammar=_ocaml_grammar, name=_ocaml_name, span=_ocaml_span,
    query="(module_definition (module_binding) @class)\n(module_type_definition) @class\n"
    "(class_definition (class_binding) @class)\n"
    "(type_definition (type_binding body: [(record_declaration) (variant_declaration)]) @class)\n"
    "(let_binding pattern: (value_name) (parameter)) @function\n"
    "(let_binding pattern: (value_name) body: [(fun_expression) (function_expression)]) @function\n"
    "(method_definition) @function\n"
    "(value_specification type: (function_type)) @function\n(external type: (function_type)) @function\n"
    "(comment) @comment",
    doc=DocStyle(prefixes=("(**",), not_prefixes=("(***", "(**)"), closing="*)", after=True,
                 markers=re.compile(r"^\s*(?:\(\*\*|\*(?!\)))?\s?")),
)
