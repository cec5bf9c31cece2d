"""C and C++ read without a preprocessor (infrastructure/parsing/c_family.py), on real files:
macros in a definition's head, `#if`/`#else` branches that each open a brace, one grammar gap
that would derail the rest of a header; and libclang's own units on a file it compiles.
Sources and licences: tests/fixtures/SOURCES-i12b.txt."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.integration.test_parsing_syntax import FIXTURES, units_of

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))


def test_a_macro_between_the_return_type_and_the_name_is_an_attribute():
    lines, units = units_of("cjson/test.c")
    assert lines[258] == "int CJSON_CDECL main(void)"  # not a function named `void`
    assert units[("main", 259)].kind == "function" and units[("main", 259)].content.endswith("}")
    assert not [name for name, _ in units if name in ("void", "CJSON_CDECL")]


def test_a_macro_on_a_preprocessor_line_is_left_alone():
    lines, units = units_of("hiredis/sds.c")
    assert lines[1287] == "#ifdef SDS_TEST_MAIN"  # blanking its name broke the `#ifdef` and `main` after it
    assert units[("main", 1289)].end_line == 1291 and units[("sdsTest", 1124)].kind == "function"
    assert not [name for name, _ in units if name == "void"]


def test_macros_before_a_constructor_a_template_and_after_if_keep_the_class_whole():
    lines, units = units_of("fmt/include/fmt/args.h", "cpp")
    assert lines[47].strip().startswith("FMT_CONSTEXPR typed_node(")  # a constructor, not a return type
    assert {("typed_node", 47), ("typed_node", 50), ("push", 58)} <= set(units)
    assert units[("dynamic_arg_list", 43)].kind == "class"
    store = units[("dynamic_format_arg_store", 74)]  # `FMT_EXPORT template <typename Context> class ...`
    assert store.kind == "class" and store.end_line == 214
    assert "if FMT_CONSTEXPR20 (need_copy<T>::value)" in units[("push_back", 153)].content
    assert units[("push_back", 153)].parent == "dynamic_format_arg_store"
    assert not [name for name, _ in units if "FMT_" in name]


def test_if_else_branches_opening_one_brace_each_give_one_unit():
    lines, units = units_of("hiredis/adapters/libuv.h")
    assert lines[106] == "#else" and lines[104].startswith("static void redisLibuvTimeout(")
    (timeout,) = [u for (name, _), u in units.items() if name == "redisLibuvTimeout"]
    assert (timeout.start_line, timeout.end_line) == (105, 112)  # both heads and the one body
    assert {name for name, _ in units} >= {"redisLibuvPoll", "redisLibuvAttach", "redisLibuvCleanup"}


def test_a_grammar_gap_does_not_derail_the_definitions_after_it():
    lines, units = units_of("fmt/include/fmt/ranges.h", "cpp")
    # `FMT_BEGIN_EXPORT` alone on line 806 made the whole parse read `template <...> auto join(`
    # wrongly; parsed alone, the stretch from line 810 reads right
    assert lines[809] == "template <typename It, typename Sentinel>" and lines[805] == "FMT_BEGIN_EXPORT"
    join = units[("join", 810)]
    assert join.kind == "function" and join.end_line == 813 and join.content.endswith("}")
    assert sorted(line for name, line in units if name == "join") == [810, 829, 845, 860] and len(units) == 94


@pytest.fixture(scope="module")
def clang_reference():
    pytest.importorskip("clang.cindex")
    from clang_reference import builtin_headers, clang_reference

    if not builtin_headers():
        pytest.skip("no GCC/LLVM compiler headers on this machine for libclang")
    return clang_reference


@pytest.mark.parametrize("rel", ["cjson/test.c", "cjson/cJSON.h"])
def test_units_match_libclang_on_a_file_it_compiles(clang_reference, rel):
    """The bench's fair reference (bench/clang_reference.py) on real files: every definition
    libclang sees, at its line, with its kind, and nothing else."""
    path = FIXTURES / rel
    reference = clang_reference(path, "c", (path.parent,))
    assert reference is not None and reference.fatal is None
    _, units = units_of(rel)
    ours = {(u.name, u.start_line, u.kind) for u in units.values() if u.start_line not in reference.skipped}
    theirs = {unit for unit in reference.units if unit[1] not in reference.generated}
    assert ours == theirs
    if rel.endswith(".h"):  # cJSON.h: `#ifdef __WINDOWS__` blocks, skipped in every configuration tried
        assert reference.configurations == 3 and len(reference.skipped) > 10
        assert theirs == {("cJSON", 103, "class"), ("cJSON_Hooks", 125, "class")}
    else:
        assert len(theirs) == 4


def test_functions_returning_a_reference_are_named():
    lines, units = units_of("cli11/include/CLI/impl/StringTools_inl.hpp", "cpp")
    assert lines[63] == "CLI11_INLINE std::string &ltrim(std::string &str) {"
    assert units[("ltrim", 64)].kind == "function" and units[("ltrim", 64)].end_line == 68
    returning_reference = [name for (name, line) in units if "&" + name + "(" in lines[line - 1].replace(" ", "")]
    assert set(returning_reference) >= {"ltrim", "rtrim", "remove_quotes", "escapedChars", "bracketChars"}


def test_a_macro_before_a_constructor_defined_out_of_its_class():
    lines, units = units_of("cli11/include/CLI/impl/Validators_inl.hpp", "cpp")
    heads = [n for n, line in enumerate(lines, 1) if line.startswith("CLI11_INLINE ") and "::" in line
             and line.split("::")[0].split()[-1] == line.split("::")[1].split("(")[0]]
    assert len(heads) == 8  # `CLI11_INLINE X::X(...) : base(...) {`
    for line in heads:
        name = lines[line - 1].split("::")[0].split()[-1]
        assert units[(name, line)].kind == "method" and units[(name, line)].parent == name, line


def test_a_macro_after_the_parameters_is_no_name():
    lines, units = units_of("spdlog/details/os-inl.h", "cpp")
    trailing = [n for n, line in enumerate(lines, 1) if line.startswith("SPDLOG_INLINE ")
                and line.endswith(") SPDLOG_NOEXCEPT {")]
    assert len(trailing) >= 15  # `SPDLOG_INLINE std::tm gmtime() SPDLOG_NOEXCEPT {`
    for line in trailing:
        (unit,) = [u for (_, start), u in units.items() if start == line]
        assert lines[line - 1].split("(")[0].endswith(" " + unit.name) and unit.kind == "function", line
    assert not [name for name, _ in units if name.startswith("SPDLOG")]


def test_a_macro_before_a_template_class_constructor_defined_out_of_its_class():
    lines, units = units_of("spdlog/sinks/base_sink-inl.h", "cpp")
    assert lines[16] == "SPDLOG_INLINE spdlog::sinks::base_sink<Mutex>::base_sink()"
    for line in (16, 20):  # the `template <typename Mutex>` line above each head
        assert units[("base_sink", line)].kind == "method" and units[("base_sink", line)].parent == "base_sink"
    assert {name for name, _ in units} >= {"log", "flush", "set_pattern", "set_formatter"}
