"""Held-back check of the twelve languages of parsing/families, as a new user would do it: read
the files with each language's own conventions (line-based regexes for definition keywords and
doc comments, written from the language references, independent of tree-sitter) and compare
with the units collect emits.

Run: .venv/bin/python bench/languages.py FOLDER... (real repositories that are not the tests'
fixtures). For each language it prints the definitions the conventions find, how many of them
are a unit of the same name starting at that line or at the attributes/signature right above it
(recall), how many units of those kinds the conventions also find (precision), and how often
the unit's doc comment agrees with "a doc comment in the language's convention is right above".
`--show N` prints N disagreements per language to read.

Measured 2026-11-29 on 24 public repositories (list in README's "Languages" section).
"""
from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# definition lines per language: the keyword line, the name in group `name`
_MODS = r"(?:(?:public|private|protected|internal|static|abstract|sealed|partial|readonly|unsafe|new|virtual" \
        r"|override|async|extern|file|required|open|final|data|enum|inner|value|annotation|inline|suspend" \
        r"|operator|infix|tailrec|actual|expect|fileprivate|indirect|mutating|convenience|class|case|implicit" \
        r"|lazy|transparent|export|pub)\s+)*"
DEFINITIONS = {
    "csharp": [rf"^\s*{_MODS}(?:class|struct|interface|enum|record(?:\s+struct|\s+class)?)\s+(?P<name>\w+)",
               rf"^\s*(?!return\b|await\b|throw\b|yield\b|else\b|using\b|var\b){_MODS}(?:[\w.]+(?:<[^()]*?>)?(?:\[\])?\??)\s+(?P<name>[A-Z]\w*)\s*(?:<[^()]*?>)?\s*\("],
    "kotlin": [rf"^\s*{_MODS}(?:class|interface|object)\s+(?P<name>\w+)",
               rf"^\s*{_MODS}fun\s+(?:<[^>]*>\s*)?(?:[\w.<>?, ]+\.)?(?P<name>\w+)\s*\("],
    "swift": [rf"^\s*(?:@\w+\s+)*{_MODS}(?:class|struct|enum|protocol|extension|actor)\s+(?!func\b)(?P<name>[\w.]+)",
              rf"^\s*(?:@\w+\s+)*{_MODS}func\s+(?P<name>\w+)"],
    "scala": [rf"^\s*{_MODS}(?:class|object|trait|enum)\s+(?P<name>\w+)",
              rf"^\s*(?:@\w+\s+)*{_MODS}def\s+(?P<name>\w+)"],
    "dart": [r"^\s*(?:abstract\s+|final\s+|base\s+|sealed\s+|interface\s+)*(?:mixin\s+class|class|mixin|enum|extension)\s+(?P<name>\w+)",
             r"^\s+(?:static\s+|external\s+)*(?:[\w<>?,]+\s+)+(?P<name>[a-z_]\w*)\s*\([^;]*$"],
    "zig": [r"^\s*(?:pub\s+)?(?:export\s+|inline\s+)?fn\s+(?P<name>\w+)",
            r"^\s*(?:pub\s+)?const\s+(?P<name>\w+)\s*=\s*(?:extern\s+|packed\s+)?(?:struct|enum|union|opaque)\b"],
    "shell": [r"^\s*function\s+(?P<name>[\w:.-]+)", r"^\s*(?P<name>[\w:.-]+)\s*\(\s*\)\s*\{?\s*$"],
    "lua": [r"^\s*(?:local\s+)?function\s+(?:[\w.]+[.:])?(?P<name>\w+)\s*\("],
    "haskell": [r"^(?P<name>[a-z_][\w']*)\s*::", r"^(?:data|newtype|class)\s+(?:[^=]*=>\s*)?(?P<name>[A-Z][\w']*)"],
    "julia": [r"^\s*(?:@\w+\s+)*function\s+(?:[\w.]+\.)?(?P<name>[\w!]+)\s*[({]",
              r"^\s*(?:mutable\s+)?struct\s+(?P<name>\w+)", r"^\s*abstract\s+type\s+(?P<name>\w+)",
              r"^module\s+(?P<name>\w+)"],
    "elixir": [r"^\s*(?:def|defp|defmacro|defmacrop|defguard|defguardp|defdelegate)\s+(?P<name>[\w?!]+)",
               r"^\s*defmodule\s+(?P<name>[\w.]+)"],
    "ocaml": [r"^\s*(?:let|and)\s+(?:rec\s+)?(?!rec\b|module\b|open\b)(?P<name>[a-z_][\w']*)\s+[~?(\w']",
              r"^\s*let\s+(?:rec\s+)?(?P<name>[a-z_][\w']*)\s*=\s*(?:fun|function)\b",
              r"^\s*module\s+(?:type\s+)?(?P<name>[A-Z]\w*)\s*(?:\(|:|=)", r"^\s*val\s+(?P<name>[a-z_][\w']*)\s*:.*->"],
}
# lines that belong to a definition above its keyword line (attributes, annotations, signatures)
ATTRIBUTES = {
    "csharp": r"^\s*\[", "kotlin": r"^\s*@", "swift": r"^\s*@", "scala": r"^\s*@", "dart": r"^\s*@",
    "julia": r"^\s*@\w+\s*$", "elixir": r"^\s*@(spec|impl|deprecated)\b|^\s+(\||when\b|\{|::)|^\s+[\w.()|, :]+$",
    "haskell": r"^[a-z_][\w']*\s*::|^\s+(->|=>|::)",
}
# the comment line right above a documented definition (or the end of its doc block)
DOC_ABOVE = {
    "csharp": r"^\s*(///|\*/|/\*\*.*\*/)", "kotlin": r"^\s*(\*/|/\*\*.*\*/|///)", "swift": r"^\s*(///|\*/)",
    "scala": r"^\s*(\*/|/\*\*.*\*/)", "dart": r"^\s*(///|\*/)", "zig": r"^\s*///",
    "shell": r"^\s*#(?!!)", "lua": r"^\s*--", "haskell": r"^\s*(--|-})", "julia": r'^\s*("""|".*"\s*$)',
    "elixir": r'^\s*("""|@doc\s+(~S)?"|\'\'\')', "ocaml": r"^\s*(\(\*\*|.*\*\)\s*$)",
}
# a comment block counts as documentation only when it has this (`/**` not `/*`, `-- |` not `--`)
DOC_MARK = {"kotlin": r"/\*\*|///", "scala": r"/\*\*", "csharp": r"///|/\*\*", "swift": r"///|/\*\*",
            "dart": r"///|/\*\*", "haskell": r"--\s?\||\{-\s?\|", "ocaml": r"\(\*\*(?!\*)"}


def reference(language: str, lines: list[str]) -> list[tuple[str, int, bool]]:
    """(name, keyword line, has a doc comment by the convention) for each definition line."""
    found, in_string = [], False
    for number, line in enumerate(lines, 1):
        opened = in_string
        in_string ^= line.count('"""') % 2 == 1  # code shown inside a multi-line string is not code
        if opened:
            continue
        for pattern in DEFINITIONS[language]:
            match = re.match(pattern, line)
            if match and match.group("name") not in ("if", "for", "while", "switch", "return", "new", "catch"):
                documented = _doc_above(language, lines, number) or _doc_after(language, lines, number)
                if language == "elixir" and match.group(0).lstrip().startswith("defmodule"):
                    documented = any(re.match(r'\s*@moduledoc\s+(~S)?"', row) for row in lines[number:number + 12])
                found.append((match.group("name"), number, documented))
                break
    return found


def _doc_after(language: str, lines: list[str], number: int) -> bool:
    """OCaml's other convention: `(** ... *)` on the line after a one-line `val`, then a blank line."""
    if language != "ocaml" or number >= len(lines) or not lines[number].lstrip().startswith("(**"):
        return False
    end = number
    while end < len(lines) and "*)" not in lines[end]:
        end += 1
    return end + 1 >= len(lines) or not lines[end + 1].strip()


def _doc_above(language: str, lines: list[str], number: int) -> bool:
    row = number - 2
    attribute = ATTRIBUTES.get(language)
    while row >= 0 and attribute and re.match(attribute, lines[row]):
        row -= 1
    if row < 0 or not re.match(DOC_ABOVE[language], lines[row]):
        return False
    if re.search(r"@doc\s+false", lines[row]):
        return False
    mark = DOC_MARK.get(language)
    if mark is None:
        return True
    if lines[row].strip().endswith(("-}", "*)")) and not lines[row].lstrip().startswith(("{-", "(*")):
        while row > 0 and not lines[row].lstrip().startswith(("{-", "(*")):  # to the block's opening
            row -= 1
        return bool(re.search(mark, lines[row]))
    block = [lines[row]]  # the comment block upwards, to see whether it opens as documentation
    while row > 0 and re.match(r"^\s*(//|\*|/\*|--|\{-|\(\*|[^=]*\*\)\s*$)", lines[row - 1]) \
            and not re.search(r"\*/\s*$", lines[row - 1]):
        row -= 1
        block.append(lines[row])
    return any(re.search(mark, line) for line in block)


def check(language: str, path: Path, parser, tallies: dict, misses: dict) -> None:
    data = path.read_bytes()
    text = data.decode("utf-8", "replace")
    lines = text.splitlines()
    units = [u for u in parser.parse(data, language, str(path)) if u.name]
    expected = reference(language, lines)
    tally = tallies[language]
    tally["files"] += 1
    tally["units"] += len(units)
    matched_units, definition_lines = set(), {number: name for name, number, _ in expected}
    for name, number, has_doc in expected:
        tally["reference"] += 1
        unit = max((u for u in units if u.name == name and u.start_line <= number <= u.end_line),
                   key=lambda u: u.start_line, default=None)
        between = [definition_lines[row] for row in range(unit.start_line, number) if row in definition_lines] \
            if unit is not None else []
        if unit is None or any(other != name for other in between):
            misses[language].append(f"missed   {path.name}:{number} {name}: {lines[number - 1].strip()[:70]}")
            continue
        tally["found"] += 1
        matched_units.add(id(unit))
        if between:
            continue  # a later clause of the same definition (Elixir, Haskell): its doc is the first's
        tally["checked_docs"] += 1
        tally["doc_agree"] += bool(unit.docstring) == has_doc
        tally["doc_reference"] += has_doc
        tally["doc_found"] += has_doc and bool(unit.docstring)
        if bool(unit.docstring) != has_doc:
            misses[language].append(f"doc {'extra' if unit.docstring else 'missed'} {path.name}:{number} {name}")
    kinds = {"class"} if language in ("dart",) else {"class", "function", "method"}
    for unit in units:
        if unit.kind in kinds and id(unit) not in matched_units:
            tally["unmatched_units"] += 1
    tally["units_of_kinds"] += sum(1 for u in units if u.kind in kinds)


def main() -> None:
    from infrastructure.parsing.families import RULES
    from infrastructure.parsing.treesitter import TreeSitterParser

    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("folders", type=Path, nargs="+")
    arguments.add_argument("--show", type=int, default=0, help="disagreements to print per language")
    args = arguments.parse_args()
    parser, tallies, misses = TreeSitterParser(), defaultdict(lambda: defaultdict(int)), defaultdict(list)
    for folder in args.folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and ".git" not in p.parts):
            head = path.read_bytes()[:256]
            language = parser.language_for(str(path), head)
            if language in RULES and b"\0" not in head:
                check(language, path, parser, tallies, misses)
    print(f"{'language':>9} {'files':>5} {'units':>6} {'defs':>5} {'recall':>6} {'docs':>5} {'doc recall':>10} "
          f"{'doc agree':>9}")
    for language in sorted(tallies):
        t = tallies[language]
        print(f"{language:>9} {t['files']:>5} {t['units']:>6} {t['reference']:>5} "
              f"{t['found'] / max(t['reference'], 1):>6.3f} {t['doc_reference']:>5} "
              f"{t['doc_found'] / max(t['doc_reference'], 1):>10.3f} {t['doc_agree'] / max(t['checked_docs'], 1):>9.3f}")
        for line in misses[language][:args.show]:
            print("    " + line)


if __name__ == "__main__":
    main()
