"""`python main.py generate`: a run's model or a model + adapter completes a prompt on stdout."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from presentation.cli import cli
from tests.eval_fixtures import base_and_adapter, run_folder

PROMPT = "def load("


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("generate")
    models = base_and_adapter(root)
    return {**models, "run": run_folder(root / "run", final_source=models["base"])}


def greedy(model, tokenizer, n: int) -> str:
    """What transformers' own greedy decoding continues PROMPT with."""
    import torch

    ids = tokenizer(PROMPT, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=n, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    return tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)


def test_generate_from_a_run_prints_prompt_then_greedy_completion(models):
    from transformers import AutoModelForCausalLM

    result = CliRunner().invoke(cli, ["generate", "--run", str(models["run"]), "--prompt", PROMPT,
                                      "--max-new-tokens", "12"])
    assert result.exit_code == 0, result.output
    expected = greedy(AutoModelForCausalLM.from_pretrained(str(models["base"])), models["tokenizer"], 12)
    assert expected.strip(), "the tiny model should produce some text"
    assert result.stdout == PROMPT + expected + "\n"


def test_generate_with_model_and_adapter_uses_the_adapter(models):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    args = ["generate", "--model", str(models["base"]), "--prompt", PROMPT, "--max-new-tokens", "12"]
    plain = CliRunner().invoke(cli, args)
    adapted = CliRunner().invoke(cli, [*args, "--adapter", str(models["adapter"])])
    assert adapted.exit_code == 0, adapted.output
    peft = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(models["base"])), str(models["adapter"]))
    assert adapted.stdout == PROMPT + greedy(peft.eval(), models["tokenizer"], 12) + "\n"
    assert adapted.stdout != plain.stdout  # the adapter (random, non-zero B) changes the completion


def test_stop_string_ends_the_completion_before_it(models, tmp_path):
    full = CliRunner().invoke(cli, ["generate", "--run", str(models["run"]), "--prompt", PROMPT,
                                    "--max-new-tokens", "12"]).stdout[len(PROMPT):-1]
    stop = full[len(full) // 2:len(full) // 2 + 2]
    prompt_file = tmp_path / "prompt.txt"
    prompt_file.write_text(PROMPT)
    result = CliRunner().invoke(cli, ["generate", "--run", str(models["run"]), "--file", str(prompt_file),
                                      "--max-new-tokens", "12", "--stop", stop])
    assert result.exit_code == 0, result.output
    assert result.stdout == PROMPT + full[:full.find(stop)] + "\n"


def test_generate_mistakes_are_one_line_errors(models, tmp_path):
    cases = [
        (["generate", "--prompt", "x"], "exactly one of --run RUN, --model DIR or --project NAME"),
        (["generate", "--run", str(models["run"])], "give --prompt TEXT, --file F or --chat"),
        (["generate", "--run", str(models["run"]), "--adapter", str(models["adapter"]), "--prompt", "x"],
         "--adapter applies to --model"),
        (["generate", "--model", str(models["base"]), "--adapter", str(models["base"]), "--prompt", "x"],
         "not a peft adapter folder"),
        (["generate", "--run", str(tmp_path / "none"), "--prompt", "x"], "no such run"),
        (["generate", "--run", str(models["run"]), "--chat"], "--chat needs a model whose tokenizer has a chat"),
    ]
    for args, message in cases:
        result = CliRunner().invoke(cli, args)
        assert result.exit_code != 0, args
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output
