"""Metric curves as PNG with matplotlib's Agg backend (no display, no pyplot global state).

Each PNG carries the data its lines were drawn from, read back from the plotted artists, in
a `codetrain:series` text chunk: a reader (or a test) can check the picture shows the run's
real numbers without trusting the code that chose them.
"""
from __future__ import annotations

import io
import json

SERIES_KEY = "codetrain:series"


def line_chart(title: str, ylabel: str, series: dict[str, tuple[list[float], list[float]]]) -> bytes:
    """One chart, one line per series (x = step); returns PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    for label, (steps, values) in series.items():
        axes.plot(steps, values, label=label, marker="o" if len(steps) <= 30 else None, markersize=3)
    axes.set_title(title)
    axes.set_xlabel("step")
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3)
    if len(series) > 1:
        axes.legend()
    drawn = {line.get_label(): [[float(x) for x in line.get_xdata()], [float(y) for y in line.get_ydata()]]
             for line in axes.get_lines()}
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={SERIES_KEY: json.dumps(drawn)})
    return buffer.getvalue()


def drawn_series(png: bytes) -> dict[str, list[list[float]]]:
    """The series a PNG written by `line_chart` was drawn from."""
    from PIL import Image

    return json.loads(Image.open(io.BytesIO(png)).text[SERIES_KEY])
