"""Which grammar parses which file, and which syntax nodes are classes and functions.

One table per language keeps the parser generic: tree-sitter's query engine (C) finds the
definition nodes, Python only names them. Node type names come from each grammar's
`node-types.json` (tree-sitter 0.26 wheels pinned in requirements.txt).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from infrastructure.parsing import families

EXTENSIONS = {
    ".py": "python", ".pyi": "python", ".pyw": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "typescript",
    ".java": "java",
    ".go": "go",
    ".rs": "rust",
    ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".c++": "cpp", ".hh": "cpp", ".hpp": "cpp",
    ".hxx": "cpp", ".h++": "cpp", ".ipp": "cpp", ".tcc": "cpp",
    ".rb": "ruby", ".rake": "ruby", ".gemspec": "ruby",
    ".php": "php", ".phtml": "php",
}
SHEBANGS = {"python": "python", "node": "javascript", "ruby": "ruby", "php": "php"}
# twelve more languages (C#, Kotlin, Swift, Scala, shell, Lua, Haskell, Julia, Elixir, Zig, Dart,
# OCaml) live in families/, with their own extraction rules
EXTENSIONS.update(families.EXTENSIONS)
SHEBANGS.update(families.SHEBANGS)


@dataclass(frozen=True)
class LanguageSpec:
    """Definition node types of one grammar."""

    classes: tuple[str, ...]
    """Node types emitted as kind ``class`` (structs, traits, modules too)."""
    functions: tuple[str, ...]
    """Node types emitted as ``function`` or, inside a class, ``method``."""
    bound: tuple[str, ...] = ()
    """Anonymous function nodes that take the name they are assigned to."""
    containers: tuple[tuple[str, str], ...] = ()
    """Non-emitted nodes that still make their functions methods (a Rust ``impl`` block), mapped to the
    field holding the owner's name (empty: an anonymous class, owner ``class@anonymous``)."""
    leading: tuple[str, ...] = ()
    """Sibling nodes right before a definition that belong to it (Rust ``#[attr]``, a TypeScript
    method's ``@decorator``): the unit starts at the first of them (comments between them
    included), as it starts at a Python decorator or a C++ ``template<>``."""


_JS_CLASSES = ("class_declaration", "class")
_JS_FUNCTIONS = ("function_declaration", "generator_function_declaration", "method_definition")
_JS_BOUND = ("arrow_function", "function_expression", "generator_function")

SPECS = {
    "python": LanguageSpec(("class_definition",), ("function_definition",)),
    "javascript": LanguageSpec(_JS_CLASSES, _JS_FUNCTIONS, _JS_BOUND),
    "typescript": LanguageSpec(
        _JS_CLASSES + ("abstract_class_declaration", "interface_declaration"),
        _JS_FUNCTIONS + ("function_signature",), _JS_BOUND,
        leading=("decorator",),  # a method's decorators are its siblings in a TypeScript class body
    ),
    "java": LanguageSpec(
        ("class_declaration", "interface_declaration", "enum_declaration", "record_declaration",
         "annotation_type_declaration"),
        ("method_declaration", "constructor_declaration"),
        containers=(("object_creation_expression", "type"),),
    ),
    "go": LanguageSpec(("type_spec",), ("function_declaration", "method_declaration")),
    "rust": LanguageSpec(
        ("struct_item", "enum_item", "trait_item", "union_item"), ("function_item",),
        containers=(("impl_item", "type"),), leading=("attribute_item",),
    ),
    "c": LanguageSpec(("struct_specifier",), ("function_definition",)),
    "cpp": LanguageSpec(("class_specifier", "struct_specifier"), ("function_definition",),
                        containers=(("union_specifier", "name"),)),  # a union's members are methods
    "ruby": LanguageSpec(("class", "module"), ("method", "singleton_method")),
    "php": LanguageSpec(
        ("class_declaration", "interface_declaration", "trait_declaration", "enum_declaration"),
        ("function_definition", "method_declaration"),
        containers=(("anonymous_class", ""),),
    ),
}

COMMENTS = frozenset({"comment", "line_comment", "block_comment"})


def grammar(language: str, path: str = ""):
    """The tree-sitter Language capsule for `language` (TSX for .tsx files)."""
    if language == "python":
        import tree_sitter_python as module
        return module.language()
    if language == "javascript":
        import tree_sitter_javascript as module
        return module.language()
    if language == "typescript":
        import tree_sitter_typescript as module
        return module.language_tsx() if path.endswith(".tsx") else module.language_typescript()
    if language == "php":
        import tree_sitter_php as module
        return module.language_php()
    modules = {"java": "tree_sitter_java", "go": "tree_sitter_go", "rust": "tree_sitter_rust",
               "c": "tree_sitter_c", "cpp": "tree_sitter_cpp", "ruby": "tree_sitter_ruby"}
    import importlib

    return importlib.import_module(modules[language]).language()


# GitHub linguist's heuristics for `.h` (lib/linguist/heuristics.yml, MIT licence): C++ when
# any of these occurs; Objective-C is not parsed here, so the rest is C.
_CPP_HEADER = re.compile(
    rb"^\s*#\s*include <(cstdint|string|vector|map|list|array|bitset|queue|stack|forward_list"
    rb"|unordered_map|unordered_set|(i|o|io)stream|memory|utility|type_traits|cstddef|cstring)>"
    rb"|^\s*template\s*<|^[ \t]*(try|constexpr)\b|^[ \t]*catch\s*\(|^[ \t]*(class|(using[ \t]+)?namespace)\s+\w+"
    rb"|^[ \t]*(private|public|protected):$|\bstd::\w+",
    re.MULTILINE)

_C_COMMENTS = re.compile(rb"/\*.*?\*/|//[^\n]*", re.DOTALL)


def header_language(data: bytes, hint: str | None = None) -> str:
    """`c` or `cpp` for a `.h` file: C++ syntax in it decides; else the repository's `hint`
    (`cpp` when it has C++ sources and no C ones); else C."""
    if _CPP_HEADER.search(_C_COMMENTS.sub(b"", data)):  # `std::strtod` in a C header's comment
        return "cpp"
    return hint or "c"


def language_for(path: str, head: bytes = b"", header_hint: str | None = None) -> str | None:
    """Language from the file extension, else from a `#!` line; None when unsupported.

    `head` is the start of the file (all of it for a `.h` file, whose language is C or C++ by
    its content, see `header_language`).
    """
    dot = path.rfind(".")
    if dot > path.rfind("/"):
        if path[dot:].lower() == ".h":
            return header_language(head, header_hint)
        language = EXTENSIONS.get(path[dot:].lower())
        if language:
            return language
    if head.startswith(b"#!"):
        line = head[:256].split(b"\n", 1)[0].decode("latin-1")
        words = line[2:].replace("/", " ").split()
        for word in reversed(words):
            interpreter = word.rstrip("0123456789.")
            if interpreter in SHEBANGS:
                return SHEBANGS[interpreter]
    return None
