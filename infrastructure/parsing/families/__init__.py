"""Twelve more languages, by family: which files they are, and the rules that cut them into units.

`languages.py` adds `EXTENSIONS` and `SHEBANGS` to its own tables; `treesitter.py` hands files
of these languages to `parse`. Importing this package loads no grammar (each is imported when
its first file is parsed).
"""
from __future__ import annotations

from domain.entities import ParsedUnit
from infrastructure.parsing.families import curly, functional, scripting

RULES = {
    "csharp": curly.CSHARP, "kotlin": curly.KOTLIN, "swift": curly.SWIFT, "scala": curly.SCALA,
    "dart": curly.DART, "zig": curly.ZIG,
    "shell": scripting.SHELL, "lua": scripting.LUA, "julia": scripting.JULIA, "elixir": scripting.ELIXIR,
    "haskell": functional.HASKELL, "ocaml": functional.OCAML,
}
EXTENSIONS = {
    ".cs": "csharp", ".csx": "csharp",
    ".kt": "kotlin", ".kts": "kotlin",
    ".swift": "swift",
    ".scala": "scala", ".sc": "scala",
    ".dart": "dart",
    ".zig": "zig",
    ".sh": "shell", ".bash": "shell", ".zsh": "shell", ".ksh": "shell",
    ".bashrc": "shell", ".bash_profile": "shell", ".bash_aliases": "shell", ".zshrc": "shell", ".profile": "shell",
    ".lua": "lua", ".rockspec": "lua",
    ".jl": "julia",
    ".ex": "elixir", ".exs": "elixir",
    ".hs": "haskell", ".hs-boot": "haskell",
    ".ml": "ocaml", ".mli": "ocaml",
}
SHEBANGS = {
    "sh": "shell", "bash": "shell", "zsh": "shell", "ksh": "shell", "dash": "shell", "ash": "shell",
    "lua": "lua", "luajit": "lua", "julia": "julia", "elixir": "elixir",
    "runghc": "haskell", "runhaskell": "haskell", "ocaml": "ocaml",
    "kotlin": "kotlin", "swift": "swift", "scala": "scala", "dart": "dart",
}


def parse(source: bytes, language: str, path: str = "") -> list[ParsedUnit]:
    """Units of one file of one of this package's languages."""
    from infrastructure.parsing.families.extract import units

    return units(source, language, RULES[language], path)
