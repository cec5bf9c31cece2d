"""libclang's C/C++ definitions of one file, made fair to a parser that sees every branch.

libclang compiles one preprocessor configuration: code in an inactive `#if` branch is no
definition to it, while collect (tree-sitter, no preprocessor) cuts units from every branch.
So the reference is
- the union of the definitions found under three configurations: the default one, `_WIN32`
  (the commonest alternative platform; when the file names it), and every macro the file tests with `#ifdef X` or
  `defined(X)` defined to 1 (its feature, implementation and compiler macros: `FFC_IMPL`,
  `SDS_TEST_MAIN`, `_MSC_VER`, `FMT_HEADER_ONLY`; not `#ifndef` / `!defined`, which would hide
  an include-guarded file, nor reserved `__X` names, nor macros the file `#define`s itself:
  those are overridable settings like `FMT_ASSERT(...)`, not branches);
- plus the lines skipped in every configuration (libclang's own skipped ranges,
  `clang_getSkippedRanges`, which the Python binding does not wrap), where no configuration
  tried says what is there: a unit starting on such a line is left out on BOTH sides.
A configuration whose parse hit a fatal error (a missing platform header under `_WIN32`)
contributes its units but not its skipped lines (it stopped early: the rest is not "skipped");
a file every configuration fails on (its headers are not on this machine) is not compared.

Anonymous records (`struct { int a; } member;`, `union { ... };` inside a struct) are no units
in the reference: they have no name, and their text is part of the enclosing definition's unit
(collect's policy too). A `typedef struct { } name;` is named by the typedef on both sides.
"""
from __future__ import annotations

import ctypes
import glob
import hashlib
import os
import pickle
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

Unit = tuple[str, int, str]  # (name, start line, kind)
_VERSION = 3  # of what a cached reference holds

# `#ifdef X`, `#elif defined(X)`, `#if defined X && ...` (not `!defined`, not `#ifndef`: defining
# an include guard would hide the whole file)
_TESTED = re.compile(rb"^[ \t]*#[ \t]*(?:ifdef[ \t]+(\w+)|(?:el)?if\b[^\n]*)", re.M)
_SYMBOL_OPERATOR = re.compile(r"operator[^\w\s]")  # `operator<<`, `operator()`: not `operator bool`
_DEFAULTED = re.compile(rb"=\s*(?:default|delete)\s*;$")
_INSTANTIATION = re.compile(rb"\s*(?:extern\s+)?template\s+(?:class|struct)\b")
_DEFINES = re.compile(rb"^[ \t]*#[ \t]*define[ \t]+(\w+)", re.M)
_DEFINED = re.compile(rb"(?<!!)(?<!! )\bdefined[ \t]*\(?[ \t]*(\w+)")


@dataclass(frozen=True)
class Reference:
    units: frozenset[Unit]
    """Definitions found under any configuration."""
    skipped: frozenset[int]
    """Lines every configuration that parsed to the end skipped (inactive `#if` branches)."""
    generated: frozenset[int]
    """First lines of definitions a macro wrote (`TEST(Suite, Case) { }` is a function named
    `TEST_Suite_Case_` to libclang): no name in the source to compare; left out on both sides."""
    configurations: int
    fatal: str | None = None
    """The first fatal error when every configuration hit one (a header not on this machine:
    Qt's <QObject>): the file is then not compared at all."""


def configurations(source: bytes) -> list[tuple[str, ...]]:
    """The preprocessor configurations a file is compiled under (see the module docstring)."""
    found = [(), ("-D_WIN32",)] if b"_WIN32" in source else [()]
    tested = set()
    for line in _TESTED.finditer(source):
        tested |= {line.group(1)} if line.group(1) else set(_DEFINED.findall(line.group(0)))
    tested -= set(_DEFINES.findall(source)) | {b"_WIN32"}  # `#ifndef FMT_ASSERT / #define FMT_ASSERT(...)`
    own = sorted(name.decode() for name in tested if not name.startswith(b"__"))
    if own:
        found.append(tuple(f"-D{name}=1" for name in own))
    return found


def builtin_headers() -> list[Path]:
    """The compiler's own headers (stddef.h, limits.h...): the PyPI libclang ships none, and
    without them every parse stops at a fatal error and loses most definitions. Taken from the
    system's GCC or LLVM."""
    found = sorted(glob.glob("/usr/lib/llvm-*/lib/clang/*/include")) or \
        sorted(glob.glob("/usr/lib/gcc/*/*/include"))
    return [Path(found[-1])] if found else []


@lru_cache(maxsize=None)
def _skipped_ranges_api():
    """`clang_getSkippedRanges` and its free function, declared through ctypes."""
    from clang import cindex

    class RangeList(ctypes.Structure):  # CXSourceRangeList
        _fields_ = [("count", ctypes.c_uint), ("ranges", ctypes.POINTER(cindex.SourceRange))]

    lib = cindex.conf.lib
    lib.clang_getSkippedRanges.argtypes = [cindex.TranslationUnit, cindex.File]
    lib.clang_getSkippedRanges.restype = ctypes.POINTER(RangeList)
    lib.clang_disposeSourceRangeList.argtypes = [ctypes.POINTER(RangeList)]
    return lib.clang_getSkippedRanges, lib.clang_disposeSourceRangeList


def _skipped_lines(unit, path: Path) -> set[int]:
    """Lines of `path` the preprocessor skipped in this translation unit."""
    from clang import cindex

    get_ranges, dispose = _skipped_ranges_api()
    ranges = get_ranges(unit, cindex.File.from_name(unit, str(path)))
    lines: set[int] = set()
    try:
        for i in range(ranges.contents.count):
            span = ranges.contents.ranges[i]
            lines.update(range(span.start.line, span.end.line + 1))
    finally:
        dispose(ranges)
    return lines


def _written(lines: list[bytes], cursor) -> bool:
    """Whether the definition's name is written where libclang puts it (not made by a macro)."""
    line, column = cursor.location.line, cursor.location.column
    word = re.match(r"~?\w*", cursor.spelling).group().encode()
    return 0 < line <= len(lines) and lines[line - 1][column - 1:].startswith(word)


def _as_written(lines: list[bytes], cursor) -> str | None:
    """A conversion operator's name as its definition spells it (libclang resolves typedefs:
    `operator const fmt::basic_string_view` for `operator const string_view&`)."""
    line, column = cursor.location.line, cursor.location.column
    text = lines[line - 1][column - 1:].decode("utf-8", "replace") if 0 < line <= len(lines) else ""
    return text.split("(", 1)[0].split("<", 1)[0].strip() if text.startswith("operator") else None


def _definitions(unit, path: Path, lines: list[bytes]) -> tuple[set[Unit], set[int]]:
    """Classes/structs with a body and a name, functions and methods defined in `path` itself,
    outside function bodies; and the first lines of those a macro wrote."""
    from clang import cindex

    kinds = cindex.CursorKind
    classes = {kinds.CLASS_DECL, kinds.STRUCT_DECL, kinds.CLASS_TEMPLATE,
               kinds.CLASS_TEMPLATE_PARTIAL_SPECIALIZATION}
    functions = {kinds.FUNCTION_DECL, kinds.FUNCTION_TEMPLATE}
    methods = {kinds.CXX_METHOD, kinds.CONSTRUCTOR, kinds.DESTRUCTOR, kinds.CONVERSION_FUNCTION}
    found: set[Unit] = set()
    generated: set[int] = set()

    def visit(cursor, in_function: bool) -> None:
        for child in cursor.get_children():
            if child.location.file is None or Path(child.location.file.name) != path:
                continue
            kind = child.kind
            is_def = child.is_definition() and not in_function
            spelling = child.spelling
            name = spelling if _SYMBOL_OPERATOR.match(spelling) else spelling.split("<", 1)[0]  # `typed_node<T>`
            if spelling.startswith("operator "):  # `operator const string_view&`, not libclang's resolved type
                name = _as_written(lines, child) or name
            anonymous = not spelling or child.is_anonymous() or spelling.startswith(("(unnamed", "(anonymous"))
            if is_def and kind in classes | functions | methods and not anonymous and not _written(lines, child):
                generated.add(child.extent.start.line)
            elif is_def and kind in classes and not anonymous:
                found.add((name, child.extent.start.line, "class"))
            elif is_def and kind in functions | methods:
                method = kind in methods or child.semantic_parent.kind in classes
                found.add((name, child.extent.start.line, "method" if method else "function"))
            visit(child, in_function or kind in functions | methods)
    visit(unit.cursor, False)
    return found, generated


def _parse(path: Path, language: str, includes: tuple[Path, ...], defines: tuple[str, ...]):
    from clang import cindex

    args = ["-x", "c++", "-std=c++20"] if language == "cpp" else ["-x", "c", "-std=c11"]
    args += [arg for folder in builtin_headers() for arg in ("-isystem", str(folder))]
    args += ["-fsyntax-only", "-ferror-limit=0", *defines] + [f"-I{d}" for d in includes]
    # no PARSE_SKIP_FUNCTION_BODIES: a function whose body is skipped is no longer a definition
    options = cindex.TranslationUnit.PARSE_DETAILED_PROCESSING_RECORD
    return cindex.Index.create().parse(str(path), args=args, options=options)


def clang_reference(path: Path, language: str, includes: tuple[Path, ...] = ()) -> Reference | None:
    """The reference of `path` (see the module docstring); None when libclang cannot load it.
    Cached under $CODETRAIN_REFERENCE_CACHE when set (a parse takes seconds)."""
    from clang import cindex

    source = path.read_bytes()
    cache = os.environ.get("CODETRAIN_REFERENCE_CACHE")
    key = hashlib.sha256(repr((_VERSION, str(path), language, includes)).encode() + source).hexdigest()
    stored = Path(cache) / f"{key}.pickle" if cache else None
    if stored is not None and stored.exists():
        return _with_bodies(pickle.loads(stored.read_bytes()), source)
    units: set[Unit] = set()
    generated: set[int] = set()
    skipped: set[int] | None = None
    lines = source.split(b"\n")
    tried, failures = configurations(source), []
    for defines in tried:
        try:
            unit = _parse(path, language, includes, defines)
        except cindex.TranslationUnitLoadError:
            return None
        found, made = _definitions(unit, path, lines)
        units |= found
        generated |= made
        fatal = [d.spelling for d in unit.diagnostics if d.severity >= cindex.Diagnostic.Fatal]
        failures.append(fatal[0] if fatal else None)
        if not fatal:
            inactive = _skipped_lines(unit, path)
            skipped = inactive if skipped is None else skipped & inactive
    found = Reference(frozenset(units), frozenset(skipped or ()), frozenset(generated), len(tried),
                      None if None in failures else failures[0])
    if stored is not None:
        stored.parent.mkdir(parents=True, exist_ok=True)
        stored.write_bytes(pickle.dumps(found))
    return _with_bodies(found, source)


def _with_bodies(reference: Reference, source: bytes) -> Reference:
    """Without `virtual ~App() = default;` / `= delete;` and explicit instantiations (`template
    class X<int>;`): libclang calls some of those definitions, but they hold no code (collect's
    policy: no units)."""
    lines = source.split(b"\n")

    def declared_only(start: int) -> bool:
        text = b"\n".join(lines[start - 1:start + 20])
        ends = [at for at in (text.find(b"{"), text.find(b";")) if at >= 0]
        if not ends or text[min(ends)] != ord(";"):
            return False
        return bool(_DEFAULTED.search(text[:min(ends) + 1]) or _INSTANTIATION.match(text))
    return replace(reference, units=frozenset(u for u in reference.units if not declared_only(u[1])))
