"""The generated config reference documents every key and is the one checked in."""
from __future__ import annotations

from pathlib import Path

from application.train.config import TrainConfig
from presentation.config_reference import reference_markdown, reference_rows

ROOT = Path(__file__).resolve().parents[2]


def test_every_config_key_has_a_meaning():
    rows = reference_rows(TrainConfig)
    assert len(rows) > 40
    assert [key for key, _, _, meaning in rows if not meaning] == []
    assert ("training.lr", "float", "0.001") == rows[[r[0] for r in rows].index("training.lr")][:3]


def test_checked_in_reference_is_current():
    text = (ROOT / "docs" / "CONFIG.md").read_text()
    assert reference_markdown(TrainConfig) in text, "regenerate: python main.py config --reference"


def test_pipes_in_types_do_not_break_the_table():
    for line in reference_markdown(TrainConfig).splitlines()[2:]:
        assert line.replace("\\|", "").count("|") == 5, line
