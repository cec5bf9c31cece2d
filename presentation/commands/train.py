"""`python main.py train`: a dataset -> a fine-tuned model in a run folder."""
from __future__ import annotations

import sys

import click

from presentation.running import run


@click.command()
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
    echo(f"model: {config.output.dir}/final")
    split = summary.get("eval_split", "validation")
    echo(f"  {split} loss {summary['eval_loss_before']:.4f} -> {summary['eval_loss_after']:.4f}")
