"""evaluate with real tiny models: perplexity, classification metrics, pass@k from generation."""
from __future__ import annotations

import json
import math
import shutil

import pytest

from application.runs.evaluate import BenchmarkRequest, DatasetEvalRequest
from presentation.container import Container
from tests.eval_fixtures import (classification_dataset, generation_dataset, run_folder, save_model, tiny_gpt2,
                                 tiny_tokenizer)


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    tokenizer = tiny_tokenizer()
    model_dir = save_model(tiny_gpt2(tokenizer), tokenizer, root / "model")
    dataset = generation_dataset(root / "dataset", tokenizer)
    return {"root": root, "tokenizer": tokenizer, "model": model_dir, "dataset": dataset,
            "run": run_folder(root / "run", final_source=model_dir, dataset=dataset)}


def test_perplexity_of_a_run_on_its_own_test_split(assets, tmp_path):
    import torch
    from datasets import load_from_disk
    from transformers import AutoModelForCausalLM

    result = Container().evaluate_dataset(DatasetEvalRequest(split="test", batch_size=3), run=str(assets["run"]),
                                          output=str(tmp_path))
    # Independent figure: transformers' own loss per batch, weighted by its target count.
    model = AutoModelForCausalLM.from_pretrained(str(assets["model"])).eval()
    test = load_from_disk(str(assets["dataset"]))["test"].with_format("torch")
    total = count = 0
    with torch.no_grad():
        for i in range(len(test)):
            row = test[i:i + 1]
            n = int((row["labels"][:, 1:] != -100).sum())
            loss = model(input_ids=row["input_ids"], position_ids=row["position_ids"], labels=row["labels"],
                         use_cache=False).loss  # a cache would switch off packed-document isolation
            total, count = total + loss.item() * n, count + n
    assert result["tokens"] == count
    assert result["loss"] == pytest.approx(total / count, rel=1e-5)
    assert result["perplexity"] == pytest.approx(math.exp(total / count), rel=1e-5)
    assert json.loads((tmp_path / "dataset-test.json").read_text())["loss"] == result["loss"]


def test_classification_metrics_of_a_model_that_always_says_class_zero(assets, tmp_path):
    import torch

    tokenizer = assets["tokenizer"]
    model = tiny_gpt2(tokenizer, num_labels=2)
    with torch.no_grad():
        model.score.weight.zero_()  # all logits 0: argmax is class 0 for every input
    model_dir = save_model(model, tokenizer, tmp_path / "classifier")
    rows = [("def add_1(a, b):", 0), ("eval(input())", 1), ("os.system(cmd)", 1), ("return a + b", 0),
            ("pickle.loads(data)", 1)]
    dataset = classification_dataset(tmp_path / "sec", tokenizer, rows, {"clean": 0, "vulnerable": 1})
    result = Container().evaluate_dataset(DatasetEvalRequest(), model=str(model_dir), dataset=str(dataset),
                                          output=str(tmp_path / "out"))
    assert result["labels"] == ["clean", "vulnerable"]
    assert result["confusion_matrix"] == [[2, 0], [3, 0]]
    assert result["accuracy"] == pytest.approx(2 / 5)
    assert result["per_class"]["clean"]["recall"] == 1.0 and result["per_class"]["vulnerable"]["recall"] == 0.0


def test_a_tuned_threshold_in_the_model_folder_decides_and_argmax_overrides_it(assets, tmp_path):
    import torch
    from click.testing import CliRunner

    from presentation.cli import cli

    tokenizer = assets["tokenizer"]
    model = tiny_gpt2(tokenizer, num_labels=2)
    with torch.no_grad():
        model.score.weight.zero_()  # every row: p(vulnerable) = 0.5 exactly
    model_dir = save_model(model, tokenizer, tmp_path / "classifier")
    (model_dir / "threshold.json").write_text(json.dumps({"threshold": 0.5, "label": "vulnerable", "f1": 0.9,
                                                          "tuned_on": "validation", "step": 40}))
    rows = [("def add_1(a, b):", 0), ("eval(input())", 1), ("os.system(cmd)", 1), ("return a + b", 0),
            ("pickle.loads(data)", 1)]
    dataset = classification_dataset(tmp_path / "sec", tokenizer, rows, {"clean": 0, "vulnerable": 1})
    tuned = Container().evaluate_dataset(DatasetEvalRequest(), model=str(model_dir), dataset=str(dataset),
                                         output=str(tmp_path / "tuned"))
    assert tuned["confusion_matrix"] == [[0, 2], [0, 3]]  # 0.5 >= the tuned 0.5: all flagged
    assert tuned["decision"]["threshold"] == 0.5 and "validation" in tuned["decision"]["source"]
    argmax = Container().evaluate_dataset(DatasetEvalRequest(threshold="argmax"), model=str(model_dir),
                                          dataset=str(dataset), output=str(tmp_path / "argmax"))
    assert argmax["confusion_matrix"] == [[2, 0], [3, 0]]  # a tie goes to class 0

    result = CliRunner().invoke(cli, ["evaluate", "--model", str(model_dir), "--dataset", str(dataset),
                                      "--threshold", "0.6", "--output", str(tmp_path / "cli")])
    assert result.exit_code == 0, result.output
    assert "predicted 'vulnerable' at probability >= 0.6000 (--threshold)" in result.output
    assert json.loads((tmp_path / "cli" / "dataset-test.json").read_text())["confusion_matrix"] == [[2, 0], [3, 0]]
    result = CliRunner().invoke(cli, ["evaluate", "--model", str(model_dir), "--dataset", str(dataset),
                                      "--threshold", "high", "--output", str(tmp_path / "bad")])
    assert result.exit_code != 0 and "--threshold high: expected a probability" in result.output
    assert not (tmp_path / "bad").exists()


def write_benchmark(path):
    # "comment": the prompt ends inside a comment, so any one-line completion is harmless and the
    # tests pass; "wrong": the prompt's own function is wrong, so no completion can pass.
    problems = [
        {"task_id": "toy/comment", "prompt": "def inc(x):\n    return x + 1\n# ", "entry_point": "inc",
         "test": "def check(f):\n    assert f(1) == 2\n"},
        {"task_id": "toy/wrong", "prompt": "def dec(x):\n    return x + 1\n# ", "entry_point": "dec",
         "test": "def check(f):\n    assert f(1) == 0\n"},
    ]
    path.write_text("".join(json.dumps(p) + "\n" for p in problems))
    return path


def test_pass_at_k_from_sampled_completions_of_a_real_model(assets, tmp_path):
    bench = write_benchmark(tmp_path / "toy.jsonl")
    request = BenchmarkRequest(benchmark=str(bench), n=4, ks=(1, 2), temperature=1.0, top_p=0.95,
                               max_new_tokens=12, stops=("\n",), timeout=10)
    result = Container().evaluate_benchmark(request, model=str(assets["model"]), output=str(tmp_path / "out"), seed=3)
    samples = [json.loads(line) for line in (tmp_path / "out" / "toy" / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 8 and all("\n" not in s["completion"] for s in samples)
    assert len({s["completion"] for s in samples}) > 1  # sampling, not one greedy answer copied
    assert {s["task_id"]: s["passed"] for s in samples if s["task_id"] == "toy/comment"} == {"toy/comment": True}
    assert not any(s["passed"] for s in samples if s["task_id"] == "toy/wrong")
    assert result.summary["pass@1"] == 0.5 and result.summary["pass@2"] == 0.5
    assert result.summary["isolation"] == "namespaces"


def test_greedy_generation_is_repeatable(assets, tmp_path):
    bench = write_benchmark(tmp_path / "toy.jsonl")
    request = BenchmarkRequest(benchmark=str(bench), max_new_tokens=10, stops=("\n",))
    first = Container().evaluate_benchmark(request, run=str(assets["run"]), output=str(tmp_path / "a"))
    second = Container().evaluate_benchmark(request, run=str(assets["run"]), output=str(tmp_path / "b"))
    assert [s["completion"] for s in first.samples] == [s["completion"] for s in second.samples]
    assert (tmp_path / "a" / "toy" / "summary.json").exists()


def test_a_prompt_longer_than_the_context_is_cut_from_its_start(assets):
    from transformers import AutoModelForCausalLM

    from infrastructure.evaluation.generation import Completer, Sampling

    model = AutoModelForCausalLM.from_pretrained(str(assets["model"]))  # 256 positions
    tokenizer = assets["tokenizer"]
    prompt = "".join(f"def add_{i}(a, b):\n    return a + b + {i}\n" for i in range(40)) + "def scale_3(xs):\n"
    assert len(tokenizer(prompt)["input_ids"]) > 256
    completions = Completer(model, tokenizer, Sampling(max_new_tokens=200)).complete(prompt, 2)
    assert len(completions) == 2 and completions[0] == completions[1]  # greedy, generated once
    assert 0 < len(tokenizer(completions[0])["input_ids"]) <= 128 + 2  # budget capped at half the context


def test_an_adapter_whose_base_is_gone_is_a_one_line_error(tmp_path):
    from domain.errors import EvaluationError
    from infrastructure.evaluation.loading import load_model
    from tests.eval_fixtures import lora_adapter

    tokenizer = tiny_tokenizer()
    base = save_model(tiny_gpt2(tokenizer), tokenizer, tmp_path / "base")
    adapter = lora_adapter(base, tmp_path / "adapter")
    shutil.rmtree(base)
    with pytest.raises(EvaluationError, match=r"base model .* is not there \(pass --base PATH\)"):
        load_model(adapter)


def test_an_adapter_records_its_base_portably_and_base_overrides_it(tmp_path):
    """Training writes the base relative to final/ (and absolutely in base_model.json): the run can
    move alone, or together with its base; `--base` points anywhere else."""
    import torch

    from infrastructure.evaluation.loading import load_model, resolve_base
    from infrastructure.training.models import record_base_portably
    from tests.eval_fixtures import lora_adapter

    tokenizer = tiny_tokenizer()
    base = save_model(tiny_gpt2(tokenizer), tokenizer, tmp_path / "work" / "base")
    adapter = lora_adapter(base, tmp_path / "work" / "run" / "final")
    record_base_portably(adapter)
    assert json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"] == "../../base"
    reference = load_model(adapter)

    shutil.copytree(tmp_path / "work" / "run", tmp_path / "elsewhere" / "run")  # the run alone moves
    assert resolve_base(tmp_path / "elsewhere" / "run" / "final") == str(base.resolve())
    shutil.move(tmp_path / "work", tmp_path / "moved")  # run and base move together
    moved = tmp_path / "moved" / "run" / "final"
    assert resolve_base(moved) == str((tmp_path / "moved" / "base").resolve())
    ids = torch.tensor([[1, 5, 9, 12]])
    assert torch.equal(load_model(moved)(input_ids=ids).logits, reference(input_ids=ids).logits)
    shutil.move(tmp_path / "moved" / "base", tmp_path / "stored-base")  # the base moves away: --base
    assert torch.equal(load_model(moved, base=str(tmp_path / "stored-base"))(input_ids=ids).logits,
                       reference(input_ids=ids).logits)
