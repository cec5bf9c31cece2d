"""The twelve languages of parsing/families on real files (tests/fixtures/languages, each with its
licence; SOURCES.txt says where from): names, kinds, owners, start lines and doc comments as the
files say them, plus the mechanisms each language needs on small snippets."""
from __future__ import annotations

from pathlib import Path

import pytest

from infrastructure.parsing.families import EXTENSIONS, RULES
from infrastructure.parsing.treesitter import TreeSitterParser

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "languages"

# (file, kind, name, parent, start line, first words of the doc comment or None), read off the files
EXPECTED = [
    ("csharp/IPublisher.cs", "class", "IPublisher", None, 9, "Publish a notification or event"),
    ("csharp/IPublisher.cs", "method", "Publish", "IPublisher", 25, "Asynchronously send a notification"),
    ("csharp/RequestPreProcessorBehavior.cs", "method", "Handle", "RequestPreProcessorBehavior", 20, None),
    ("kotlin/KotlinLintActivity.kt", "class", "KotlinLintActivity", None, 11, None),  # from @SuppressLint
    ("kotlin/KotlinLintActivity.kt", "method", "onCreate", "KotlinLintActivity", 19,
     "Below are some examples of how NOT to use Timber."),
    ("swift/ConcurrencyTests.swift", "class", "ConcurrencyTests", None, 28, "Tests verifying Sendable conformance"),
    ("swift/ConcurrencyTests.swift", "method", "extract", "Processor", 31, None),
    ("swift/ConcurrencyTests.swift", "method", "testJSONSendable", "ConcurrencyTests", 48,
     "Verifies JSON conforms to Sendable"),
    ("scala/SourceContext.scala", "class", "SourceCompanion", None, 7, None),
    ("scala/SourceContext.scala", "method", "wrap", "SourceCompanion", 9, None),
    ("scala/Macros.scala", "method", "nonMacroOwner", "Macros", 110, "In Scala 3, macro `mcr()` is expanded to:"),
    ("dart/style.dart", "class", "Style", None, 11, 'An enum type describing a "flavor" of path.'),
    ("dart/style.dart", "method", "name", "Style", 48, 'The name of this path style.'),
    ("dart/style.dart", "method", "separator", "Style", 53, None),  # from its @Deprecated annotation
    ("dart/path_map.dart", "method", "PathMap.of", "PathMap", 23, "Creates a [PathMap] with the same keys"),
    ("zig/parsers.zig", "function", "string", None, 19, "A parser that does nothing."),
    ("zig/parsers.zig", "function", "int", None, 29, "A parser that uses `std.fmt.parseInt`"),
    ("shell/semaphore.bash", "function", "bats_run_under_flock", None, 3, None),
    ("shell/semaphore.bash", "function", "bats_semaphore_setup", None, 21,
     "setup the semaphore environment for the loading file"),
    ("lua/json.lua", "function", "encode", None, 124, None),
    ("lua/json.lua", "method", "encode", "json", 134, None),
    ("lua/profile.lua", "method", "start", "profile", 12, "start profiling using LuaJIT profiler"),
    ("haskell/GFinite.hs", "class", "Cardinality", None, 27, "Cardinality of a set."),
    ("haskell/GFinite.hs", "class", "Finite", None, 90, "A type class for data with a finite number"),
    ("haskell/GFinite.hs", "method", "cardinality", "Finite", 95, None),  # `default` signature + equation
    ("haskell/GFinite.hs", "function", "cardinalityDef", None, 192, None),  # signature + equation
    ("julia/dibit_vector.jl", "class", "DiBitVector", None, 11, "DiBitVector(n::Integer, v::Integer)"),
    ("julia/dibit_vector.jl", "method", "DiBitVector", "DiBitVector", 15, None),  # inner constructor
    ("julia/dibit_vector.jl", "function", "DiBitVector", None, 37, "DiBitVector(n::Integer)"),
    ("julia/delegate.jl", "function", "delegate", None, 12, None),
    ("elixir/poison.ex", "class", "Poison", None, 1, None),  # its @moduledoc is read from a file
    ("elixir/poison.ex", "method", "encode_to_iodata", "Poison", 20, "Encode a value to JSON IO data."),
    ("elixir/poison.ex", "method", "decode!", "Poison", 119, "Decode JSON to a value. Raises an exception"),
    ("ocaml/fmt_tty.mli", "function", "setup", None, 20, "[setup ?style_renderer ?utf_8 outc] is a formatter"),
    ("ocaml/fmt_tty.ml", "function", "is_infix", None, 6, None),
]


def _units(relative: str):
    path = FIXTURES / relative
    parser = TreeSitterParser()
    language = parser.language_for(str(path), path.read_bytes()[:256])
    return language, parser.parse(path.read_bytes(), language, str(path))


@pytest.mark.parametrize("relative, kind, name, parent, start, doc", EXPECTED,
                         ids=[f"{e[0]}:{e[2]}:{e[4]}" for e in EXPECTED])
def test_real_files_give_named_units_with_start_line_and_doc(relative, kind, name, parent, start, doc):
    language, units = _units(relative)
    assert language == EXTENSIONS[Path(relative).suffix]
    found = [u for u in units if (u.kind, u.name, u.parent, u.start_line) == (kind, name, parent, start)]
    assert len(found) == 1, sorted((u.start_line, u.kind, u.name, u.parent) for u in units)
    if doc is None:
        assert found[0].docstring is None
    else:
        assert found[0].docstring.startswith(doc)


def test_every_language_has_a_fixture_and_an_expectation():
    assert {EXTENSIONS[Path(e[0]).suffix] for e in EXPECTED} == set(RULES)
    assert {p.name for p in FIXTURES.iterdir() if p.is_dir()} == set(RULES)


@pytest.mark.parametrize("folder", sorted(RULES))
def test_unit_content_is_its_lines_in_the_file(folder):
    """A unit's content is exactly its lines start_line..end_line, whole: the first line's
    indentation and the rest of the last line (a trailing comment) included."""
    for path in sorted((FIXTURES / folder).iterdir()):
        if path.name.startswith("LICENSE"):
            continue
        _, units = _units(f"{folder}/{path.name}")
        lines = path.read_text(encoding="utf-8").splitlines()
        assert units
        for unit in units:
            span = "\n".join(lines[unit.start_line - 1:unit.end_line])
            assert unit.content.rstrip() == span.rstrip(), (path.name, unit.name, unit.start_line)


SNIPPETS = {
    # Haskell: signature and equations are one unit; an instance owns its equations
    "a.hs": (b"-- | Adds.\nadd :: Int -> Int\nadd 0 = 0\n{-# INLINE add #-}\nadd n = n\n\n"
             b"instance Show T where\n  show _ = \"t\"\n",
             {("function", "add", None, 2, 5, "Adds."), ("method", "show", "Show T", 8, 8, None)}),
    # Elixir: clauses of one function are one unit, from its @spec; @doc false is no doc
    "a.ex": (b'defmodule A.B do\n  @moduledoc "Mod."\n  @doc "Fact."\n  @spec f(integer) :: integer\n'
             b"  def f(0), do: 1\n\n  def f(n), do: n * f(n - 1)\n  @doc false\n  defp g(x) when x > 0, do: x\nend\n",
             {("class", "A.B", None, 1, 10, "Mod."), ("method", "f", "A.B", 4, 7, "Fact."),
              ("method", "g", "A.B", 9, 9, None)}),
    # OCaml interfaces: the doc comment after a `val` (followed by a blank line) is its doc
    "a.mli": (b"val f : int -> int\n(** After f. *)\n\n(** Before g. *)\nval g : int -> int\nval v : int\n",
              {("function", "f", None, 1, 1, "After f."), ("function", "g", None, 5, 5, "Before g.")}),
    # Dart: annotations and the body are siblings of a method's signature
    "a.dart": (b"class C {\n  /// Runs.\n  @override\n  void run() {\n    int local() => 1;\n  }\n}\n",
               {("class", "C", None, 1, 7, None), ("method", "run", "C", 3, 6, "Runs."),
                ("function", "local", None, 5, 5, None)}),
    # Lua: `a.b` and `a:b` functions are methods of `a`; `---` blocks are docs
    "a.lua": (b"--- Makes one.\n-- @return table\nfunction M.new() end\nfunction M:run() end\nlocal f = function() end\n",
              {("method", "new", "M", 3, 3, "Makes one.\n@return table"), ("method", "run", "M", 4, 4, None),
               ("function", "f", None, 5, 5, None)}),
    # Zig: a type is the constant it is bound to
    "a.zig": (b"/// A point.\npub const P = struct {\n    /// Origin.\n    pub fn zero() P { return .{}; }\n};\n",
              {("class", "P", None, 2, 5, "A point."), ("method", "zero", "P", 4, 4, "Origin.")}),
    # shell: the shebang is not a doc comment; a blank line ends the block
    "a.sh": (b"#!/bin/sh\n# Greets.\ngreet() { echo hi; }\n# unrelated\n\nfunction bye { :; }\n",
             {("function", "greet", None, 3, 3, "Greets."), ("function", "bye", None, 6, 6, None)}),
    # Julia: a string right above is the docstring; `@inline` belongs to the unit
    "a.jl": (b'"Squares."\n@inline sq(x) = x^2\nfunction Base.show(io::IO, p::P) end\n',
             {("function", "sq", None, 2, 2, "Squares."), ("function", "show", None, 3, 3, None)}),
    # C#: XML <summary> tags are markup, not doc text; an attribute starts the unit
    "a.cs": (b"class K {\n  /// <summary>Does it.</summary>\n  [Obsolete]\n  public void Do() {}\n"
             b"  public static K operator +(K a, K b) => a;\n}\n",
             {("class", "K", None, 1, 6, None), ("method", "Do", "K", 3, 4, "Does it."),
              ("method", "operator +", "K", 5, 5, None)}),
    # Kotlin / Swift / Scala: KDoc on the line of the definition, unnamed companion, init
    "a.kt": (b"class A {\n  companion object {\n    /** Make. */ fun make() = A()\n  }\n}\n",
             {("class", "A", None, 1, 5, None), ("class", "Companion", None, 2, 4, None),
              ("method", "make", "Companion", 3, 3, "Make.")}),
    "a.swift": (b"struct S {\n    /// New.\n    init(x: Int) {}\n    static func == (a: S, b: S) -> Bool { true }\n}\n",
                {("class", "S", None, 1, 5, None), ("method", "init", "S", 3, 3, "New."),
                 ("method", "==", "S", 4, 4, None)}),
    "a.scala": (b"object O {\n  // not a doc\n  def f(x: Int) =\n    x + 1\n\n  def g = 2\n}\n",
                {("class", "O", None, 1, 7, None), ("method", "f", "O", 3, 4, None), ("method", "g", "O", 6, 6, None)}),
}


@pytest.mark.parametrize("path", sorted(SNIPPETS))
def test_language_mechanisms_on_snippets(path):
    source, expected = SNIPPETS[path]
    parser = TreeSitterParser()
    units = parser.parse(source, parser.language_for(path), path)
    assert {(u.kind, u.name, u.parent, u.start_line, u.end_line, u.docstring) for u in units} == expected


@pytest.mark.parametrize("path, head, language", [
    ("Program.cs", b"", "csharp"), ("build.gradle.kts", b"", "kotlin"), ("Package.swift", b"", "swift"),
    ("A.scala", b"", "scala"), ("install.sh", b"", "shell"), ("lib.bash", b"", "shell"),
    ("home/.bashrc", b"", "shell"), ("init.lua", b"", "lua"), ("Main.hs", b"", "haskell"),
    ("run.jl", b"", "julia"), ("mix.exs", b"", "elixir"), ("build.zig", b"", "zig"), ("main.dart", b"", "dart"),
    ("uri.ml", b"", "ocaml"), ("uri.mli", b"", "ocaml"),
    ("bin/deploy", b"#!/usr/bin/env bash\nset -e\n", "shell"), ("bin/x", b"#!/bin/sh\n", "shell"),
    ("bin/j", b"#!/usr/bin/env -S julia --project\n", "julia"), ("bin/e", b"#!/usr/bin/env elixir\n", "elixir"),
    ("bin/l", b"#!/usr/bin/lua5.4\n", "lua"), ("bin/z", b"#!/bin/zsh\n", "shell"),
])
def test_language_from_extension_then_shebang(path, head, language):
    assert TreeSitterParser().language_for(path, head) == language


def test_broken_code_still_gives_the_definitions_around_the_error():
    source = b"fun ok() = 1\nfun broken( {\nclass Later { fun m() {} }\n"
    units = TreeSitterParser().parse(source, "kotlin", "a.kt")
    assert ("ok", 1) in {(u.name, u.start_line) for u in units}
