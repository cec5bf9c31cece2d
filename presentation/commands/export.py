"""`python main.py export`: a run's model merged, as an adapter, GGUF or ONNX."""
from __future__ import annotations

import click

from presentation.running import run


@click.command()
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
