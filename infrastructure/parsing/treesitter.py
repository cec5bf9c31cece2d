"""tree-sitter parser: files into classes, functions and methods, in 22 languages.

The grammar's query engine finds every definition node in C; Python then names each one,
finds its enclosing class by walking up a few parents, and picks its docstring. The twelve
languages of `families/` are cut by their own rules.

What a unit is, in every language:
- its content is exactly the lines `start_line..end_line` of its file, whole lines, so a
  dedented copy parses on its own (a method's first line keeps its indentation);
- it starts at the first line that belongs to the definition: decorators, annotations,
  attributes (`#[derive]`), `template<...>`, `export`;
- definitions inside a function body (closures, local classes, methods of an anonymous class
  created in a function) are not units of their own: they are part of their function's unit,
  and alone they are rarely usable (they read the enclosing function's variables). Classes and
  methods nested in classes are units.
"""
from __future__ import annotations

import re
from functools import lru_cache

import tree_sitter as ts

from domain.entities import ParsedUnit
from infrastructure.parsing import families, languages
from infrastructure.parsing.c_family import c_family_units
from infrastructure.parsing.languages import COMMENTS, SPECS, LanguageSpec

# Wrappers whose text belongs to the definition they hold (decorators, `export`, templates).
_WRAPPERS = frozenset({
    "decorated_definition", "export_statement", "template_declaration", "type_declaration",
})
_NAME_FIELDS = ("name", "property", "key", "left")
_DECLARATOR_LEAVES = frozenset({
    "identifier", "field_identifier", "qualified_identifier", "destructor_name",
    "operator_name", "operator_cast", "type_identifier", "template_function",
})
_SYMBOL_OPERATOR = re.compile(r"\boperator\s*[^\w\s]")
_TEMPLATE_ARGUMENTS = re.compile(r"<[^<>]*>")
_C_FAMILY = frozenset({"c", "cpp"})
# `/* @__PURE__ */`, `/* #__NO_SIDE_EFFECTS__ */`, `// @__NO_SIDE_EFFECTS__` (zod writes 233 of
# these): bundler pragmas, not documentation
_PRAGMA = re.compile(r"^(/\*!?\s*[@#]__[A-Z_]+__\s*\*/|//\s*[@#]__[A-Z_]+__)$")
_COMMENT_MARKS = re.compile(r"^\s*(/\*\*?|\*/|\*|///?|//!|#)\s?")


@lru_cache(maxsize=None)
def _tools(language: str, tsx: bool) -> tuple[ts.Parser, ts.Query]:
    lang = ts.Language(languages.grammar(language, ".tsx" if tsx else ""))
    spec = SPECS[language]
    patterns = [f"({t}) @class" for t in spec.classes]
    patterns += [f"({t}) @function" for t in spec.functions + spec.bound]
    return ts.Parser(lang), ts.Query(lang, "\n".join(patterns))


def _text(node: ts.Node | None) -> str | None:
    return node.text.decode("utf-8", "replace") if node is not None else None


def _declarator_name(node: ts.Node) -> ts.Node | None:
    """C/C++ keep a function's name under nested declarators (pointer, function, reference)."""
    while node is not None and node.type not in _DECLARATOR_LEAVES:
        inner = node.child_by_field_name("declarator")
        if inner is None:  # `std::string &ltrim(...)`: a reference_declarator has no field
            inner = next((c for c in node.named_children
                          if c.type in _DECLARATOR_LEAVES or c.type.endswith("declarator")), None)
        node = inner
    return node


def _name_node(node: ts.Node) -> ts.Node | None:
    found = node.child_by_field_name("name")
    if found is None and node.type == "function_definition":
        found = _declarator_name(node.child_by_field_name("declarator"))
    elif found is None and node.parent is not None and node.parent.type == "type_definition":
        declarator = node.parent.child_by_field_name("declarator")  # C `typedef struct {...} name;`
        found = declarator if declarator is not None and declarator.type == "type_identifier" else None
    return found


def _short(name: str | None) -> str | None:
    """`A::B::f` -> `f`, `Foo<T>` -> `Foo`: the name as written at the definition; a string key
    (`"z.compile().safeParse"() {}`) is its text, whole."""
    if name is None:
        return None
    if name[:1] in "'\"`" and name[-1:] == name[:1]:
        return name[1:-1]
    if name[:1] == "[" and name[-1:] == "]":  # a computed key (`[Symbol.iterator]() {}`): whole
        return name
    if name.startswith("operator "):  # a conversion (`operator bool() const`): `operator bool`
        return name.split("(", 1)[0].split("<", 1)[0].strip()
    operator = _SYMBOL_OPERATOR.search(name)
    if operator:  # `A::operator<<`, `operator ()`: `operator<<`, `operator()` as libclang spells them
        return re.sub(r"\s+", "", name[operator.start():])
    return re.split(r"::|\.", _without_arguments(name).strip())[-1] or name


def _without_arguments(name: str) -> str:
    """`format_facet<std::locale>::do_put` -> `format_facet::do_put` (balanced `<...>` removed)."""
    while True:
        shorter = _TEMPLATE_ARGUMENTS.sub("", name)
        if shorter == name:
            return name.split("<", 1)[0]  # an unbalanced `<` left: cut there, as before
        name = shorter


def _binding(node: ts.Node) -> tuple[str | None, ts.Node]:
    """Name and statement of an anonymous function bound to a name (`const f = () => 1`)."""
    holder = node.parent
    if holder is None:
        return None, node
    if holder.type in ("variable_declarator", "assignment_expression", "pair",
                       "public_field_definition", "field_definition"):
        value = holder.child_by_field_name("value") or holder.child_by_field_name("right")
        if value is not None and value.id != node.id:
            return None, node
        target = next((holder.child_by_field_name(f) for f in _NAME_FIELDS
                       if holder.child_by_field_name(f) is not None), None)
        if target is None:
            return None, node
        if target.type == "member_expression":
            target = target.child_by_field_name("property") or target
        statement = holder.parent
        if (holder.type == "variable_declarator" and statement is not None
                and statement.named_child_count == 1):
            return _text(target), statement
        if holder.type == "assignment_expression" and statement is not None \
                and statement.type == "expression_statement":
            return _text(target), statement
        return _text(target), holder
    return None, node


def _owner(node: ts.Node, spec: LanguageSpec) -> str | None:
    """Name of the class a function is defined in, or None when it is free or nested (a C++
    `friend` defined in a class is a free function, as libclang says too)."""
    containers = dict(spec.containers)
    parent = node.parent
    while parent is not None and parent.type == "template_declaration":
        parent = parent.parent
    if parent is not None and parent.type == "friend_declaration":
        return None
    parent = node.parent
    while parent is not None:
        if parent.type == "decorator":  # `@Module({ useFactory: () => ... })` on a class: not its method
            return None
        if parent.type in spec.classes:  # an unnamed one: `new (class { get() {} })()`
            return _short(_text(_name_node(parent))) or "class@anonymous"
        if parent.type in containers:
            field = containers[parent.type]
            return _short(_text(parent.child_by_field_name(field))) if field else "class@anonymous"
        if parent.type in spec.functions or parent.type in spec.bound:
            return None
        parent = parent.parent
    return None


def _receiver(node: ts.Node) -> str | None:
    """Go: `func (s *Server) Start()` belongs to `Server`."""
    receiver = node.child_by_field_name("receiver")
    if receiver is None:
        return None
    for param in receiver.named_children:
        kind = param.child_by_field_name("type")
        if kind is not None:
            return _text(kind).lstrip("*").split("[", 1)[0].strip()
    return None


def _python_docstring(node: ts.Node) -> str | None:
    body = node.child_by_field_name("body")
    if body is None or not body.named_children:
        return None
    first = body.named_children[0]
    if first.type == "expression_statement" and first.named_children:
        string = first.named_children[0]
        if string.type == "string":
            parts = [c for c in string.named_children if c.type == "string_content"]
            return "".join(_text(p) for p in parts) or None
    return None


def _comment_docstring(outer: ts.Node) -> str | None:
    """The comment block right above a definition (no blank line between)."""
    lines, row, sibling = [], outer.start_point[0], outer.prev_named_sibling
    if sibling is None and outer.parent is not None and outer.parent.type == "body_statement":
        sibling = outer.parent.prev_named_sibling  # Ruby keeps a class's first comment outside its body
    while sibling is not None and sibling.type in COMMENTS and sibling.end_point[0] >= row - 1:
        if not _PRAGMA.match(_text(sibling).strip()):
            lines[:0] = _text(sibling).splitlines()
        row, sibling = sibling.start_point[0], sibling.prev_named_sibling
    cleaned = [_COMMENT_MARKS.sub("", line).rstrip().removesuffix("*/").rstrip() for line in lines]
    text = "\n".join(line for line in cleaned if line.strip() not in ("", "*/", "/")).strip()
    return text or None


def _is_class(node: ts.Node, language: str) -> bool:
    if language == "go":
        return node.child_by_field_name("type") is not None and \
            node.child_by_field_name("type").type in ("struct_type", "interface_type")
    if language in ("c", "cpp"):
        return node.child_by_field_name("body") is not None and _name_node(node) is not None
    return True


def _bodiless(node: ts.Node) -> bool:
    """C++ `A(A&&) = default;` / `= delete;`: a declaration, no code to learn from (libclang
    does not call the in-class ones definitions either)."""
    return node.type == "function_definition" and any(
        c.type in ("default_method_clause", "delete_method_clause") for c in node.children)


def _nested_in_function(node: ts.Node, spec: LanguageSpec) -> bool:
    """Whether `node` sits inside a function's body (see the module docstring)."""
    parent = node.parent
    while parent is not None:
        if parent.type in spec.functions or parent.type in spec.bound:
            return True
        parent = parent.parent
    return False


def _outer(node: ts.Node, spec: LanguageSpec) -> tuple[ts.Node, ts.Node]:
    """(first, last): the node whose first line is the definition's and the one it ends with:
    through wrappers (decorators, `export`, `template<>`, a Go `type` with one spec), then back
    over leading siblings (`#[attr]`, which end before the definition does) and the comments
    between them."""
    outer = node
    while outer.parent is not None and outer.parent.type in _WRAPPERS:
        if outer.parent.type == "type_declaration" and outer.parent.named_child_count > 1:
            break  # Go `type ( A struct{}; B struct{} )`: each spec is its own unit
        outer = outer.parent
    first, probe = outer, outer.prev_named_sibling
    # comments may sit between attributes (`#[test]`, `// why`, `#[allow(..)]`): an attribute
    # always applies to the next item, so the unit still starts at the first one
    while probe is not None and (probe.type in spec.leading or (spec.leading and probe.type in COMMENTS)):
        first = probe if probe.type in spec.leading else first
        probe = probe.prev_named_sibling
    return first, outer


def _line_span(source: bytes, node: ts.Node, last: ts.Node) -> tuple[int, int, int, int]:
    """(start byte, end byte, first line, last line) of the whole lines from `node` to `last`."""
    start = source.rfind(b"\n", 0, node.start_byte) + 1
    end_byte, end_row = last.end_byte, last.end_point[0]
    if last.end_point[1] == 0 and end_byte > last.start_byte:  # a node ending with its newline
        end_byte, end_row = end_byte - 1, end_row - 1
    end = source.find(b"\n", end_byte)
    end = len(source) if end < 0 else end
    if end > start and source[end - 1:end] == b"\r":
        end -= 1
    return start, end, node.start_point[0] + 1, end_row + 1


def _unit(source: bytes, node: ts.Node, is_class: bool, language: str, spec: LanguageSpec) -> ParsedUnit | None:
    if not is_class and node.type in spec.bound:
        name, outer = _binding(node)
        if name is None:
            return None
    else:
        name, outer = _text(_name_node(node)), node
        if name is None:
            return None
    outer, last = _outer(outer, spec)
    parent = None if is_class else _owner(node, spec)
    if language == "go" and node.type == "method_declaration":
        parent = _receiver(node)
    qualified = name if "::" in _without_arguments(name) else None  # not `trait<std::string>`
    if is_class and language not in _C_FAMILY:
        # a class keeps the path it is written with (Ruby `class Foo::Bar`, as Ripper names it),
        # less its arguments and a leading `::` (Ruby's top-level `class ::Foo` is `Foo`)
        name = name.split("<", 1)[0].strip().removeprefix("::")
    else:
        name = _short(name)  # `buffer<T*, T>`: `buffer`; C++ `struct fmt::formatter<X>`: `formatter`, as libclang
    if qualified and parent is None and not is_class:  # C++ `void Widget::draw()` defined outside its class
        parent = _short(qualified.rsplit("::", 1)[0])
    kind = "class" if is_class else ("method" if parent else "function")
    docstring = _python_docstring(node) if language == "python" else _comment_docstring(outer)
    start_byte, end_byte, start, end = _line_span(source, outer, last)
    return ParsedUnit(kind=kind, name=name, start_line=start, end_line=end,
                      content=source[start_byte:end_byte].decode("utf-8", "replace"), parent=parent,
                      docstring=docstring, start_byte=start_byte, end_byte=end_byte)


def _units(tree: ts.Tree, query: ts.Query, source: bytes, language: str) -> list[ParsedUnit]:
    spec = SPECS[language]
    captures = ts.QueryCursor(query).captures(tree.root_node)
    found = [(n, True) for n in captures.get("class", [])]
    found += [(n, False) for n in captures.get("function", [])]
    found.sort(key=lambda item: (item[0].start_byte, -item[0].end_byte))
    units = []
    for node, is_class in found:
        if (is_class and not _is_class(node, language)) or _nested_in_function(node, spec) or _bodiless(node):
            continue
        unit = _unit(source, node, is_class, language, spec)
        if unit is not None:
            units.append(unit)
    return units


class TreeSitterParser:
    """Cuts source files into class, function and method units with tree-sitter.

    Attributes:
        ast_fallbacks: Python files this instance handed to `ast` (tree-sitter had an error).
    """

    def __init__(self):
        self.ast_fallbacks = 0

    def language_for(self, path: str, head: bytes = b"", header_hint: str | None = None) -> str | None:
        return languages.language_for(path, head, header_hint)

    def parse(self, source: bytes, language: str, path: str = "") -> list[ParsedUnit]:
        if language in families.RULES:
            return families.parse(source, language, path)
        parser, query = _tools(language, path.endswith(".tsx"))
        if language in _C_FAMILY:
            return c_family_units(parser, source, lambda tree: _units(tree, query, source, language))
        tree = parser.parse(source)
        if language == "python" and tree.root_node.has_error:
            from infrastructure.parsing.python_ast import parse_with_ast

            units = parse_with_ast(source)
            if units is not None:
                self.ast_fallbacks += 1
                return units
        return _units(tree, query, source, language)
