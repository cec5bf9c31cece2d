"""C#, Kotlin, Swift, Scala, Dart and Zig: braces, classes, and `///` or `/** */` doc comments.

Attributes and annotations are children of the definition node in all of these grammars but
Dart's, so the unit starts at the first of them; Dart keeps annotations and a method's body as
siblings of its signature, and its span reaches back and forward to them.
"""
from __future__ import annotations

import re

import tree_sitter as ts

from infrastructure.parsing.families.rules import DocStyle, Rules, Span, field_name, first_child, text, wheel

SLASH_DOC = DocStyle(
    prefixes=("///", "/**"), not_prefixes=("////", "/**/"), closing="*/",
    markers=re.compile(r"^\s*(?:/\*\*+|///?|\*+(?!/))\s?"),
)
CSHARP_DOC = DocStyle(
    prefixes=SLASH_DOC.prefixes, not_prefixes=SLASH_DOC.not_prefixes, closing="*/",
    markers=SLASH_DOC.markers, noise=re.compile(r"</?summary>"),
)


def _named(defaults: dict[str, str]):
    """The `name` field, else a fixed name by node type (`init`, `constructor`, `Companion`)."""
    def name(node: ts.Node) -> str | None:
        return field_name(node) or defaults.get(node.type)
    return name


def _csharp_name(node: ts.Node) -> str | None:
    if node.type == "operator_declaration":
        return f"operator {text(node.child_by_field_name('operator'))}"
    if node.type == "conversion_operator_declaration":
        return f"operator {text(node.child_by_field_name('type'))}"
    if node.type == "destructor_declaration":
        return f"~{field_name(node)}"
    return field_name(node)


_SWIFT_OPERATOR = re.compile(r"\bfunc\s+([^\s(<]+)")


def _kotlin_span(node: ts.Node) -> Span:
    """A top-level `@OptIn(X::class)` on the line above a `fun` is parsed as an annotated
    expression of its own (the grammar takes `(X::class)` for an operand): it is the function's."""
    first = node
    while first.prev_named_sibling is not None and first.prev_named_sibling.type == "annotated_expression" \
            and first.prev_named_sibling.end_point[0] == first.start_point[0] - 1:
        first = first.prev_named_sibling
    return first, node


_KOTLIN_NEXT_LINE_CONSTRUCTOR = re.compile(
    rb"(\bclass[ \t]+\w+(?:<[^>\n]*>)?)\n([ \t]*(?:(?:private|internal|protected|public)[ \t]+)?"
    rb"(?:@\w+[ \t]+)*constructor[ \t]*\()")


def _kotlin_prepare(source: bytes) -> bytes:
    """`class A\nprivate constructor(...)` makes the grammar give up on the whole class (an ERROR
    node to the end of the file); the same text on one line parses."""
    if b"constructor" not in source:
        return source
    return _KOTLIN_NEXT_LINE_CONSTRUCTOR.sub(rb"\1 \2", source)


def _swift_name(node: ts.Node) -> str | None:
    """`static func == (a, b)` has no name field: its operator is the name."""
    fixed = {"init_declaration": "init", "deinit_declaration": "deinit", "subscript_declaration": "subscript"}
    name = fixed.get(node.type) or field_name(node)
    if name is None and node.type == "function_declaration":
        found = _SWIFT_OPERATOR.search(text(node))
        name = found.group(1) if found else None
    return name.split("<", 1)[0].strip() if name else None  # `extension Collection<String>`


_DART_SIGNATURES = ("function_signature", "getter_signature", "setter_signature", "constructor_signature",
                    "constant_constructor_signature", "factory_constructor_signature",
                    "redirecting_factory_constructor_signature", "operator_signature")
_DART_OPERATOR = re.compile(r"\boperator\s*([^\s(]+)")


def _dart_name(node: ts.Node) -> str | None:
    if node.type in ("function_signature", "getter_signature", "setter_signature"):
        return field_name(node)
    if node.type == "operator_signature":
        found = _DART_OPERATOR.search(text(node))
        return f"operator {found.group(1)}" if found else None
    if node.type.endswith("constructor_signature"):  # `A.named(...)`, `factory A.of(...)`
        return ".".join(text(c) for c in node.named_children if c.type == "identifier") or None
    return field_name(node) or text(first_child(node, "identifier"))


def _dart_span(node: ts.Node) -> Span:
    """From the annotations before a signature to the body after it (siblings in this grammar)."""
    outer = node
    if node.parent.type in ("method_signature", "declaration"):
        outer = node.parent
    elif node.parent.type == "lambda_expression":  # a local function holds its own body
        outer = node.parent.parent
    last = outer
    body = outer.next_named_sibling
    if outer.type != "local_function_declaration" and body is not None and body.type == "function_body":
        last = body
    elif last.next_sibling is not None and last.next_sibling.type == ";":  # `void abstract();`
        last = last.next_sibling
    first = outer
    while first.prev_named_sibling is not None and first.prev_named_sibling.type == "annotation":
        first = first.prev_named_sibling
    return first, last


def _zig_name(node: ts.Node) -> str | None:
    """Zig types are values: `const Parser = struct { ... }` is named by its declaration."""
    if node.type == "function_declaration":
        return field_name(node)
    return text(first_child(node.parent, "identifier"))


def _zig_span(node: ts.Node) -> Span:
    outer = node if node.type == "function_declaration" else node.parent
    return outer, outer


def _alternatives(*types: str) -> str:
    return "[" + " ".join(f"({t})" for t in types) + "]"


CSHARP = Rules(
    grammar=wheel("tree_sitter_c_sharp"), doc=CSHARP_DOC, name=_csharp_name,
    query=_alternatives("class_declaration", "struct_declaration", "record_declaration",
                        "interface_declaration", "enum_declaration") + " @class\n"
    + _alternatives("method_declaration", "constructor_declaration", "destructor_declaration",
                    "local_function_statement", "operator_declaration",
                    "conversion_operator_declaration") + " @function\n(comment) @comment",
)
KOTLIN = Rules(
    grammar=wheel("tree_sitter_kotlin"), doc=SLASH_DOC,
    name=_named({"companion_object": "Companion", "secondary_constructor": "constructor"}), span=_kotlin_span,
    prepare=_kotlin_prepare,
    query=_alternatives("class_declaration", "object_declaration", "companion_object") + " @class\n"
    + _alternatives("function_declaration", "secondary_constructor") + " @function\n"
    + _alternatives("line_comment", "block_comment") + " @comment",
)
SWIFT = Rules(
    grammar=wheel("tree_sitter_swift"), doc=SLASH_DOC, name=_swift_name,
    query=_alternatives("class_declaration", "protocol_declaration") + " @class\n"
    + _alternatives("function_declaration", "init_declaration", "deinit_declaration",
                    "subscript_declaration", "protocol_function_declaration") + " @function\n"
    + _alternatives("comment", "multiline_comment") + " @comment",
)
SCALA = Rules(
    grammar=wheel("tree_sitter_scala"), doc=SLASH_DOC,
    query=_alternatives("class_definition", "object_definition", "trait_definition",
                        "enum_definition") + " @class\n"
    + _alternatives("function_definition", "function_declaration") + " @function\n"
    + _alternatives("comment", "block_comment") + " @comment",
)
DART = Rules(
    grammar=wheel("tree_sitter_dart"), doc=SLASH_DOC, name=_dart_name, span=_dart_span,
    bodies=frozenset({"function_body"}),
    query=_alternatives("class_definition", "mixin_declaration", "extension_declaration",
                        "enum_declaration", "extension_type_declaration") + " @class\n"
    + "(program " + _alternatives("function_signature", "getter_signature", "setter_signature") + " @function)\n"
    + "(method_signature " + _alternatives(*_DART_SIGNATURES) + " @function)\n"
    + "(declaration " + _alternatives(*_DART_SIGNATURES) + " @function)\n"
    + "(local_function_declaration (lambda_expression (function_signature) @function))\n"
    + _alternatives("comment", "documentation_comment") + " @comment",
)
ZIG = Rules(
    grammar=wheel("tree_sitter_zig"), name=_zig_name, span=_zig_span,
    doc=DocStyle(prefixes=("///",), not_prefixes=("////",), markers=re.compile(r"^\s*///\s?")),
    query="(variable_declaration " + _alternatives("struct_declaration", "enum_declaration",
                                                   "union_declaration", "opaque_declaration") + " @class)\n"
    + "(function_declaration) @function\n(comment) @comment",
)
