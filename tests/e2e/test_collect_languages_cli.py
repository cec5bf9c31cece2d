"""`collect` through the CLI on one folder holding all 22 languages: units in each, none skipped
as unsupported; `collect --help` names every language the parser knows."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
from click.testing import CliRunner

from infrastructure.parsing.languages import EXTENSIONS
from presentation.cli import cli

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "languages"
# the first ten languages, one small definition each (their real-file tests are elsewhere)
FIRST_TEN = {
    "app.py": "class App:\n    def run(self):\n        return 1\n",
    "web.js": "function handler(req) {\n  return req.url;\n}\n",
    "types.ts": "export class Store<T> {\n  get(): T | undefined { return undefined; }\n}\n",
    "Main.java": "public class Main {\n  public static void main(String[] args) {}\n}\n",
    "server.go": "package main\n\nfunc Serve(port int) error {\n\treturn nil\n}\n",
    "lib.rs": "pub fn parse(input: &str) -> usize {\n    input.len()\n}\n",
    "buf.c": "int buf_len(const char *s) {\n  int n = 0;\n  while (s[n]) n++;\n  return n;\n}\n",
    "vec.cpp": "class Vec {\n public:\n  int size() const { return n; }\n  int n;\n};\n",
    "task.rb": "class Task\n  def call\n    :done\n  end\nend\n",
    "index.php": "<?php\nfunction render($view) {\n  return $view;\n}\n",
}
SCRIPT = "#!/usr/bin/env bash\n# Deploys the site.\ndeploy() {\n  rsync -a site/ host:/srv/\n}\ndeploy\n"


def test_collect_on_all_22_languages_reports_units_in_each(tmp_path):
    source = tmp_path / "polyglot"
    for folder in (p for p in FIXTURES.iterdir() if p.is_dir()):
        for path in folder.iterdir():
            if not path.name.startswith("LICENSE"):
                (source / folder.name).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, source / folder.name / path.name)
    for name, text in FIRST_TEN.items():
        (source / "first_ten" / name).parent.mkdir(parents=True, exist_ok=True)
        (source / "first_ten" / name).write_text(text)
    (source / "bin").mkdir()
    (source / "bin" / "deploy").write_text(SCRIPT)  # no extension: found by its #! line
    out = tmp_path / "collection"

    result = CliRunner().invoke(cli, ["collect", str(source), "-o", str(out), "--workers", "1"],
                                catch_exceptions=False)

    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert "unsupported_language" not in manifest["counts"]["skipped"]
    rows = [r for shard in manifest["shards"] for r in pq.read_table(out / shard["path"]).to_pylist()]
    units = {}
    for row in rows:
        if row["kind"] != "file":
            units[row["language"]] = units.get(row["language"], 0) + 1
    assert set(units) == set(EXTENSIONS.values())
    assert len(units) == 22
    assert ("shell", "deploy", 3) in {(r["language"], r["name"], r["start_line"]) for r in rows}
    for language in units:
        assert f"'{language}'" in result.output.split("units by language", 1)[1].split("\n", 1)[0]


def test_collect_help_lists_every_language():
    result = CliRunner().invoke(cli, ["collect", "--help"])
    assert result.exit_code == 0
    help_text = " ".join(result.output.split())
    for language in set(EXTENSIONS.values()):
        assert f" {language}," in help_text or f" {language}." in help_text
