"""`python main.py config`: validate a training config, or print its key reference."""
from __future__ import annotations

import click

from presentation.running import run


@click.command("config")
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
