"""report: a run folder -> a Markdown report with metric curves, config, lineage and results.

Pure assembly: the curves come from metrics.jsonl, the drawing is passed in (`plot`), and
everything is read and written through Storage, so a run on S3 reports the same way.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

import yaml

from application.runs.reading import metric_rows, read_optional_json, require_run, resolved_config
from domain.layout import CHECKPOINTS, RUN_MANIFEST, RUN_SUMMARY
from domain.ports import Storage

REPORT = "report.md"
# Which series share a chart: (file, title, y label, keys). Eval keys not listed get their own.
CHARTS = (
    ("loss.png", "Loss", "cross-entropy", ("loss", "eval_loss")),
    ("lr.png", "Learning rate", "lr", ("lr",)),
)
NOT_PLOTTED = {"step", "epoch", "tokens_per_s", "cpu_percent", "rss_mb", "gpu_mem_mb", "grad_norm"}

Series = dict[str, tuple[list[float], list[float]]]


def curves(rows: list[dict]) -> dict[str, tuple[list[float], list[float]]]:
    """metrics.jsonl rows -> {metric: (steps, values)}, in step order, numbers only."""
    out: dict[str, tuple[list[float], list[float]]] = {}
    for row in sorted(rows, key=lambda r: r["step"]):
        for key, value in row.items():
            if key in NOT_PLOTTED or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            steps, values = out.setdefault(key, ([], []))
            steps.append(row["step"])
            values.append(float(value))
    return out


def chart_plan(series: dict) -> list[tuple[str, str, str, Series]]:
    """Group the series into charts: loss, lr, then one chart per other metric."""
    plan, used = [], set()
    for filename, title, ylabel, keys in CHARTS:
        chosen = {k: series[k] for k in keys if k in series}
        if chosen:
            plan.append((filename, title, ylabel, chosen))
            used |= set(chosen)
    for key in sorted(set(series) - used):
        safe = "".join(c if c.isalnum() or c in "_-" else "_" for c in key)
        plan.append((f"{safe}.png", key, key, {key: series[key]}))
    return plan


def best_checkpoint(summary: dict, rows: list[dict], checkpoints: set[str]) -> dict | None:
    """The best evaluation as the trainer recorded it, else the lowest eval_loss in metrics."""
    best = summary.get("best") or {}
    if best.get("step") is None:
        evals = [r for r in rows if isinstance(r.get("eval_loss"), (int, float))]
        if not evals:
            return None
        row = min(evals, key=lambda r: r["eval_loss"])
        best = {"metric": "eval_loss", "value": row["eval_loss"], "step": row["step"]}
    folder = f"checkpoints/step-{int(best['step']):06d}"
    return {**best, "checkpoint": folder if folder in checkpoints else None}


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "—" if value is None else str(value)


def _lineage(manifest: dict | None, config: dict) -> list[str]:
    if not manifest:
        return [f"- dataset: `{(config.get('data') or {}).get('path', 'unknown')}` (no run_manifest.json)"]
    dataset = manifest.get("dataset") or {}
    stats = dataset.get("stats") or {}
    lines = [f"- dataset: `{dataset.get('uri')}` (task {stats.get('task', '—')}, rows {stats.get('rows', '—')}, "
             f"tokens {stats.get('tokens', '—')})",
             f"- collection: `{(manifest.get('collection') or {}).get('uri')}`"]
    for source in (manifest.get("collection") or {}).get("sources", []):
        lines.append(f"  - {source.get('repo')} @ {source.get('commit') or 'no commit'}"
                     + (f" from `{source['origin']}`" if source.get("origin") else ""))
    return lines


def _eval_sections(results: dict[str, dict]) -> list[str]:
    lines = []
    for name, result in sorted(results.items()):
        scores = {k: v for k, v in result.items() if k.startswith("pass@") or k in
                  ("loss", "perplexity", "accuracy", "macro_f1", "macro_precision", "macro_recall")}
        lines.append(f"- **{name}**: " + ", ".join(f"{k} {_fmt(v)}" for k, v in scores.items()))
        if "confusion_matrix" in result:
            lines.append(f"  - confusion matrix (rows = truth, {result['labels']}): {result['confusion_matrix']}")
        if "problems" in result:
            lines.append(f"  - {result['problems']} problems, {result['samples']} samples, runs ended "
                         f"{result.get('statuses')}, sandbox {result.get('isolation')}")
    return lines or ["No evaluation results yet (run `python main.py evaluate --run RUN`)."]


def eval_results(run: Storage) -> dict[str, dict]:
    """Every evaluate output inside the run: eval/<benchmark>/summary.json, eval/dataset-*.json."""
    results = {}
    for key in run.list("eval"):
        name = key.removeprefix("eval/")
        if key.endswith("/summary.json"):
            results[name.removesuffix("/summary.json")] = json.loads(run.read_bytes(key))
        elif name.startswith("dataset-") and key.endswith(".json") and "/" not in name:
            results[name.removesuffix(".json")] = json.loads(run.read_bytes(key))
    return results


@dataclass(frozen=True)
class ReportResult:
    uri: str
    figures: list[str]
    markdown: str


def build_report(run: Storage, output: Storage, plot: Callable[[str, str, Series], bytes],
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> ReportResult:
    """Write report.md and one PNG per chart into `output`; report.md last.

    Args:
        plot: (title, y label, {label: (steps, values)}) -> PNG bytes.
    """
    require_run(run)
    summary = read_optional_json(run, RUN_SUMMARY) or {}
    rows = metric_rows(run)
    config = resolved_config(run)
    checkpoints = {"/".join(k.split("/")[:2]) for k in run.list(CHECKPOINTS) if k.count("/") >= 2}
    best = best_checkpoint(summary, rows, checkpoints)
    figures = []
    for filename, title, ylabel, series in chart_plan(curves(rows)):
        output.write_bytes(filename, plot(title, ylabel, series))
        figures.append(filename)
    headline = {k: summary.get(k) for k in ("steps", "eval_loss_before", "eval_loss_after", "perplexity_after",
                                            "stopped_early", "interrupted", "num_processes") if k in summary}
    lines = [f"# Training report: `{run.uri}`", "", f"Generated {now().isoformat(timespec='seconds')}.", "",
             "## Summary", "", "| figure | value |", "|---|---|",
             *[f"| {k} | {_fmt(v)} |" for k, v in headline.items()], "", "## Best checkpoint", ""]
    if best:
        lines.append(f"{best['metric']} {_fmt(best['value'])} at step {best['step']}"
                     + (f": `{best['checkpoint']}`" if best["checkpoint"] else " (checkpoint not kept)"))
    else:
        lines.append("No evaluation was logged, so no best checkpoint.")
    lines += ["", "## Curves", ""]
    lines += [f"![{f.removesuffix('.png')}]({f})" for f in figures] or ["metrics.jsonl holds no rows."]
    lines += ["", "## Evaluation results", "", *_eval_sections(eval_results(run)), "",
              "## Dataset lineage", "", *_lineage(read_optional_json(run, RUN_MANIFEST), config), "",
              "## Resolved configuration", "", "```yaml", yaml.safe_dump(config, sort_keys=False).rstrip(), "```", ""]
    markdown = "\n".join(lines)
    output.write_bytes(REPORT, markdown.encode())
    return ReportResult(uri=output.uri, figures=figures, markdown=markdown)
