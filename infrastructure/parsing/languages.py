"""Which grammar parses which file, and which syntax nodes are classes and functions.

One table per language keeps the parser generic: tree-sitter's query engine (C) finds the
definition nodes, Python only names them. Node type names come from each grammar's
`node-types.json` (tree-sitter 0.26 wheels pinned in requirements.txt).
"""
from __future__ import annotations

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
    field holding the owner's name."""


_JS_CLASSES = ("class_declaration", "class")
_JS_FUNCTIONS = ("function_declaration", "generator_function_declaration", "method_definition")
_JS_BOUND = ("arrow_function", "function_expression", "generator_function")

SPECS = {
    "python": LanguageSpec(("class_definition",), ("function_definition",)),
    "javascript": LanguageSpec(_JS_CLASSES, _JS_FUNCTIONS, _JS_BOUND),
    "typescript": LanguageSpec(
        _JS_CLASSES + ("abstract_class_declaration", "interface_declaration"),
        _JS_FUNCTIONS + ("function_signature",), _JS_BOUND,
    ),
    "java": LanguageSpec(
        ("class_declaration", "interface_declaration", "enum_declaration", "record_declaration"),
        ("method_declaration", "constructor_declaration"),
    ),
    "go": LanguageSpec(("type_spec",), ("function_declaration", "method_declaration")),
    "rust": LanguageSpec(
        ("struct_item", "enum_item", "trait_item", "union_item"), ("function_item",),
        containers=(("impl_item", "type"),),
    ),
    "c": LanguageSpec(("struct_specifier",), ("function_definition",)),
    "cpp": LanguageSpec(("class_specifier", "struct_specifier"), ("function_definition",)),
    "ruby": LanguageSpec(("class", "module"), ("method", "singleton_method")),
    "php": LanguageSpec(
        ("class_declaration", "interface_declaration", "trait_declaration", "enum_declaration"),
        ("function_definition", "method_declaration"),
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


def language_for(path: str, head: bytes = b"") -> str | None:
    """Language from the file extension, else from a `#!` line; None when unsupported."""
    dot = path.rfind(".")
    if dot > path.rfind("/"):
        language = EXTENSIONS.get(path[dot:].lower())
        if language:
            return language
    if head.startswith(b"#!"):
        line = head.split(b"\n", 1)[0].decode("latin-1")
        words = line[2:].replace("/", " ").split()
        for word in reversed(words):
            interpreter = word.rstrip("0123456789.")
            if interpreter in SHEBANGS:
                return SHEBANGS[interpreter]
    return None
