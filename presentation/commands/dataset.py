"""`python main.py dataset`: collections or your own files -> a tokenized DatasetDict."""
from __future__ import annotations

import click

from presentation.running import run
from presentation.executor_options import check_executor, executor_options


@click.command()
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
@click.option("--languages", default="", metavar="LANG,...",
              help="Only units of these languages (as collect names them: python, cpp, typescript...).")
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
def dataset(container, input_uris, output, task, chat_template, columns, label_field, kinds, languages, seq_len,
            no_pack,
            header, fim_rate, recency_half_life, tokenizer, vocab_size, ratios, test_repos, validation_repos,
            near_dup_threshold, decontaminate, decontaminate_near, severity, bandit_skip, num_proc, seed, no_cache,
            overwrite, executor, ray_address):
    """Split without leakage, decontaminate, tokenize and pack collections into a DatasetDict."""
    from application.dataset.formats import parse_column
    from application.dataset.request import DatasetRequest, parse_list, parse_ratios
    from presentation.collect_progress import dataset_progress

    request = run(
        DatasetRequest, task=task, label_field=label_field, kinds=parse_list(kinds) or None,
        languages=parse_list(languages), seq_len=seq_len,
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
    click.echo(f"dataset: {output}" + (" (cache hit: reused, nothing rebuilt)" if result.cache_hit else ""))
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
