"""`python main.py collect`: repositories -> a collection of code units."""
from __future__ import annotations

import click

from presentation.running import run
from presentation.executor_options import check_executor, executor_options


@click.command()
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
    click.echo(f"collection: {output}")  # as the user wrote it (a README or log shows no machine path)
    click.echo(f"  files seen {counts['files_seen']}, kept {counts['files_kept']}, "
               f"units {counts['units']} {counts['by_kind']}")
    click.echo(f"  units by language {counts['by_language']}")
    click.echo(f"  skipped {counts['skipped']}")
    click.echo(f"  duplicates dropped {counts['duplicates']}, redactions {counts['redactions']}")
    for skipped in result.manifest.get("skipped_sources", []):
        click.echo(f"  source skipped: {skipped['origin']} ({skipped['reason']})")
