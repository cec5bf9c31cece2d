"""`python main.py evaluate`: a model's loss and metrics on a dataset, or pass@k in the sandbox."""
from __future__ import annotations

import contextlib
import signal
import sys
import threading

import click

from presentation.running import run


@click.command()
@click.option("--run", "run_uri", help="Run folder or s3:// URI written by `train`: evaluates its final/ model.")
@click.option("--model", "model_path", type=click.Path(exists=True, file_okay=False),
              help="A model folder instead of a run (full model or peft adapter).")
@click.option("--dataset", "dataset_uri", help="Dataset for perplexity / classification metrics (default: the run's).")
@click.option("--split", default="test", show_default=True, help="Dataset split to score.")
@click.option("--max-batches", type=click.IntRange(1), help="Score only the first N batches of the split.")
@click.option("--batch-size", type=click.IntRange(1), default=8, show_default=True, help="Rows per forward pass.")
@click.option("--threshold", help="Two-label models: predict label 1 at this probability or above, or `argmax` "
                                   "(default: the cut-off training tuned with eval.threshold=tune, else argmax).")
@click.option("--benchmark", help="`humaneval` or a JSONL file of problems: run pass@k instead of dataset metrics.")
@click.option("--oracle", is_flag=True, help="Run the benchmark's canonical solutions (checks the harness).")
@click.option("--n", "n", type=click.IntRange(1), default=1, show_default=True, help="Samples per problem.")
@click.option("--k", "ks", type=click.IntRange(1), multiple=True, default=[1], show_default=True,
              help="pass@k to report (repeatable, each <= --n).")
@click.option("--temperature", type=click.FloatRange(0), default=0.0, show_default=True, help="0 = greedy.")
@click.option("--top-p", type=click.FloatRange(0, 1, min_open=True), default=0.95, show_default=True,
              help="Nucleus sampling mass.")
@click.option("--max-new-tokens", type=click.IntRange(1), default=256, show_default=True,
              help="Longest completion.")
@click.option("--stop", "stops", multiple=True, help="Stop sequence (repeatable; default: HumanEval's).")
@click.option("--limit", type=click.IntRange(1), help="Only the first N problems.")
@click.option("--workers", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Parallel sandboxes (4 beat 2 on 2 cores: runs wait on process start-up; bench/).")
@click.option("--timeout", type=click.FloatRange(0.1), default=10.0, show_default=True,
              help="Wall-time limit per sandboxed run, seconds.")
@click.option("--seed", type=int, default=0, show_default=True, help="Sampling seed.")
@click.option("--threads", type=click.IntRange(1), default=1, show_default=True,
              help="torch CPU threads for the model (1 suits small models and leaves cores to the sandboxes).")
@click.option("--output", "-o", help="Results folder or URI (default: RUN/eval).")
@click.option("--unsafe-no-sandbox", is_flag=True,
              help="Where the kernel allows no isolation, run untrusted completions anyway, with resource "
                   "limits only (they can then read and write what you can). Refused without this flag.")
@click.option("--base", help="An adapter's base model (folder or hub name), instead of the one it recorded.")
@click.pass_obj
def evaluate(container, run_uri, model_path, dataset_uri, split, max_batches, batch_size, threshold, benchmark, oracle, n,
             ks, temperature, top_p, max_new_tokens, stops, limit, workers, timeout, seed, threads, output,
             unsafe_no_sandbox, base):
    """Score a model: perplexity / classification metrics, or sandboxed pass@k on a code benchmark."""
    from application.runs.evaluate import (DEFAULT_STOPS, BenchmarkRequest, DatasetEvalRequest, benchmark_label,
                                      output_location)

    if run_uri and model_path:
        raise click.UsageError("give --run or --model, not both")
    if not (run_uri or model_path or oracle):
        raise click.UsageError("give --run RUN or --model PATH (or --benchmark ... --oracle)")
    output = run(output_location, run_uri, output)
    if benchmark:
        request = run(BenchmarkRequest, benchmark=benchmark, n=n, ks=tuple(sorted(set(ks))),
                      temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens,
                      stops=tuple(stops) or DEFAULT_STOPS, oracle=oracle, limit=limit, workers=workers,
                      timeout=timeout, seed=seed)
        with _sigterm_as_ctrl_c(), click.progressbar(length=1, label="evaluating", file=sys.stderr) as bar:
            def on_progress(done, total):
                bar.length = total
                bar.update(done - bar.pos)

            result = run(container.evaluate_benchmark, request, run=run_uri, model=model_path, output=output,
                         seed=seed, threads=threads, on_progress=on_progress, allow_unsafe=unsafe_no_sandbox,
                         base=base)
        summary = result.summary
        click.echo(f"{benchmark_label(request)}: {summary['problems']} problems, {summary['samples']} samples "
                   f"({summary['isolation']} sandbox)")
        if summary.get("sandbox_warning"):
            click.echo(f"  warning: {summary['sandbox_warning']}", err=True)
        click.echo("  " + ", ".join(f"pass@{k} {_score(summary[f'pass@{k}'])}" for k in request.ks)
                   + f"; runs ended: {summary['statuses']}")
        click.echo(f"  results: {output}/{benchmark_label(request)}/")
        if summary["interrupted"]:
            click.echo(f"interrupted: {summary['samples']} finished samples kept, pass@k over the "
                       f"{summary['problems']} of {summary['problems_requested']} problems they complete", err=True)
            sys.exit(130)
        return
    if oracle:
        raise click.UsageError("--oracle needs --benchmark")
    request = run(DatasetEvalRequest, split=split, max_batches=max_batches, batch_size=batch_size, threshold=threshold)
    result = run(container.evaluate_dataset, request, run=run_uri, model=model_path, dataset=dataset_uri,
                 output=output, threads=threads, base=base)
    if "perplexity" in result:
        click.echo(f"{split}: loss {result['loss']:.4f}, perplexity {result['perplexity']:.2f} "
                   f"over {result['tokens']} tokens ({result['targets']})")
    else:
        click.echo(f"{split}: accuracy {result['accuracy']:.4f}, macro F1 {result['macro_f1']:.4f}"
                   + (f", PR-AUC {result['pr_auc']:.4f}" if "pr_auc" in result else "")
                   + f" over {result['examples']} examples")
        for name, c in result["per_class"].items():
            click.echo(f"  {name}: precision {c['precision']:.4f} recall {c['recall']:.4f} f1 {c['f1']:.4f} "
                       f"support {c['support']}")
        click.echo(f"  confusion matrix (rows = truth, {result['labels']}): {result['confusion_matrix']}")
        rule = result["decision"]
        if rule["threshold"] is not None:
            click.echo(f"  predicted {result['labels'][1]!r} at probability >= {rule['threshold']:.4f} ({rule['source']})")
    click.echo(f"  results: {output}/dataset-{split}.json")


@contextlib.contextmanager
def _sigterm_as_ctrl_c():
    """SIGTERM stops a benchmark like Ctrl-C does: runs killed, finished samples kept."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
