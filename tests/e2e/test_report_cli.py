"""`python main.py report --run RUN`: Markdown plus PNG curves that show the run's real metrics."""
from __future__ import annotations

import io
import json

from click.testing import CliRunner

from infrastructure.plots import drawn_series
from presentation.cli import cli
from tests.eval_fixtures import run_folder


def test_report_pngs_plot_the_metrics_of_the_run(tmp_path):
    from PIL import Image

    run = run_folder(tmp_path / "run", final_source=None)
    result = CliRunner().invoke(cli, ["report", "--run", str(run)])
    assert result.exit_code == 0, result.output
    report = run / "report"
    assert "charts: loss.png, lr.png, eval_perplexity.png" in result.output

    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    expected = {key: [[float(r["step"]) for r in rows if key in r], [float(r[key]) for r in rows if key in r]]
                for key in ("loss", "eval_loss", "lr", "eval_perplexity")}
    charts = {"loss.png": ("loss", "eval_loss"), "lr.png": ("lr",), "eval_perplexity.png": ("eval_perplexity",)}
    for name, keys in charts.items():
        png = (report / name).read_bytes()
        image = Image.open(io.BytesIO(png))
        assert image.format == "PNG" and image.size == (700, 400)
        assert len(set(image.convert("RGB").getdata())) > 20  # lines and text, not a blank canvas
        assert drawn_series(png) == {key: expected[key] for key in keys}  # read back from the artists
    assert len(expected["loss"][0]) == 20 and len(expected["eval_loss"][0]) == 4

    md = (report / "report.md").read_text()
    best = min((r for r in rows if "eval_loss" in r), key=lambda r: r["eval_loss"])
    assert f"at step {best['step']}: `checkpoints/step-{best['step']:06d}`" in md
    assert best["step"] != rows[-1]["step"]  # the best is not simply the last evaluation
    assert "![loss](loss.png)" in md and "fixture://collection" in md and "max_steps: 20" in md


def test_report_of_a_missing_run_is_one_line(tmp_path):
    result = CliRunner().invoke(cli, ["report", "--run", str(tmp_path / "nope")])
    assert result.exit_code != 0
    assert "nope: no such run" in result.output and "Traceback" not in result.output
