"""`python main.py report`: a Markdown run report with PNG curves."""
from __future__ import annotations

import click

from presentation.running import run


@click.command()
@click.option("--run", "run_uri", required=True, help="Run folder or s3:// URI written by `train`.")
@click.option("--output", "-o", help="Report folder or URI (default: RUN/report).")
@click.pass_obj
def report(container, run_uri, output):
    """Write a Markdown report of a run: metric curves (PNG), config, lineage, best checkpoint, evals."""
    result = run(container.report, run_uri, output)
    click.echo(f"report: {(output or run_uri.rstrip('/') + '/report')}/report.md")
    click.echo(f"  charts: {', '.join(result.figures) or 'none (metrics.jsonl is empty)'}")
