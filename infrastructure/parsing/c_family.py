"""C and C++ sources read the way a preprocessor would, for a grammar that has none.

tree-sitter's C/C++ grammars parse the text as written: a macro used as an attribute
(`FMT_CONSTEXPR auto f()`) looks like a type, and `#if` / `#else` branches that each open the
same brace (`#ifdef _WIN32 / void f(int a) { / #else / void f(long a) { / #endif`) leave one
brace too many. Every rewrite here keeps the source's length and line breaks (blanked text
becomes spaces), so byte offsets and line numbers stay true and units are cut from the original
bytes. A second or third parse happens only when the first has errors.
"""
from __future__ import annotations

import re
from functools import partial
from typing import Callable

import tree_sitter as ts

from domain.entities import ParsedUnit

# An all-caps macro (`_MACRO`) used as an attribute or a block marker (`FMT_CONSTEXPR auto f()`,
# `FMT_BEGIN_NAMESPACE`, `REDIS_INLINE int g()`), on the same or the next line: before a type
# and a name (two words: `auto f(`, `const T* p`), before `template` or a destructor, between a type and a
# function's name (`int CJSON_CDECL main(void)`), or after `class` /
# `struct` (`class FMT_API format_error`), or after the parameters (`now() SPDLOG_NOEXCEPT {`).
# A macro before one word (`UNITY_INTERNAL_PTR f(`,
# `UNITY_INT8 p1[]`, `FMT_CONSTEXPR basic_string_view(`) stands for a type, or reads as one
# harmlessly: kept.
_MACRO = re.compile(rb"(?<![\w#])[A-Z][A-Z0-9]*_[A-Z0-9_]+\b")
_TYPE_AND_NAME = re.compile(
    rb"[ \t]*\n?[ \t]*(?:~|template\b|[A-Za-z_][\w:]*[ \t]*(?:<[^;{}()]*>)?[\s*&]+[A-Za-z_~])")
_FUNCTION_NAME = re.compile(rb"[ \t]+[A-Za-z_]\w*[ \t]*\(")
_PARENTHESIS = re.compile(rb"[ \t]*\(")
_NAME = re.compile(rb"[ \t]+[A-Za-z_]")
_TYPE_END = re.compile(rb"[\w*&][ \t]$")
_AFTER_PARAMETERS = re.compile(rb"\)[ \t]*(?:const[ \t]*)?$")  # `f() const SPDLOG_NOEXCEPT {`
_BEFORE_BODY = re.compile(rb"[ \t]*(?:\r?\n[ \t]*)?(?:[{;=:]|->|override\b|final\b|noexcept\b)")
_KEYWORD_BEFORE = re.compile(rb"(?<!\w)(if|class|union|struct) $")
_MACRO_LINE = re.compile(rb"(?m)^[ \t]*[A-Z][A-Z0-9]*_")  # where `_STANDALONE_MACRO` can match
_LINE_MACRO = re.compile(rb"(?m:^[ \t]*[A-Z][A-Z0-9]*_[A-Z0-9_]+[ \t]*$)")
# A macro alone on its line before a blank line (`FMT_END_NAMESPACE`, `FMT_BEGIN_EXPORT`) is no
# part of what follows; a macro call alone on its line before a declaration
# (`FMT_VISIBILITY("hidden")  // comment` between `template <...>` and the function) is an
# attribute, and before a blank line a pragma (`FMT_PRAGMA_CLANG(diagnostic push)`); a macro
# with a colon alone on its line is an access specifier.
_STANDALONE_MACRO = re.compile(
    rb"(?m:^[ \t]*[A-Z][A-Z0-9]*_[A-Z0-9_]+[ \t]*$)(?=\n[ \t]*\r?\n)"
    rb"|(?m:^[ \t]*[A-Z][A-Z0-9]*_[A-Z0-9_]+[ \t]*:[ \t]*$)"  # `JSON_PRIVATE_UNLESS_TESTED:` (an access specifier)
    rb"|(?m:^[ \t]*[A-Z][A-Z0-9]*_[A-Z0-9_]+\((?:[^()\n]|\([^()\n]*\))*\))"
    rb"(?=[ \t]*(?://[^\n]*)?\n[ \t]*(?:\r?\n|template\b|[A-Za-z_~]))")
# `FMT_CONSTEXPR typed_node(const Arg& arg) : value(arg) {}`: before a constructor (a name of a
# class or struct of the file, or `X<T>::X` / `X::~X` out of its class, then `(`) the macro is an
# attribute, not the return type.
_BEFORE_CALL = re.compile(
    rb"(?<![\w#])[A-Z][A-Z0-9]*_[A-Z0-9_]+\b(?=[ \t]*\n?[ \t]*([\w:~]+(?:<[^;{}()]*>)?(?:::[\w~]+)*)[ \t]*\()")
_CLASS_NAME = re.compile(rb"\b(?:class|struct)[ \t]+(?:[A-Z][A-Z0-9]*_[A-Z0-9_]+[ \t]+)?(\w+)")
_TEMPLATE = re.compile(rb"\btemplate[ \t]*<")
_MACRO_CALL = re.compile(rb"[A-Z][A-Z0-9]*_[A-Z0-9_]+[ \t]*\(")
_NAME_START = re.compile(rb"[A-Za-z_]")
_LABEL = re.compile(rb"\w+[ \t]*:(?!:)")
_CONDITIONAL = re.compile(rb"[ \t]*#[ \t]*(if|ifdef|ifndef|elif|elifdef|elifndef|else|endif)\b")
_ALTERNATIVE_DIRECTIVE = re.compile(rb"#[ \t]*el")  # `#else`, `#elif`...: no branch to blank without one
_OPENS = frozenset({b"if", b"ifdef", b"ifndef"})
_ALTERNATIVES = frozenset({b"elif", b"elifdef", b"elifndef", b"else"})


def _blanked(pattern: re.Pattern, source: bytes) -> bytes:
    """Every match of `pattern` as spaces (see `_blanked_at`)."""
    return _blanked_at(pattern, source, [found.start() for found in pattern.finditer(source)])


def _blanked_at(pattern: re.Pattern, source: bytes, starts, wanted=lambda found: True) -> bytes:
    """`wanted` matches of `pattern` as spaces (same length: offsets stay true), except on
    preprocessor lines (`#ifdef SDS_TEST_MAIN` must keep its name). Matches can only begin at
    `starts` (ascending: the positions of a cheaper scan, or the pattern's own matches), and each
    is tried once with an anchored match instead of the pattern scanning every byte."""
    text, last = None, -1
    for start in starts:
        found = pattern.match(source, start) if start >= last else None
        if found is None or not wanted(found):
            continue
        line = source[source.rfind(b"\n", 0, start) + 1:start]
        if line.lstrip().startswith(b"#"):
            continue
        text = bytearray(source) if text is None else text
        text[start:found.end()] = b" " * (found.end() - start)
        last = found.end()
    return source if text is None else bytes(text)


def _attribute_macros(source: bytes, starts: list[int]) -> bytes:
    """Macros used as attributes (see `_MACRO`'s comment) blanked; one cheap regex finds the
    candidates (`starts`), small anchored ones read their context."""
    def attribute(found: re.Match) -> bool:
        start, end = found.span()
        if _TYPE_AND_NAME.match(source, end):
            return True
        before = source[max(0, start - 12):start]
        if _TYPE_END.search(before) and _FUNCTION_NAME.match(source, end):
            return True
        if _AFTER_PARAMETERS.search(before) and _BEFORE_BODY.match(source, end):
            return True
        keyword = _KEYWORD_BEFORE.search(before)
        if keyword is None:
            return False
        return bool((_PARENTHESIS if keyword.group(1) == b"if" else _NAME).match(source, end))
    return _blanked_at(_MACRO, source, starts, attribute)


def _constructor_macros(source: bytes, starts: list[int]) -> bytes:
    classes = set(_CLASS_NAME.findall(source))

    def constructor(found: re.Match) -> bool:
        parts = re.sub(rb"<[^;{}()]*>", b"", found.group(1)).split(b"::")  # `base_sink<Mutex>::base_sink`
        return parts[-1] in classes or len(parts) > 1 and parts[-1].lstrip(b"~") == parts[-2]
    return _blanked_at(_BEFORE_CALL, source, starts, constructor)


def _closing(source: bytes, at: int, limit: int = 4000) -> int:
    """Index of the `)` closing the `(` at `at`, or -1."""
    depth = 0
    for index in range(at, min(len(source), at + limit)):
        char = source[index]
        depth += (char == 40) - (char == 41)  # ( )
        if depth == 0:
            return index
    return -1


def _template_parameter_macros(source: bytes) -> bytes:
    """`template <typename T, FMT_ENABLE_IF(is_integral<T>::value)>`: a macro call standing for
    a template parameter becomes `int=0` (an unnamed defaulted parameter), its arguments
    blanked; the grammar otherwise loses the whole template declaration."""
    if b"template" not in source or not _MACRO_CALL.search(source):
        return source
    text = bytearray(source)
    for header in _TEMPLATE.finditer(source):
        angle, at, expect = 1, header.end(), True  # expect: a parameter may start here
        while angle and at < min(len(source), header.end() + 4000):
            char = source[at]
            call = _MACRO_CALL.match(source, at) if expect else None
            if call is not None and (end := _closing(source, call.end() - 1)) >= 0:
                span = source[at:end + 1]
                text[at:end + 1] = b"int=0" + bytes(b if b in b"\r\n" else 32 for b in span[5:])
                at, expect = end + 1, False
                continue
            if char == 40:  # a parenthesised expression: its `<` and `>` are comparisons
                end = _closing(source, at)
                at, expect = (end + 1 if end >= 0 else len(source)), False
                continue
            angle += (char == 60) - (char == 62)  # < >
            if char in b"{;":
                break
            expect = char == 44 or (expect and chr(char).isspace())  # after `,` or the `<`
            at += 1
    return bytes(text)


def error_nodes(tree: ts.Tree) -> list[tuple[int, int]]:
    """(start byte, size) of each ERROR or MISSING node (a missing one counts 1)."""
    found, stack = [], [tree.root_node] if tree.root_node.has_error else []
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            found.append((node.start_byte, max(node.end_byte - node.start_byte, 1)))
        elif node.has_error:
            stack.extend(node.children)
    return found


def error_bytes(tree: ts.Tree) -> int:
    """Bytes under ERROR nodes (0 for a clean parse)."""
    return sum(size for _, size in error_nodes(tree))


def first_branches(source: bytes) -> tuple[bytes, frozenset[int]]:
    """`source` with every `#elif` / `#else` branch blanked, directive included (the `#if`
    branch and the `#endif` stay), and the rows (0-based) blanked: one consistent reading
    where each conditional contributes one branch."""
    if not _ALTERNATIVE_DIRECTIVE.search(source):
        return source, frozenset()
    lines = source.split(b"\n")
    hidden: list[bool] = []  # per open conditional: whether its current branch is an alternative
    rows: set[int] = set()
    hide = continued = False
    for row, line in enumerate(lines):
        if not continued:  # a directive's `\` continuation lines share its fate
            found = _CONDITIONAL.match(line) if b"#" in line else None
            word = found.group(1) if found else None
            if word in _OPENS:
                hide = any(hidden)
                hidden.append(False)
            elif word in _ALTERNATIVES and hidden:
                hidden[-1] = True
                hide = True
            elif word == b"endif" and hidden:
                hidden.pop()
                hide = any(hidden)
            else:
                hide = any(hidden)
        continued = line.rstrip(b"\r").endswith(b"\\")
        if hide:
            rows.add(row)
            lines[row] = b" " * len(line)
    return b"\n".join(lines), frozenset(rows)


def macro_blanked_tree(parser: ts.Parser, source: bytes) -> tuple[ts.Tree, bytes]:
    """The parse with attribute-like macros blanked; when that still leaves errors, also with
    macros alone on their line (`FMT_BEGIN_EXPORT`) blanked, whichever parse loses fewer bytes
    to errors (which reading is right depends on the macro); and the text parsed."""
    starts = [found.start() for found in _MACRO.finditer(source)]
    masked = _attribute_macros(source, starts)
    masked = _blanked_at(_STANDALONE_MACRO, masked, [m.start() for m in _MACRO_LINE.finditer(masked)])
    masked = _template_parameter_macros(_constructor_macros(masked, starts))
    tree = parser.parse(masked)
    if not tree.root_node.has_error or not _LINE_MACRO.search(masked):
        return tree, masked
    other_text = _blanked(_LINE_MACRO, masked)
    other = parser.parse(other_text)
    return (other, other_text) if error_bytes(other) < error_bytes(tree) else (tree, masked)


def c_family_trees(parser: ts.Parser, source: bytes) -> tuple[ts.Tree, bytes, ts.Tree | None, frozenset[int]]:
    """(main tree, the text it read, every-branch tree, rows): when the macro-blanked parse has errors and the
    file has `#else` / `#elif` branches, the main tree reads only the first branch of each
    conditional if that parses with fewer error bytes; the every-branch tree then still holds
    the definitions on the blanked `rows`. Otherwise (the common case) (tree, text, None, {})."""
    tree, text = macro_blanked_tree(parser, source)
    if not tree.root_node.has_error or b"#" not in source:
        return tree, text, None, frozenset()
    variant, rows = first_branches(text)
    if not rows:
        return tree, text, None, frozenset()
    first = parser.parse(variant)
    if error_bytes(first) >= error_bytes(tree):
        return tree, text, None, frozenset()
    return first, variant, tree, rows


def _top_level_rows(text: bytes) -> list[int]:
    """Rows (0-based) where a top-level declaration may start: a line starting at column 0
    with a name (not a `label:` / `public:`), after a line that ends a declaration (`;`, `}`,
    `{`), a comment, a preprocessor line or a macro alone on its line. Class members are indented in every common style,
    so these are namespace-level lines."""
    rows, ended = [0], True
    for row, line in enumerate(text.split(b"\n")):
        stripped = line.strip()
        if not stripped:
            continue
        if ended and row and _NAME_START.match(line) and not _LABEL.match(line):
            rows.append(row)
        ended = stripped.endswith((b";", b"}", b"{", b"*/")) or bool(_LINE_MACRO.match(line)) or \
            stripped.startswith((b"//", b"#")) and not stripped.endswith(b"\\")
    return rows


def chunk_trees(parser: ts.Parser, text: bytes):
    """(start byte, end byte, parse) for each top-level stretch of `text`; `parse()` parses it
    alone (`included_ranges`: offsets and rows stay the file's). One error in a big header (a
    construct the grammar lacks) can derail everything after it; alone, each stretch recovers."""
    rows = _top_level_rows(text)
    text = _blanked(_LINE_MACRO, text)  # alone, `FMT_END_EXPORT` / `FMT_BEGIN_NAMESPACE` only mislead
    starts = [0]
    at = 0
    for row in range(1, rows[-1] + 1):
        at = text.index(b"\n", at) + 1
        starts.append(at)
    for first, end in zip(rows, rows[1:] + [None]):
        start_byte, end_byte = starts[first], starts[end] if end is not None else len(text)
        end_point = (end, 0) if end is not None else (text.count(b"\n") + 1, 0)
        yield start_byte, end_byte, partial(_parse_range, parser, text,
                                            ts.Range((first, 0), end_point, start_byte, end_byte))


def _parse_range(parser: ts.Parser, text: bytes, span: ts.Range) -> ts.Tree:
    parser.included_ranges = [span]
    try:
        return parser.parse(text)
    finally:
        parser.included_ranges = []


# An ERROR node this long can have swallowed definitions (a missing `;` or one stray token,
# half the files with errors, never did in fmt, hiredis or cJSON): only then are top-level
# stretches parsed alone.
_DERAILING_ERROR = 16


def c_family_units(parser: ts.Parser, source: bytes, units_of: Callable[[ts.Tree], list[ParsedUnit]]) -> list[ParsedUnit]:
    """Units (`units_of` a tree) of the cleaner reading (`c_family_trees`), with top-level
    stretches re-read after a derailing error (`_by_stretch`), plus the units of every branch
    that lie wholly on the lines the reading blanked (`#else` branches complete in themselves)."""
    tree, text, every_branch, rows = c_family_trees(parser, source)
    units = units_of(tree)
    if max((size for _, size in error_nodes(tree)), default=0) >= _DERAILING_ERROR:
        units = _by_stretch(parser, (tree, text), units, units_of)
    if every_branch is not None:
        units += [u for u in units_of(every_branch)
                  if all(row - 1 in rows for row in range(u.start_line, u.end_line + 1))]
        units.sort(key=lambda u: (u.start_byte, -u.end_byte))
    return units


def _by_stretch(parser: ts.Parser, parsed: tuple[ts.Tree, bytes], units: list[ParsedUnit],
                units_of: Callable[[ts.Tree], list[ParsedUnit]]) -> list[ParsedUnit]:
    """Each top-level stretch's units from its parse alone (`chunk_trees`) when that has fewer
    bytes under errors than the whole parse has over the stretch and the units starting in it
    (a unit the whole parse derailed runs past its stretch, over the error), or as many and
    finds more units; the whole parse's otherwise (and without parsing the stretch again when
    the whole parse has no error there)."""
    errors = error_nodes(parsed[0])
    kept = []
    for start, end, parse_alone in chunk_trees(parser, parsed[1]):
        here = [u for u in units if start <= u.start_byte < end]
        reach = max([end] + [u.end_byte for u in here])
        whole = sum(max(0, min(at + size, reach) - max(at, start)) for at, size in errors)  # bytes under ERROR
        if not whole:  # read cleanly by the whole parse: kept as it is, not parsed again
            kept += here
            continue
        alone = parse_alone()
        theirs = units_of(alone)
        kept += theirs if (error_bytes(alone), -len(theirs)) < (whole, -len(here)) else here
    return kept
