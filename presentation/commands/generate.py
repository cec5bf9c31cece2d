"""`python main.py generate`: stream a completion from a trained model."""
from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command()
@click.option("--run", "run_uri", help="Run folder or s3:// URI written by `train`: uses its final/ model.")
@click.option("--model", "model_path", type=click.Path(exists=True, file_okay=False),
              help="A model folder instead of a run (full model or peft adapter).")
@click.option("--project", "project_name", metavar="NAME",
              help="A registered project: its base model with its trained adapter (see `project --help`).")
@click.option("--adapter", "adapter_path", type=click.Path(exists=True, file_okay=False),
              help="A peft adapter folder to apply on top of --model.")
@click.option("--prompt", help="Text to complete (a chat model: your message).")
@click.option("--file", "prompt_file", type=click.Path(exists=True, dir_okay=False),
              help="Read the prompt from this file.")
@click.option("--chat", "interactive", is_flag=True,
              help="Interactive conversation on a terminal (needs a chat template); one line per turn.")
@click.option("--max-new-tokens", type=click.IntRange(1), default=128, show_default=True, help="Longest completion.")
@click.option("--temperature", type=click.FloatRange(0), default=0.0, show_default=True, help="0 = greedy.")
@click.option("--top-p", type=click.FloatRange(0, 1, min_open=True), default=0.95, show_default=True,
              help="Nucleus sampling mass.")
@click.option("--stop", "stops", multiple=True, help="End the completion before this text (repeatable).")
@click.option("--seed", type=int, default=0, show_default=True, help="Sampling seed.")
@click.option("--threads", type=click.IntRange(1), help="torch CPU threads [default: torch's choice].")
@click.pass_obj
def generate(container, run_uri, model_path, project_name, adapter_path, prompt, prompt_file, interactive, max_new_tokens,
             temperature, top_p, stops, seed, threads):
    """Complete a prompt with a trained model, streaming the prompt and its completion to stdout."""
    from application.runs.generate import GenerateRequest, chat, generate as generate_text, require_chat
    from presentation.running import run

    if sum(map(bool, (run_uri, model_path, project_name))) != 1:
        raise click.UsageError("give exactly one of --run RUN, --model DIR or --project NAME")
    if adapter_path and not model_path:
        raise click.UsageError("--adapter applies to --model DIR (a run's final/ or a project already holds its adapter)")
    if project_name:
        from application.projects.manage import project_model
        from presentation.commands.project import open_registry

        model_path, adapter_path = run(project_model, project_name, *open_registry(container))
    if interactive == bool(prompt is not None or prompt_file):
        raise click.UsageError("give --prompt TEXT, --file F or --chat (exactly one)")
    if prompt_file:
        prompt = Path(prompt_file).read_text(encoding="utf-8", errors="replace")
    request = run(GenerateRequest, prompt=prompt or " ", max_new_tokens=max_new_tokens, temperature=temperature,
                  top_p=top_p, stops=tuple(stops), seed=seed)
    streamer = run(container.generator, run=run_uri, model=model_path, adapter=adapter_path, threads=threads)

    def write(text):
        click.echo(text, nl=False)
        sys.stdout.flush()

    if interactive:
        run(require_chat, streamer)
        if not sys.stdin.isatty():
            raise click.UsageError("--chat reads from a terminal; pipe a prompt with --file /dev/stdin instead")
        run(chat, request, streamer, read=lambda: _read_turn(), write=write)
        return
    run(generate_text, request, streamer, write)
    click.echo()


def _read_turn() -> str | None:
    try:
        return click.prompt("you", prompt_suffix="> ", default="", show_default=False)
    except (EOFError, click.Abort):
        return None
