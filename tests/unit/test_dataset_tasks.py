"""Per-unit task logic: FIM rewriting, recency weights, labels, headers, request checks."""
from __future__ import annotations

import pytest

from application.dataset.request import DatasetRequest, parse_ratios
from application.dataset.tasks import (
    FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX, document_text, fim_transform, label_map, recency_weights,
    security_label,
)
from domain.errors import DatasetError

TEXT = "def area(r):\n    return 3.14159 * r * r\n\n\nprint(area(2))\n"


def split_fim(text: str) -> tuple[str, str, str]:
    assert text.startswith(FIM_PREFIX)
    prefix, rest = text[len(FIM_PREFIX):].split(FIM_SUFFIX)
    suffix, middle = rest.split(FIM_MIDDLE)
    return prefix, middle, suffix


def test_fim_rewrites_prefix_suffix_middle_and_loses_nothing():
    for key in map(str, range(50)):
        prefix, middle, suffix = split_fim(fim_transform(TEXT, 1.0, seed=0, key=key))
        assert prefix + middle + suffix == TEXT


def test_fim_rate_is_the_share_of_documents_rewritten_and_is_reproducible():
    rewritten = [fim_transform(TEXT, 0.3, seed=1, key=str(k)).startswith(FIM_PREFIX) for k in range(2000)]
    assert 0.25 < sum(rewritten) / len(rewritten) < 0.35
    again = [fim_transform(TEXT, 0.3, seed=1, key=str(k)).startswith(FIM_PREFIX) for k in range(2000)]
    assert again == rewritten
    assert fim_transform(TEXT, 0.0, seed=1, key="a") == TEXT


def test_recency_weights_halve_per_half_life_and_average_one():
    weights = recency_weights(["2024-01-01T00:00:00+00:00", "2023-01-01", None, "2024-01-01Z"], 365.0)
    newest, older, undated, newest_again = weights
    assert newest == pytest.approx(newest_again)
    assert older == pytest.approx(newest * 0.5, rel=0.01)  # 365 days older
    assert undated == 1.0
    assert (newest + older + newest_again) / 3 == pytest.approx(1.0)
    assert recency_weights([None, ""], 30.0) is None


def test_security_label_respects_severity_floor_and_skipped_tests():
    findings = [("B105", "LOW"), ("B101", "LOW"), ("B602", "HIGH")]
    assert security_label(findings, "low", ["B101"]) == (1, ["B105", "B602"])
    assert security_label(findings, "high", []) == (1, ["B602"])
    assert security_label([("B105", "LOW")], "medium", []) == (0, [])
    assert security_label([("B101", "LOW")], "low", ["B101"]) == (0, [])


def test_label_map_is_sorted_and_ignores_missing_values():
    assert label_map(["python", "go", None, "python", "c"]) == {"c": 0, "go": 1, "python": 2}


def test_header_names_path_and_language():
    row = {"path": "pkg/a.py", "language": "python", "content": "x = 1\n"}
    assert document_text(row, header=True) == "# path: pkg/a.py\n# language: python\nx = 1\n"
    assert document_text(row, header=False) == "x = 1\n"


@pytest.mark.parametrize("kwargs, needle", [
    ({"task": "translation"}, "--task"),
    ({"ratios": (0.5, 0.5, 0.5)}, "--split"),
    ({"fim_rate": 1.5}, "--fim-rate"),
    ({"severity": "critical"}, "--severity"),
    ({"recency_half_life_days": 0}, "--recency-half-life"),
])
def test_bad_options_are_one_line_errors_naming_the_option(kwargs, needle):
    with pytest.raises(DatasetError, match=needle):
        DatasetRequest(**kwargs)


def test_split_option_parsing():
    assert parse_ratios("0.8, 0.1,0.1") == (0.8, 0.1, 0.1)
    with pytest.raises(DatasetError, match="three numbers"):
        parse_ratios("0.9,0.1")
    with pytest.raises(DatasetError, match="three numbers"):
        parse_ratios("a,b,c")


def test_default_kinds_follow_the_task():
    assert DatasetRequest().unit_kinds == ("file",)
    assert DatasetRequest(task="security").unit_kinds == ("function", "method")
    assert DatasetRequest(task="security", kinds=("file",)).unit_kinds == ("file",)


def test_unknown_unit_kinds_are_refused():
    with pytest.raises(DatasetError, match="--kinds functions"):
        DatasetRequest(kinds=("functions",))
