"""Syntax that cut units wrongly (issue 12, item 6), on real files: each unit starts and ends
where its definition does, carries its own name, parent and docstring, and its content is
exactly its file's lines start..end. Sources and licences: tests/fixtures/SOURCES-i12b.txt."""
from __future__ import annotations

from pathlib import Path

import pytest

from infrastructure.parsing.treesitter import TreeSitterParser

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def units_of(rel: str, language: str | None = None) -> tuple[list[str], dict[tuple[str, int], object]]:
    """(the file's lines, its units by (name, start line)), every content checked against its span."""
    data = (FIXTURES / rel).read_bytes()
    parser = TreeSitterParser()
    found = parser.parse(data, language or parser.language_for(rel, data), rel)
    lines = data.decode().splitlines()
    for unit in found:
        assert unit.content == "\n".join(lines[unit.start_line - 1:unit.end_line]), (unit.name, unit.start_line)
    return lines, {(u.name, u.start_line): u for u in found}


def test_go_grouped_types_give_each_struct_its_own_span():
    lines, units = units_of("go-clean-template/config.go")
    structs = {name: u for (name, _), u in units.items() if u.kind == "class"}
    assert set(structs) == {"Config", "app", "http", "log", "pg", "grpc", "rmq", "nats", "jwt", "metrics",
                            "swagger", "tracing"}
    for name, unit in structs.items():
        assert lines[unit.start_line - 1].strip().startswith(f"{name} struct"), name
        assert lines[unit.end_line - 1].strip() == "}" and unit.content.count(" struct") == 1, name
    assert structs["app"].docstring == "App -."  # the comment above the spec, not the group's


def test_rust_doc_comment_then_attributes_starts_at_the_attributes_and_ends_with_the_item():
    lines, units = units_of("serde_json/float.rs")
    extended = units[("ExtendedFloat", 12)]  # `#[doc(hidden)]`, `#[derive(...)]`, then the struct
    assert lines[11] == "#[doc(hidden)]" and extended.kind == "class" and extended.content.endswith("}")
    assert "pub(crate) struct ExtendedFloat {" in extended.content and extended.end_line == 19
    assert "Private implementation, exposed only for testing purposes." in extended.docstring
    imul = units[("imul", 65)]
    assert imul.content.splitlines()[0].strip() == "#[inline]" and imul.end_line == 68
    assert imul.kind == "method" and imul.parent == "ExtendedFloat" and "not normalized" in imul.docstring
    inline = [u for u in units.values() if u.content.lstrip().startswith("#[inline]")]
    assert len(inline) == 8 and all(u.end_line > u.start_line for u in inline)


def test_typescript_bundler_pragma_is_not_a_docstring():
    lines, units = units_of("zod/coerce.ts")
    assert sum(line == "// @__NO_SIDE_EFFECTS__" for line in lines) == 5
    assert sorted(name for name, _ in units) == ["bigint", "boolean", "date", "number", "string"]
    assert all(u.docstring is None and u.kind == "function" for u in units.values())


def test_java_annotation_type_is_a_class_unit():
    _, units = units_of("gson/Since.java")
    (since,) = units.values()
    assert since.name == "Since" and since.kind == "class" and "public @interface Since {" in since.content
    assert since.content.startswith("@Documented") and "indicates the version number" in since.docstring


def test_java_anonymous_class_methods_are_methods_of_their_type():
    lines, units = units_of("gson/SqlTimestampTypeAdapter.java")
    create = units[("create", 33)]  # in `static final TypeAdapterFactory FACTORY = new TypeAdapterFactory() {`
    assert lines[32].strip().startswith("@SuppressWarnings") and create.kind == "method"
    assert create.parent == "TypeAdapterFactory" and create.end_line == 42
    assert {(u.name, u.parent) for u in units.values() if u.kind == "method"} >= {
        ("read", "SqlTimestampTypeAdapter"), ("write", "SqlTimestampTypeAdapter")}


@pytest.mark.parametrize("rel,enclosing", [("gson/NumberTypeAdapter.java", "newFactory"),
                                           ("slim/MiddlewareDispatcher.php", "addMiddleware")])
def test_anonymous_classes_inside_a_function_body_stay_in_that_function(rel, enclosing):
    # Policy (infrastructure/parsing/treesitter.py): definitions inside a function body are part
    # of that function, not units of their own; never a parentless `function`.
    _, units = units_of(rel)
    assert all(u.kind != "function" for u in units.values())
    (outer,) = [u for (name, _), u in units.items() if name == enclosing]
    assert "new " in outer.content and ("new class" in outer.content or "() {" in outer.content)


def test_string_keyed_methods_keep_their_whole_key():
    _, units = units_of("zod/compile.ts")
    assert sorted(name for name, _ in units) == ["AOT raw fast path", "Compiled schema.safeParse (wrapped)",
                                                 "Zod JIT", "Zod non-JIT"]


def test_cpp_conversion_operators_are_units_named_like_the_reference():
    _, xchar = units_of("fmt/include/fmt/xchar.h")
    _, os_h = units_of("fmt/include/fmt/os.h")
    view = xchar[("operator basic_string_view", 112)]  # `FMT_DEPRECATED operator basic_string_view<Char>() const`
    assert view.kind == "method" and view.parent == "basic_fstring"
    writer = os_h[("operator writer", 371)]
    assert writer.kind == "method" and writer.parent == "ostream" and writer.end_line == 374


def test_cpp_definitions_behind_fmt_macros_are_found():
    lines, units = units_of("fmt/include/fmt/xchar.h")
    for name, line in (("basic_fstring", 97), ("basic_fstring", 104), ("join", 163), ("format_to_n", 284)):
        assert lines[line - 1].lstrip().startswith("FMT_"), line
        (unit,) = [u for (n, start), u in units.items() if n == name and start <= line <= u.end_line and u.kind != "class"]
        assert lines[unit.start_line - 1].lstrip().startswith(("template", "FMT_"))  # `template <...>` included
        assert line - unit.start_line <= 3
    assert not [u for u in units.values() if u.name.startswith("FMT_")]


def test_cpp_defaulted_and_deleted_members_are_no_units():
    lines, units = units_of("fmt/include/fmt/os.h")
    declared = [n for n, line in enumerate(lines, 1) if line.rstrip().endswith(("= delete;", "= default;"))]
    assert len(declared) == 5 and not [u for (_, start), u in units.items() if start in declared]


def test_c_typedef_of_an_anonymous_struct_is_named_by_the_typedef():
    lines, units = units_of("hiredis/hiredis.h")
    options = units[("redisOptions", 186)]  # `typedef struct { ... } redisOptions;` (libclang's name too)
    assert lines[185] == "typedef struct {" and options.kind == "class" and options.content.endswith("} redisOptions;")
    assert {("redisReply", 120), ("redisContextFuncs", 242), ("redisContext", 258)} <= set(units)


def test_rust_unit_starts_at_its_first_attribute_across_comments_between_attributes():
    # found against rustc's parser (bench/reference_parsers.py): a comment between two
    # attributes ended the unit's attributes, and `#[cfg(...)]` / `#[allow(...)]` were lost
    lines, units = units_of("serde_json/number.rs")
    unchecked = units[("from_string_unchecked", 341)]
    assert lines[340].strip() == '#[cfg(feature = "arbitrary_precision")]'
    assert unchecked.content.splitlines()[1].strip() == "/// Not public API. Only tests use this."
    assert unchecked.kind == "method" and unchecked.parent == "Number"
    lines, units = units_of("log/key.rs")
    from_str = units[("from_str", 44)]  # `#[allow(..)] // Part of the public API now.`, then `pub fn`
    assert lines[43].strip().startswith("#[allow(clippy::should_implement_trait)] //")
    assert from_str.docstring == "Get a key from a borrowed string."


def test_computed_method_keys_keep_their_whole_name():
    _, units = units_of("axios/AxiosHeaders.js")
    assert units[("[Symbol.iterator]", 240)].kind == "method"
    assert units[("[Symbol.toStringTag]", 248)].parent == "AxiosHeaders"
    assert not [name for name, _ in units if name.endswith("]") and not name.startswith("[")]


def test_ruby_top_level_class_path_is_named_without_its_leading_colons():
    lines, units = units_of("sinatra/reloader_spec.rb")
    assert lines[476].strip() == "class ::Parent < Sinatra::Base"
    assert units[("Parent", 477)].kind == "class"
    assert units[("RouteExtension", 260)].kind == "class"
    assert not [name for name, _ in units if name.startswith("::")]


def test_typescript_method_starts_at_its_decorators_and_decorator_arguments_are_no_methods():
    # found against the TypeScript compiler API: a method's decorators are its siblings in the
    # class body, so units started at the name and lost `@Query(...)` (nestjs/graphql: 149 of 549)
    lines, units = units_of("nestjs-graphql/notification.resolver.ts")
    query = units[("getFederatedNotification", 9)]
    assert lines[8].strip() == "@Query(() => Notification)" and query.kind == "method"
    subscription = units[("newFederatedNotification", 14)]
    assert subscription.content.splitlines()[0].strip() == "@Subscription(() => Notification, {"
    assert subscription.parent == "NotificationResolver" and subscription.content.rstrip().endswith("}")
    # `filter(payload, variables) {...}` in the decorator's options: a function, not the class's method
    assert units[("filter", 15)].kind == "function" and units[("filter", 15)].parent is None


def test_methods_of_an_unnamed_class_expression_are_methods():
    _, units = units_of("class-validator/container.ts")
    get = units[("get", 22)]  # `new (class { get<T>(...) {...} })()`
    assert get.kind == "method" and get.parent == "class@anonymous"
