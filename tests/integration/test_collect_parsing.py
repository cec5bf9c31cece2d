"""tree-sitter units in each of the ten languages: kind, name, enclosing class, lines, docstring."""
from __future__ import annotations

import pytest

from infrastructure.parsing.treesitter import TreeSitterParser

CASES = {
    "a.js": (b"// Adds.\nfunction add(a, b) { return a + b; }\nconst mul = (a, b) => a * b;\n"
             b"class W {\n  draw() { return 1; }\n  onClick = () => {};\n}\nobj.run = function () {};\n",
             {("function", "add", None, 2, "Adds."), ("function", "mul", None, 3, None),
              ("class", "W", None, 4, None), ("method", "draw", "W", 5, None),
              ("method", "onClick", "W", 6, None), ("function", "run", None, 8, None)}),
    "a.tsx": (b"export function App(): JSX.Element { return <div/>; }\n",
              {("function", "App", None, 1, None)}),
    "a.ts": (b"/** Box. */\nclass Box<T> { get(): T { return this.v; } }\n",
             {("class", "Box", None, 2, "Box."), ("method", "get", "Box", 2, None)}),
    "A.java": (b"public class A {\n  /** Ctor. */\n  public A() {}\n  void run() {}\n}\n",
               {("class", "A", None, 1, None), ("method", "A", "A", 3, "Ctor."), ("method", "run", "A", 4, None)}),
    "a.go": (b"package m\n// S is a server.\ntype S struct{}\nfunc (s *S) Start() {}\nfunc main() {}\n",
             {("class", "S", None, 3, "S is a server."), ("method", "Start", "S", 4, None),
              ("function", "main", None, 5, None)}),
    "a.rs": (b"struct P;\nimpl P {\n    /// New.\n    fn new() -> P { P }\n}\nfn main() {}\n",
             {("class", "P", None, 1, None), ("method", "new", "P", 4, "New."), ("function", "main", None, 6, None)}),
    "a.c": (b"/* Add. */\nstatic int add(int a) { return a; }\nchar *name(void) { return 0; }\n",
            {("function", "add", None, 2, "Add."), ("function", "name", None, 3, None)}),
    "a.cpp": (b"class W {\n  void draw() {}\n};\nvoid W::resize(int w) {}\ntemplate <typename T> T id(T x) { return x; }\n",
              {("class", "W", None, 1, None), ("method", "draw", "W", 2, None),
               ("method", "resize", "W", 4, None), ("function", "id", None, 5, None)}),
    "a.rb": (b"class Dog\n  # Barks.\n  def bark; end\n  def self.make; end\nend\ndef helper; end\n",
             {("class", "Dog", None, 1, None), ("method", "bark", "Dog", 3, "Barks."),
              ("method", "make", "Dog", 4, None), ("function", "helper", None, 6, None)}),
    "a.php": (b"<?php\n// Hi.\nfunction hi() {}\nclass U {\n  public function name() {}\n}\n",
              {("function", "hi", None, 3, "Hi."), ("class", "U", None, 4, None), ("method", "name", "U", 5, None)}),
}


@pytest.mark.parametrize("path", sorted(CASES))
def test_units_per_language(path):
    source, expected = CASES[path]
    parser = TreeSitterParser()
    language = parser.language_for(path)
    units = {(u.kind, u.name, u.parent, u.start_line, u.docstring) for u in parser.parse(source, language, path)}
    assert units == expected


@pytest.mark.parametrize("path, head, language", [
    ("x.py", b"", "python"), ("x.mjs", b"", "javascript"), ("x.hpp", b"", "cpp"), ("x.h", b"", "c"),
    ("bin/run", b"#!/usr/bin/env python3\n", "python"), ("bin/serve", b"#!/usr/bin/node\n", "javascript"),
    ("bin/task", b"#!/usr/bin/env ruby\n", "ruby"), ("README", b"hello", None), ("x.md", b"", None),
])
def test_language_from_extension_then_shebang(path, head, language):
    assert TreeSitterParser().language_for(path, head) == language


def test_content_spans_the_definition_with_its_decorators():
    source = b"@app.route('/')\n@cached\ndef index():\n    return 'hi'\n"
    (unit,) = TreeSitterParser().parse(source, "python")
    assert unit.start_line == 1 and unit.end_line == 4  # from the first decorator
    assert unit.content.startswith("@app.route('/')") and unit.content.endswith("return 'hi'")
