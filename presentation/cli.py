"""The `python main.py` command line. Only option parsing and printing live here."""
from __future__ import annotations

import contextlib
import signal
import sys
import threading

import click

from domain.errors import CodetrainError
from presentation import __version__
from presentation.executor_options import check_executor, executor_options


class UserError(click.ClickException):
    """A CodetrainError shown as one line, with the error's own exit code."""

    def __init__(self, error: CodetrainError):
        super().__init__(str(error))
        self.exit_code = error.exit_code


def run(fn, *args, **kwargs):
    """Call a use case; turn user errors into one line and a non-zero exit."""
    try:
        return fn(*args, **kwargs)
    except CodetrainError as error:
        raise UserError(error) from None
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


def version_line() -> str:
    """codetrain's version with those of the libraries that shape its results (read from package
    metadata: nothing heavy is imported)."""
    from importlib.metadata import PackageNotFoundError, version

    def installed(name):
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    libraries = ", ".join(f"{name} {installed(name)}" for name in ("torch", "transformers", "peft", "accelerate"))
    return f"codetrain {__version__} (python {sys.version.split()[0]}; {libraries})"


S3_PROVIDERS = ["aws", "digitalocean", "wasabi", "backblaze", "r2", "minio", "custom"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--s3-provider", type=click.Choice(S3_PROVIDERS), envvar="CODETRAIN_S3_PROVIDER",
              help="Preset for s3:// URIs (endpoint and region style). Default: aws. "
                   "Credentials always come from boto3's chain (env, AWS_PROFILE, ~/.aws).")
@click.option("--s3-endpoint-url", envvar="CODETRAIN_S3_ENDPOINT_URL",
              help="S3 endpoint, overriding the preset's (minio/custom need it, or AWS_ENDPOINT_URL_S3).")
@click.option("--s3-region", envvar="CODETRAIN_S3_REGION",
              help="Region, e.g. fra1 (digitalocean), us-west-004 (backblaze); default: the preset's.")
@click.option("--s3-account-id", envvar="CODETRAIN_S3_ACCOUNT_ID", help="Cloudflare account id (r2).")
@click.option("--s3-max-attempts", type=click.IntRange(1), envvar="CODETRAIN_S3_MAX_ATTEMPTS",
              help="Attempts per S3 request, with botocore's backoff (default: AWS_MAX_ATTEMPTS or 3).")
@click.option("--verbose", "-v", count=True, help="Also show the libraries' own warnings and progress bars.")
@click.option("--progress-every", type=click.FloatRange(0), default=10.0, show_default=True, metavar="SECONDS",
              envvar="CODETRAIN_PROGRESS_EVERY",
              help="collect/dataset without a terminal: a progress line this often (0 = none).")
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=lambda ctx, _, on: on and
              (click.echo(version_line()), ctx.exit()), help="Print codetrain's version and its main libraries'.")
@click.pass_context
def cli(ctx: click.Context, s3_provider, s3_endpoint_url, s3_region, s3_account_id, s3_max_attempts,
        verbose, progress_every) -> None:
    """codetrain: turn code repositories into datasets and fine-tuned code models."""
    from presentation.collect_progress import EVERY_KEY
    from presentation.container import Container
    from presentation.verbosity import set_verbosity

    set_verbosity(verbose)
    ctx.meta[EVERY_KEY] = progress_every
    ctx.obj = ctx.obj or Container()
    chosen = {"provider": s3_provider, "endpoint_url": s3_endpoint_url, "region": s3_region,
              "account_id": s3_account_id, "max_attempts": s3_max_attempts}
    ctx.obj.s3_options.update({k: v for k, v in chosen.items() if v is not None})


@cli.command()
@click.argument("sources", nargs=-1)
@click.option("--output", "-o", required=True, help="Collection folder or s3://bucket/prefix.")
@click.option("--github-org", "github_orgs", multiple=True, metavar="ORG",
              help="Every public repository of a GitHub organisation (token: $GITHUB_TOKEN).")
@click.option("--github-search", "github_searches", multiple=True, metavar="QUERY",
              help="Repositories matching a GitHub search (the API caps results at 1,000).")
@click.option("--granularity", type=click.Choice(["file", "function", "all"]), default="all",
              show_default=True, help="Which units to emit.")
@click.option("--history", type=click.IntRange(0), default=0, show_default=True,
              help="Also emit the last N commits of git sources (message + diff per file).")
@click.option("--licenses", default="", metavar="SPDX,...",
              help="Keep only repositories under these licences, e.g. mit,apache-2.0 (unknown = none found).")
@click.option("--workers", type=click.IntRange(1), default=None, help="Worker processes [default: all cores].")
@click.option("--near-threshold", type=click.FloatRange(0.0, 1.0, min_open=True), default=0.7,
              show_default=True, help="Estimated Jaccard similarity at which units are near-duplicates.")
@click.option("--no-near-dedup", is_flag=True, help="Drop exact duplicates only.")
@click.option("--dedup-against", metavar="COLLECTION", help="Do not write samples already in this collection.")
@click.option("--max-file-bytes", type=click.IntRange(1), default=1_000_000, show_default=True,
              help="Skip files larger than this.")
@click.option("--max-line-length", type=click.IntRange(1), default=1000, show_default=True,
              help="Skip files with a longer line.")
@click.option("--max-mean-line-length", type=click.FloatRange(1), default=100.0, show_default=True,
              help="Skip files whose mean line is longer.")
@click.option("--min-alphanumeric", type=click.FloatRange(0, 1), default=0.25, show_default=True,
              help="Skip files with a smaller fraction of letters and digits.")
@click.option("--shard-rows", type=click.IntRange(1), default=20_000, show_default=True,
              help="Rows per Parquet shard (resume state is committed after each).")
@click.option("--git-stall-timeout", type=click.FloatRange(1), default=60.0, show_default=True, metavar="SECONDS",
              help="End a git clone that receives nothing for this long (its helpers too).")
@executor_options
@click.option("--batch-files", type=click.IntRange(1), default=64, show_default=True,
              help="Files per Ray task (--executor ray): each task's rows are staged, so a rerun skips it.")
@click.pass_obj
def collect(container, sources, output, github_orgs, github_searches, granularity, history, licenses,
            workers, near_threshold, no_near_dedup, dedup_against, max_file_bytes, max_line_length,
            max_mean_line_length, min_alphanumeric, shard_rows, git_stall_timeout, executor, ray_address,
            batch_files):
    """Fetch repositories, parse them into units, deduplicate, write Parquet shards.

    \b
    Languages (by extension, or the #! line of a script without one):
    python, javascript, typescript, java, go, rust, c, cpp, ruby, php,
    csharp, kotlin, swift, scala, shell, lua, haskell, julia, elixir, zig, dart, ocaml.
    """
    import os

    from application.collect.pipeline import CollectRequest
    from application.collect.filters import FilterConfig
    from application.dataset.request import parse_list
    from presentation.collect_progress import collect_progress

    sources = (*sources, *(f"github-org:{o}" for o in github_orgs),
               *(f"github-search:{q}" for q in github_searches))
    if not sources:
        raise click.UsageError("give at least one SOURCE, --github-org or --github-search")
    check_executor(executor, ray_address)
    filters = FilterConfig(max_file_bytes=max_file_bytes, max_line_length=max_line_length,
                           max_mean_line_length=max_mean_line_length, min_alphanumeric=min_alphanumeric)
    request = CollectRequest(
        sources=sources, output=output, granularity=granularity, filters=filters, history=history,
        licenses=parse_list(licenses), near_dedup=not no_near_dedup,
        near_threshold=near_threshold, dedup_against=dedup_against,
        workers=workers or os.cpu_count() or 1, shard_rows=shard_rows, git_stall_seconds=git_stall_timeout,
    )
    with collect_progress() as (progress, log):
        result = run(container.collect, request, progress=progress, log=log, executor=executor,
                     ray_address=ray_address, batch_files=batch_files)
    counts = result.manifest["counts"]
    click.echo(f"collection: {result.uri}")
    click.echo(f"  files seen {counts['files_seen']}, kept {counts['files_kept']}, "
               f"units {counts['units']} {counts['by_kind']}")
    click.echo(f"  units by language {counts['by_language']}")
    click.echo(f"  skipped {counts['skipped']}")
    click.echo(f"  duplicates dropped {counts['duplicates']}, redactions {counts['redactions']}")
    for skipped in result.manifest.get("skipped_sources", []):
        click.echo(f"  source skipped: {skipped['origin']} ({skipped['reason']})")


@cli.command()
@click.option("--input", "-i", "input_uris", required=True, multiple=True,
              help="A collection; .jsonl/.json/.csv/.parquet file(s) or a folder of them; a saved HF dataset; "
                   "a hub dataset name. Repeatable (inputs are merged); a trailing :WEIGHT (a.jsonl:0.3) sets "
                   "that input's share of the training split.")
@click.option("--output", "-o", required=True, help="Dataset folder or URI.")
@click.option("--task", type=click.Choice(["generation", "classification", "security", "instruct"]),
              default="generation", show_default=True,
              help="Causal LM, a class from --label-field, Bandit vulnerable/clean, or instruction tuning "
                   "(loss on completions / assistant turns; docstring->code and commit->diff from a collection).")
@click.option("--chat-template", default=None, metavar="chatml|FILE.jinja",
              help="Instruct: template for conversation rows [default: the tokenizer's own]; saved with the tokenizer.")
@click.option("--column", "columns", multiple=True, metavar="ROLE=NAME",
              help="Read ROLE (text, prompt, completion, messages, instruction, input, output, system) from "
                   "column NAME, e.g. --column prompt=question (repeatable).")
@click.option("--label-field", default="language", show_default=True, help="Column holding the class (classification).")
@click.option("--kinds", default=None, metavar="KIND,...",
              help="Unit kinds to use [default: file; function,method for security].")
@click.option("--seq-len", type=click.IntRange(8), default=2048, show_default=True, help="Tokens per row.")
@click.option("--no-pack", is_flag=True, help="Pad one document per row instead of packing.")
@click.option("--header", is_flag=True, help="Start each generation document with its path and language.")
@click.option("--fim-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of generation documents rewritten fill-in-the-middle (sentinel tokens).")
@click.option("--recency-half-life", type=click.FloatRange(0, min_open=True), default=None, metavar="DAYS",
              help="Add a per-row `weight`: code this many days older than the newest weighs half.")
@click.option("--tokenizer", default="train", show_default=True,
              help="`train` (byte-level BPE on the training split) or a tokenizer path.")
@click.option("--vocab-size", type=click.IntRange(300), default=8000, show_default=True,
              help="Vocabulary size when training a tokenizer.")
@click.option("--split", "ratios", default="0.9,0.05,0.05", show_default=True, metavar="TRAIN,VAL,TEST",
              help="Shares of units per split (0 allowed: 0,0,1 makes a whole collection a test set).")
@click.option("--test-repos", default="", metavar="NAME|GLOB,...",
              help="Repositories whose units all go to the test split (name, owner/name or glob).")
@click.option("--validation-repos", default="", metavar="NAME|GLOB,...",
              help="Repositories whose units all go to the validation split.")
@click.option("--near-dup-threshold", type=click.FloatRange(0, 1), default=0.8, show_default=True,
              help="MinHash Jaccard for near-duplicates (clusters kept in one split; val/test deduped against train); 0 = off.")
@click.option("--decontaminate", default="", metavar="humaneval,FILE.jsonl",
              help="Drop units containing these benchmarks' prompts or solutions.")
@click.option("--decontaminate-near", type=click.FloatRange(0, 1, min_open=True), default=None, metavar="JACCARD",
              help="Also drop units this MinHash-similar to a benchmark problem.")
@click.option("--severity", type=click.Choice(["low", "medium", "high"]), default="low", show_default=True,
              help="Security: lowest Bandit severity that labels a unit vulnerable.")
@click.option("--bandit-skip", default="B101,B110,B112,B403,B404,B603", show_default=True, metavar="ID,...",
              help="Security: Bandit tests to ignore (these flag a construct, not a misuse).")
@click.option("--num-proc", type=click.IntRange(1), default=1, show_default=True,
              help="Processes for tokenization and Bandit.")
@click.option("--seed", type=int, default=42, show_default=True, help="Split and FIM seed.")
@click.option("--no-cache", is_flag=True, help="Rebuild even if the output holds this exact dataset.")
@click.option("--overwrite", is_flag=True,
              help="Replace a different dataset already in --output (a folder holding anything else is always refused).")
@executor_options
@click.pass_obj
def dataset(container, input_uris, output, task, chat_template, columns, label_field, kinds, seq_len, no_pack,
            header, fim_rate, recency_half_life, tokenizer, vocab_size, ratios, test_repos, validation_repos,
            near_dup_threshold, decontaminate, decontaminate_near, severity, bandit_skip, num_proc, seed, no_cache,
            overwrite, executor, ray_address):
    """Split without leakage, decontaminate, tokenize and pack collections into a DatasetDict."""
    from application.dataset.formats import parse_column
    from application.dataset.request import DatasetRequest, parse_list, parse_ratios
    from presentation.collect_progress import dataset_progress

    request = run(
        DatasetRequest, task=task, label_field=label_field, kinds=parse_list(kinds) or None, seq_len=seq_len,
        pack=not no_pack, header=header, fim_rate=fim_rate, recency_half_life_days=recency_half_life,
        tokenizer=tokenizer, vocab_size=vocab_size, ratios=run(parse_ratios, ratios),
        test_repos=parse_list(test_repos), validation_repos=parse_list(validation_repos),
        near_dup_threshold=near_dup_threshold, decontaminate=parse_list(decontaminate),
        decontaminate_near=decontaminate_near, severity=severity, bandit_skip=parse_list(bandit_skip),
        num_proc=num_proc, seed=seed, use_cache=not no_cache, chat_template=chat_template,
        columns=tuple(run(parse_column, c) for c in columns),
    )
    check_executor(executor, ray_address)
    with dataset_progress() as progress:
        result = run(container.build_dataset, request, input_uris, output, log=click.echo, overwrite=overwrite,
                     executor=executor, ray_address=ray_address, progress=progress)
    stats = result.stats
    click.echo(f"dataset: {result.uri}" + (" (cache hit: reused, nothing rebuilt)" if result.cache_hit else ""))
    click.echo(f"  rows {stats['rows']}, tokens {stats['tokens']}, split by {stats['grouping']}")
    click.echo(f"  removed {stats['removed']}")
    if "packing_efficiency" in stats:
        click.echo(f"  real-token share {stats['packing_efficiency']}")
    if "trained_tokens" in stats:
        click.echo(f"  trained tokens (completions, assistant turns) {stats['trained_tokens']}")
    if any(i["weight"] is not None for i in stats.get("inputs", [])):
        click.echo("  mix " + ", ".join(f"{i['uri']} {i['train_share']:.0%}" for i in stats["inputs"]))
    if "class_balance" in stats:
        click.echo(f"  class balance {stats['class_balance']}")
        click.echo(f"  truncated units (over --seq-len {stats['seq_len']}) {stats['truncated_units']}")


@cli.command()
@click.option("--config", "-c", "config_path", type=click.Path(), default="training_config.yaml",
              show_default=True, help="Training configuration YAML.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config value, e.g. --set training.lr=3e-4 (repeatable).")
@click.option("--resume", is_flag=False, flag_value="latest", default=None, metavar="[latest|best|PATH]",
              help="Continue from a checkpoint of this run: latest (the default), best, or a folder.")
@click.option("--overwrite", is_flag=True,
              help="Start afresh in an output.dir holding an earlier run, deleting its checkpoints and final model.")
@click.pass_obj
def train(container, config_path, overrides, resume, overwrite):
    """Fine-tune a model on a dataset with accelerate.

    Every config key, its type, default and meaning: `python main.py config --reference`.
    """
    import shlex

    from application.train.config import load_train_config

    config = run(load_train_config, config_path, overrides)
    if resume and overwrite:
        raise click.UsageError("give --resume or --overwrite, not both")
    result = run(container.train, config, log=click.echo, resume=resume, overwrite=overwrite)
    summary = result.summary
    echo = click.echo if summary.get("main_process", True) else (lambda _: None)  # once under DDP
    if summary.get("interrupted"):
        again = ["python", "main.py", "train", "--config", config_path,
                 *[part for o in overrides for part in ("--set", o)], "--resume", "latest"]
        echo(f"interrupted at step {summary['steps']}; checkpoint: {summary['checkpoint']}")
        echo(f"resume with: {shlex.join(again)}")
        sys.exit(130)
    echo(f"model: {result.uri}/final")
    split = summary.get("eval_split", "validation")
    echo(f"  {split} loss {summary['eval_loss_before']:.4f} -> {summary['eval_loss_after']:.4f}")
    if summary.get("unigram_loss"):
        echo(f"  {split} loss {summary['eval_loss_after']:.4f} vs unigram {summary['unigram_loss']:.4f} "
             f"({summary['loss_vs_unigram']:.3f}×)")


@cli.command()
@click.option("--run", "run_uri", help="Run folder or s3:// URI written by `train`: evaluates its final/ model.")
@click.option("--model", "model_path", type=click.Path(exists=True, file_okay=False),
              help="A model folder instead of a run (full model or peft adapter).")
@click.option("--dataset", "dataset_uri", help="Dataset for perplexity / classification metrics (default: the run's).")
@click.option("--split", default="test", show_default=True, help="Dataset split to score.")
@click.option("--max-batches", type=click.IntRange(1), help="Score only the first N batches of the split.")
@click.option("--batch-size", type=click.IntRange(1), default=8, show_default=True, help="Rows per forward pass.")
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
def evaluate(container, run_uri, model_path, dataset_uri, split, max_batches, batch_size, benchmark, oracle, n,
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
    request = DatasetEvalRequest(split=split, max_batches=max_batches, batch_size=batch_size)
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


@cli.command()
@click.option("--run", "run_uri", help="Run folder or s3:// URI written by `train`: exports its final/ model.")
@click.option("--model", "model_path", type=click.Path(exists=True, file_okay=False),
              help="A model folder instead of a run (full model or peft adapter).")
@click.option("--output", "-o", required=True, help="Export folder or s3:// URI (must not exist yet).")
@click.option("--merge", "mode", flag_value="merge", help="Fold the LoRA adapter into the base (default for adapters).")
@click.option("--adapter-only", "mode", flag_value="adapter-only", help="Write the adapter alone.")
@click.option("--dtype", type=click.Choice(["float32", "bfloat16", "float16"]),
              help="Dtype of the written weights [default: the base model's].")
@click.option("--gguf", type=click.Choice(["f16", "q8_0"]),
              help="Also write a GGUF file (llama.cpp, Ollama, LM Studio), checked by loading it back.")
@click.option("--onnx", is_flag=True,
              help="Also write model.onnx with attention mask and KV cache, checked by greedy generation.")
@click.option("--tolerance", type=click.FloatRange(0), default=1e-4, show_default=True,
              help="Largest max |logit difference| allowed between the export and the model it came from.")
@click.option("--base", help="An adapter's base model (folder or hub name), instead of the one it recorded.")
@click.pass_obj
def export(container, run_uri, model_path, output, mode, dtype, gguf, onnx, tolerance, base):
    """Write a deployable model: LoRA merged (parity-checked) or adapter only, optionally ONNX."""
    from application.runs.export import ExportRequest

    if bool(run_uri) == bool(model_path):
        raise click.UsageError("give exactly one of --run RUN or --model PATH")
    request = run(ExportRequest, mode=mode or "auto", onnx=onnx, tolerance=tolerance, dtype=dtype, gguf=gguf)
    manifest = run(container.export, request, run=run_uri, model=model_path, output=output, base=base)
    dtype = f" {manifest['dtype']}" if manifest.get("dtype") else ""
    click.echo(f"export: {output} ({manifest['written']}{dtype} {manifest['task']} model, "
               f"{len(manifest['files'])} files)")
    for name in ("parity", "gguf", "onnx"):
        if name in manifest:
            figures = manifest[name]
            extra = (f"; {figures['file']}" if name == "gguf" else
                     f"; greedy {figures['greedy_tokens']} tokens equal" if name == "onnx" else "")
            click.echo(f"  {name}: max |logit difference| {figures['max_abs_diff']:.2e} "
                       f"<= {figures['tolerance']:g}{extra}")


@cli.command()
@click.option("--run", "run_uri", required=True, help="Run folder or s3:// URI written by `train`.")
@click.option("--output", "-o", help="Report folder or URI (default: RUN/report).")
@click.pass_obj
def report(container, run_uri, output):
    """Write a Markdown report of a run: metric curves (PNG), config, lineage, best checkpoint, evals."""
    result = run(container.report, run_uri, output)
    click.echo(f"report: {result.uri}/report.md")
    click.echo(f"  charts: {', '.join(result.figures) or 'none (metrics.jsonl is empty)'}")


@cli.command("config")
@click.option("--config", "-c", "config_path", type=click.Path(), default="training_config.yaml",
              show_default=True, help="Training configuration YAML to validate.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a value (repeatable).")
@click.option("--reference", is_flag=True, help="Print every config key with its type, default and meaning.")
def config_command(config_path, overrides, reference):
    """Validate a training config and print it resolved, or print the key reference."""
    from application.train.config import TrainConfig, load_train_config
    from presentation.config_reference import reference_markdown

    if reference:
        click.echo(reference_markdown(TrainConfig))
        return
    config = run(load_train_config, config_path, overrides)
    click.echo(config.model_dump_json(indent=2))



from presentation.generate_command import generate  # noqa: E402  (a module per new command)
from presentation.project_cli import project  # noqa: E402  (a module per command group)

cli.add_command(generate)
cli.add_command(project)
