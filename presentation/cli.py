"""The `python main.py` command group: global options and the one container. Each command lives in
`presentation/commands/` (option parsing and printing only) and is registered below."""
from __future__ import annotations

import sys

import click

from presentation import __version__


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


from presentation.commands.collect import collect  # noqa: E402
from presentation.commands.dataset import dataset  # noqa: E402
from presentation.commands.train import train  # noqa: E402
from presentation.commands.evaluate import evaluate  # noqa: E402
from presentation.commands.export import export  # noqa: E402
from presentation.commands.report import report  # noqa: E402
from presentation.commands.config import config_command  # noqa: E402
from presentation.commands.generate import generate  # noqa: E402
from presentation.commands.project import project  # noqa: E402

for command in (collect, dataset, train, evaluate, export, report, config_command, generate, project):
    cli.add_command(command)
