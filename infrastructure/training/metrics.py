"""MetricsTracker: metrics.jsonl and metrics.csv written as training goes, running statistics,
best value and step, optional TensorBoard / MLflow / Weights & Biases sinks, and summary figures.

TensorBoard and W&B see grouped names (`train/loss`, `eval/loss`, `system/tokens_per_s`) so their
dashboards put each group on its own panel; metrics.jsonl, metrics.csv and MLflow keep the flat
names (`loss`, `eval_loss`) that `report` and existing queries read. MLflow and W&B both get the
run name and the resolved config as parameters.
"""
from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

from application.train.metric_stats import RunningStats
from domain.errors import TrainingError
from domain.layout import METRICS_CSV, METRICS_JSONL

STEP_FIELDS = ["step", "epoch", "loss", "lr", "grad_norm", "tokens_per_s", "cpu_percent", "rss_mb", "gpu_mem_mb"]


SYSTEM_FIELDS = ("tokens_per_s", "cpu_percent", "rss_mb", "gpu_mem_mb")


def grouped_name(key: str) -> str:
    """`eval_loss` -> `eval/loss`, `tokens_per_s` -> `system/tokens_per_s`, `loss` -> `train/loss`."""
    if key.startswith("eval_"):
        return "eval/" + key.removeprefix("eval_")
    return ("system/" if key in SYSTEM_FIELDS else "train/") + key


def flat_params(config: dict, prefix: str = "") -> dict[str, str]:
    """A nested config as `section.key: value` strings (MLflow params are flat, at most 6000 chars)."""
    flat = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(flat_params(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = str(value)[:6000]
    return flat


def final_metrics(summary: dict) -> dict[str, float]:
    """The final model's evaluation as `final/loss`, `final/perplexity`, ... (none if interrupted)."""
    after = summary.get("eval_after") or {}
    return {"final/" + key.removeprefix("eval_"): float(value) for key, value in after.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)}


def check_sinks(tensorboard: bool, mlflow: bool, wandb: bool = False, mlflow_uri: str | None = None) -> None:
    """Fail at start-up, in one line, when an enabled sink is not installed or its server is
    not there (MLflow's client would retry for minutes, then fail with chained tracebacks)."""
    import importlib.util

    if tensorboard and importlib.util.find_spec("tensorboard") is None:
        raise TrainingError("tracking.tensorboard=true but tensorboard is not installed (pip install tensorboard)")
    if mlflow and importlib.util.find_spec("mlflow") is None:
        raise TrainingError("tracking.mlflow=true but mlflow is not installed (pip install mlflow)")
    if wandb and importlib.util.find_spec("wandb") is None:
        raise TrainingError("tracking.wandb=true but wandb is not installed (pip install wandb)")
    if mlflow and mlflow_uri and mlflow_uri.startswith(("http://", "https://")):
        check_server(mlflow_uri)


MLFLOW_PROBE_SECONDS = 10.0  # a tracking server answers /health at once; a stalled one never does


def check_server(uri: str) -> None:
    """Ask the MLflow server at `uri` for its /health page: any HTTP answer will do, no answer
    (refused, unknown host, silence) is a one-line error naming the URI without its credentials."""
    import urllib.error
    import urllib.request

    from infrastructure.sources.git import public_url

    uri = public_url(uri)  # urllib would look user:password@host up as a host name; /health needs no login
    try:
        urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=MLFLOW_PROBE_SECONDS).close()
    except urllib.error.HTTPError:
        return  # it answered (perhaps 401 or 404): the server is there
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise TrainingError(f"tracking.mlflow_tracking_uri {uri}: no MLflow server answers there "
                            f"({getattr(reason, 'strerror', None) or reason}); start it, or set "
                            f"tracking.mlflow=false") from None


class MetricsTracker:
    """Appends rows to metrics.jsonl / metrics.csv (flushed per row) and keeps running stats.

    On resume, rows logged after the checkpoint's step are dropped first, so the files read as
    if the run had never been interrupted.
    """

    def __init__(self, run_dir: Path, eval_fields: list[str], resume_step: int | None = None,
                 tensorboard: bool = False, mlflow_uri: str | None = None, wandb_project: str | None = None,
                 run_name: str | None = None, params: dict | None = None):
        self.jsonl_path, self.csv_path = run_dir / METRICS_JSONL, run_dir / METRICS_CSV
        self.fields = STEP_FIELDS + [f for f in eval_fields if f not in STEP_FIELDS]
        kept = self._rows_up_to(resume_step) if resume_step is not None else []
        self.jsonl = self.jsonl_path.open("w")
        self.csv_file = self.csv_path.open("w", newline="")
        self.csv = csv.DictWriter(self.csv_file, fieldnames=self.fields, restval="", extrasaction="ignore")
        self.csv.writeheader()
        for row in kept:
            self._write(row)
        self.stats: dict[str, RunningStats] = {}
        self.tb = self._tensorboard(run_dir) if tensorboard else None
        self.run_dir, self.run_name, self.params = run_dir, run_name or run_dir.name, params or {}
        self.mlflow = self._mlflow(run_dir, mlflow_uri) if mlflow_uri is not None else None
        self.wandb = self._wandb(run_dir, wandb_project) if wandb_project else None

    def _rows_up_to(self, step: int) -> list[dict]:
        if not self.jsonl_path.exists():
            return []
        rows = [json.loads(line) for line in self.jsonl_path.read_text().splitlines() if line.strip()]
        return [r for r in rows if r["step"] <= step]

    @staticmethod
    def _tensorboard(run_dir: Path):
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter(str(run_dir / "tensorboard"))

    def _mlflow(self, run_dir: Path, uri: str):
        import mlflow

        uri = uri or (run_dir / "mlruns").resolve().as_uri()
        if uri.startswith("file:"):
            # MLflow 3 refuses its file store unless asked for it; a file store inside the run
            # folder is our documented default (no server, no database to set up).
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        mlflow.set_tracking_uri(uri)
        mlflow.start_run(run_name=self.run_name)
        mlflow.log_params(flat_params(self.params))
        return mlflow

    def _wandb(self, run_dir: Path, project: str):
        """A W&B run whose files live in RUN/wandb (not the current directory). WANDB_MODE from the
        environment is honoured: `offline` needs no network and no account."""
        import wandb

        return wandb.init(project=project, name=self.run_name, dir=str(run_dir), config=self.params,
                          settings=wandb.Settings(silent=True, console="off"))

    def _write(self, row: dict) -> None:
        self.jsonl.write(json.dumps(row) + "\n")
        self.jsonl.flush()
        self.csv.writerow(row)
        self.csv_file.flush()

    def log(self, row: dict, write: bool = True, shown: dict | None = None) -> None:
        """Fold a row's numbers (it must have `step`) into the running stats; write it unless
        `write` is False (steps between log lines still count in mean/std/min/max).

        Args:
            shown: Values written in place of the row's (e.g. the loss averaged over the logging
                interval), which the running stats do not see: they have every step already.
        """
        numbers = {k: v for k, v in row.items() if k != "step" and isinstance(v, (int, float)) and math.isfinite(v)}
        for key, value in numbers.items():
            self.stats.setdefault(key, RunningStats()).add(float(value))
        if not write:
            return
        row = {**row, **(shown or {})}
        numbers.update({k: v for k, v in (shown or {}).items() if isinstance(v, (int, float)) and math.isfinite(v)})
        self._write(row)
        written = {k: v for k, v in row.items() if k in numbers}
        if self.tb is not None:
            for key, value in written.items():
                self.tb.add_scalar(grouped_name(key), value, row["step"])
        if self.mlflow is not None:
            self.mlflow.log_metrics(written, step=row["step"])
        if self.wandb is not None:
            self.wandb.log({grouped_name(k): v for k, v in written.items()}, step=row["step"])

    def _log_charts(self) -> None:
        """The charts `report` draws (same plan, same drawing) as MLflow artifacts under charts/."""
        import tempfile

        from application.runs.report import chart_plan, curves
        from infrastructure.plots import line_chart

        rows = [json.loads(line) for line in self.jsonl_path.read_text().splitlines() if line.strip()]
        with tempfile.TemporaryDirectory(prefix="codetrain-charts-") as folder:
            for filename, title, ylabel, series in chart_plan(curves(rows)):
                (Path(folder) / filename).write_bytes(line_chart(title, ylabel, series))
            self.mlflow.log_artifacts(folder, artifact_path="charts")

    def state(self) -> dict:
        return {k: s.state() for k, s in self.stats.items()}

    def load_state(self, state: dict) -> None:
        self.stats = {k: RunningStats(**v) for k, v in state.items()}

    def summary(self) -> dict:
        return {k: s.summary() for k, s in sorted(self.stats.items())}

    def close(self, summary: dict | None = None) -> None:
        """Close the files; MLflow gets metrics.jsonl/csv, the report's charts (PNG) and the run summary
        as artifacts and the final evaluation as `final/*` metrics, W&B the summary's figures."""
        self.jsonl.close()
        self.csv_file.close()
        if self.tb is not None:
            self.tb.close()
        if self.mlflow is not None:
            for path in (self.jsonl_path, self.csv_path):
                self.mlflow.log_artifact(str(path))
            self._log_charts()
            if summary is not None:
                self.mlflow.log_dict(json.loads(json.dumps(summary, default=str)), "summary.json")
                self.mlflow.log_metrics(final_metrics(summary), step=summary.get("steps") or 0)
            self.mlflow.end_run()
        if self.wandb is not None:
            if summary is not None:
                self.wandb.summary.update({k: v for k, v in summary.items() if isinstance(v, (int, float, str))})
            self.wandb.finish()
