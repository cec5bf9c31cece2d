"""The layering rule of the design card, checked on the source: domain imports nothing from the
outer layers; application imports no adapters and no heavy framework at module level."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = {"torch", "transformers", "peft", "accelerate", "datasets", "boto3", "botocore",
         "pyarrow", "tree_sitter", "tokenizers", "bitsandbytes"}


def imported_modules(path: Path, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", sources("domain"), ids=lambda p: p.name)
def test_domain_imports_nothing_from_outer_layers(path):
    outer = {"application", "infrastructure", "presentation"} | HEAVY
    assert not imported_modules(path, top_level_only=False) & outer


@pytest.mark.parametrize("path", sources("application"), ids=lambda p: p.name)
def test_application_imports_no_adapters_or_frameworks(path):
    assert not imported_modules(path, top_level_only=False) & {"infrastructure", "presentation"}
    assert not imported_modules(path, top_level_only=True) & HEAVY


def test_the_layer_check_would_catch_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from infrastructure.sources.walker import walk_files\n")
    assert "infrastructure" in imported_modules(bad, top_level_only=False)


# The use-case tests run on tests/unit/fakes.py alone: a use case that only works with a real
# adapter has a hidden dependency.
FAKE_DRIVEN = ("fakes.py", "test_collect_use_case.py", "test_dataset_use_case.py", "test_train_use_case.py",
               "test_evaluate_use_case.py")


@pytest.mark.parametrize("name", FAKE_DRIVEN)
def test_use_case_tests_import_no_adapters(name):
    assert not imported_modules(ROOT / "tests" / "unit" / name, top_level_only=False) & {"infrastructure", "presentation"}


def test_importing_the_use_case_tests_loads_no_adapter_module():
    modules = ", ".join(f"tests.unit.{name.removesuffix('.py')}" for name in FAKE_DRIVEN)
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); import {modules}; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('infrastructure', 'presentation')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
