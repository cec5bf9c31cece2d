"""`python main.py project ...`: per-project adapters on a shared base model, in a registry under
$CODETRAIN_HOME (default ~/.codetrain)."""
from __future__ import annotations

import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

import click

from presentation.running import run

MAIN = Path(__file__).resolve().parents[2] / "main.py"  # presentation/commands/ -> the repository root


def codetrain_home() -> Path:
    return Path(os.environ.get("CODETRAIN_HOME") or Path.home() / ".codetrain").expanduser()


def open_registry(container):
    """The project registry and process table, under $CODETRAIN_HOME."""
    return container.projects(codetrain_home())


def status_line(project) -> str:
    """`NAME: training, step 37/200, loss 4.1234, 5,230 tokens/s, ETA 0:00:31 (pid 1234)`."""
    parts = [f"{project.name}: {project.status}"]
    if project.total:
        parts.append(f"step {project.step}/{project.total}")
    metrics = project.metrics
    if metrics.get("loss") is not None:
        parts.append(f"loss {metrics['loss']:.4f}")
    if metrics.get("eval_loss") is not None:
        parts.append(f"eval loss {metrics['eval_loss']:.4f}")
    if metrics.get("tokens_per_s"):
        parts.append(f"{metrics['tokens_per_s']:,.0f} tokens/s")
    if project.eta_seconds is not None and project.lock is not None:
        parts.append(f"ETA {timedelta(seconds=round(project.eta_seconds))}")
    line = ", ".join(parts)
    return line + (f" (pid {project.lock.pid})" if project.lock else "")


@click.group("project")
def project():
    """Per-project LoRA adapters on a shared base: register, train in the background, follow, cancel."""


@project.command("add")
@click.argument("name")
@click.argument("sources", nargs=-1, required=True)
@click.option("--base", required=True, type=click.Path(exists=True, file_okay=False),
              help="Local folder of the base model every project's adapter sits on.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Project setting: a training config key (training.max_steps=200), dataset.KEY or collect.KEY.")
@click.pass_obj
def add(container, name, sources, base, overrides):
    """Register a project: its sources, base model and settings."""
    from application.projects.manage import add_project

    registry, _ = open_registry(container)
    created = run(add_project, name, tuple(sources), base, tuple(overrides), registry=registry, home=codetrain_home())
    click.echo(f"project {created.name}: registered ({len(created.sources)} source(s), base {created.base})")


@project.command("list")
@click.pass_obj
def list_command(container):
    """A table of projects: status, step, eval loss, last update."""
    from application.projects.manage import list_projects

    projects = run(list_projects, *open_registry(container))
    rows = [("NAME", "STATUS", "STEP", "EVAL LOSS", "UPDATED")]
    for p in projects:
        loss = p.metrics.get("eval_loss")
        rows.append((p.name, p.status.split(":")[0] + (" (running)" if p.lock else ""),
                     f"{p.step}/{p.total}" if p.total else "-", f"{loss:.4f}" if loss is not None else "-", p.updated))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


@project.command("status")
@click.argument("name")
@click.pass_obj
def status(container, name):
    """One project's status, `step N/M`, tokens/s and ETA; its adapter and log."""
    from application.projects.manage import project_status
    from application.projects.settings import ProjectPaths

    found = run(project_status, name, *open_registry(container))
    click.echo(status_line(found))
    if found.adapter:
        click.echo(f"  adapter: {found.adapter}")
    log = ProjectPaths(codetrain_home(), name).log
    if log.exists():
        click.echo(f"  log: {log}")


@project.command("train")
@click.argument("name")
@click.option("--detach", is_flag=True, help="Return at once; train in a background process (log in the project folder).")
@click.option("--resume", is_flag=True, help="Continue the interrupted run exactly, with its recorded config.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Settings for this training on top of the project's (same keys as `project add`).")
@click.pass_obj
def train(container, name, detach, resume, overrides):
    """collect -> dataset (the base's tokenizer) -> LoRA train; steps whose artifact is current are skipped."""
    from application.projects.training import TOKEN_ENV, start_detached, train_project
    from application.projects.settings import ProjectPaths

    registry, processes = open_registry(container)
    home = codetrain_home()
    if detach:
        argv = [sys.executable, str(MAIN), "project", "train", name, *(["--resume"] if resume else []),
                *[part for o in overrides for part in ("--set", o)]]
        lock = run(start_detached, name, argv, resume=resume, overrides=tuple(overrides), registry=registry,
                   processes=processes, home=home)
        click.echo(f"project {name}: training in the background (pid {lock.pid}); "
                   f"log: {ProjectPaths(home, name).log}")
        click.echo(f"  follow with `python main.py project status {name}`, stop with `project cancel {name}`")
        return
    # `project cancel` sends SIGTERM: while collecting or building it interrupts like Ctrl-C;
    # while training the trainer's own handler checkpoints first.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        summary = run(train_project, name, overrides=tuple(overrides), resume=resume,
                      token=os.environ.pop(TOKEN_ENV, None), registry=registry, processes=processes,
                      steps=container.project_steps(), home=home, log=click.echo)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if summary.get("interrupted"):
        click.echo(f"project {name}: cancelled at step {summary['steps']}; checkpoint: {summary['checkpoint']}")
        click.echo(f"resume with: python main.py project train {name} --resume")
        sys.exit(130)
    click.echo(status_line(registry.get(name)))


@project.command("cancel")
@click.argument("name")
@click.option("--wait", "wait_seconds", type=click.FloatRange(0), default=120, show_default=True,
              help="Seconds to wait for the trainer to checkpoint and stop.")
@click.pass_obj
def cancel(container, name, wait_seconds):
    """Stop a project's training (SIGTERM): it saves a checkpoint; `project train NAME --resume` continues."""
    from application.projects.manage import cancel_project

    found, ended = run(cancel_project, name, *open_registry(container), wait_seconds=wait_seconds)
    if not ended:
        click.echo(f"project {name}: asked process {found.lock.pid} to stop; it is still saving its checkpoint "
                   f"(`project status {name}` shows when it is done)")
        return
    click.echo(status_line(found))


@project.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def remove(container, name, yes):
    """Forget a project and delete its folder (collection, dataset, runs, adapters)."""
    from application.projects.manage import remove_project
    from application.projects.settings import ProjectPaths

    folder = ProjectPaths(codetrain_home(), name).folder
    if not yes:
        click.confirm(f"remove project {name} and delete {folder}?", abort=True)
    registry, processes = open_registry(container)
    deleted = run(remove_project, name, registry, processes, codetrain_home())
    click.echo(f"project {name}: removed" + (f"; deleted {folder}" if deleted else ""))
