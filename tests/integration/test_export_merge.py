"""export: a LoRA run merged into a standalone model, checked for parity; corrupted merges refused."""
from __future__ import annotations

import json

import pytest

from application.runs.export import ExportRequest
from domain.errors import ExportError
from presentation.container import Container
from tests.eval_fixtures import lora_adapter, run_folder, save_model, tiny_gpt2, tiny_tokenizer


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("lora-run")
    tokenizer = tiny_tokenizer()
    base = save_model(tiny_gpt2(tokenizer), tokenizer, root / "base")
    adapter = lora_adapter(base, root / "adapter")
    return {"base": base, "run": run_folder(root / "run", final_source=adapter)}


def logits_of(model, ids):
    import torch

    with torch.no_grad():
        return model(input_ids=ids).logits


def test_merged_export_loads_generates_and_matches_the_adapter_model(lora_run, tmp_path):
    import torch
    from peft import AutoPeftModelForCausalLM
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "merged"
    manifest = Container().export(ExportRequest(mode="merge"), run=str(lora_run["run"]), output=str(out))
    assert manifest["written"] == "merged"
    assert {"model.safetensors", "config.json", "tokenizer.json", "export.json"} <= set(p.name for p in out.iterdir())
    assert not (out / "adapter_config.json").exists()
    assert manifest["parity"]["max_abs_diff"] <= 1e-4
    assert json.loads((out / "export.json").read_text()) == manifest

    merged = AutoModelForCausalLM.from_pretrained(str(out)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(out))
    adapter = AutoPeftModelForCausalLM.from_pretrained(str(lora_run["run"] / "final")).eval()
    base = AutoModelForCausalLM.from_pretrained(str(lora_run["base"])).eval()
    ids = tokenizer(["def add_3(a, b):\n    return"], return_tensors="pt")["input_ids"]
    # Our own check, independent of the export's: the merged model is the adapter model ...
    assert (logits_of(merged, ids) - logits_of(adapter, ids)).abs().max().item() <= 1e-4
    # ... and the adapter really changes the base (else the parity check would prove nothing).
    assert (logits_of(merged, ids) - logits_of(base, ids)).abs().max().item() > 1e-2
    generated = merged.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=8,
                                do_sample=False, pad_token_id=tokenizer.pad_token_id)
    assert generated.shape[1] == ids.shape[1] + 8


def test_a_corrupted_merge_fails_the_parity_check_and_writes_nothing(lora_run, tmp_path):
    import torch

    def corrupt(merged):  # what a wrong scaling or a transposed LoRA product would do
        with torch.no_grad():
            merged.transformer.h[0].attn.c_attn.weight[0, 0] += 0.05

    out = tmp_path / "merged"
    with pytest.raises(ExportError, match=r"merge parity check failed: max \|logit difference\| .* > tolerance 0.0001"):
        Container().export(ExportRequest(mode="merge"), run=str(lora_run["run"]), output=str(out),
                           after_merge=corrupt)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no staging folder left behind


def test_adapter_only_export_and_its_refusal_for_a_full_model(lora_run, tmp_path):
    out = tmp_path / "adapter"
    manifest = Container().export(ExportRequest(mode="adapter-only"), run=str(lora_run["run"]), output=str(out))
    assert manifest["written"] == "adapter"
    assert (out / "adapter_config.json").exists() and (out / "adapter_model.safetensors").exists()
    with pytest.raises(ExportError, match="fully fine-tuned"):
        Container().export(ExportRequest(mode="adapter-only"), model=str(lora_run["base"]), output=str(tmp_path / "x"))
    with pytest.raises(ExportError, match="not empty"):
        Container().export(ExportRequest(), run=str(lora_run["run"]), output=str(out))


@pytest.mark.s3
def test_export_to_s3_writes_the_manifest_last(lora_run, s3_env):
    from infrastructure.storage.s3 import S3Storage
    from infrastructure.storage.providers import S3Settings

    uri = f"s3://{s3_env}/exports/merged"
    manifest = Container().export(ExportRequest(), run=str(lora_run["run"]), output=uri)
    storage = S3Storage(uri, S3Settings())
    assert set(manifest["files"]) | {"export.json"} == set(storage.list())
    assert json.loads(storage.read_bytes("export.json"))["written"] == "merged"


def test_onnx_export_decodes_with_its_kv_cache_like_transformers(lora_run, tmp_path):
    import onnxruntime
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from infrastructure.export.onnx import onnx_greedy

    out = tmp_path / "onnx"
    manifest = Container().export(ExportRequest(onnx=True), run=str(lora_run["run"]), output=str(out))
    assert manifest["onnx"]["max_abs_diff"] <= 1e-4 and manifest["onnx"]["greedy_match"]
    # Independent check on real text, against the exported transformers model: 16 greedy tokens.
    tokenizer = AutoTokenizer.from_pretrained(str(out))
    model = AutoModelForCausalLM.from_pretrained(str(out)).eval()
    ids = tokenizer(["def scale_2(xs):\n    return"], return_tensors="pt")["input_ids"]
    session = onnxruntime.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    expected = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=16,
                              min_new_tokens=16, do_sample=False, pad_token_id=tokenizer.pad_token_id)[0, ids.shape[1]:]
    assert onnx_greedy(session, model.config, ids.numpy(), 16) == expected.tolist()
    assert {i.name for i in session.get_inputs()} >= {"attention_mask", "past_key_values.0.key"}


def test_a_classifier_adapter_merges_and_scores_the_same_as_before(tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForSequenceClassification

    from application.runs.evaluate import DatasetEvalRequest
    from tests.eval_fixtures import classification_dataset

    tokenizer = tiny_tokenizer()
    save_model(tiny_gpt2(tokenizer, num_labels=2), tokenizer, tmp_path / "base")
    torch.manual_seed(0)
    adapter = get_peft_model(AutoModelForSequenceClassification.from_pretrained(str(tmp_path / "base")),
                             LoraConfig(r=4, target_modules=["c_attn"], fan_in_fan_out=True,
                                        init_lora_weights=False, task_type="SEQ_CLS"))
    save_model(adapter, tokenizer, tmp_path / "adapter")
    tuned = {"threshold": 0.7, "label": "vulnerable", "f1": 0.8, "tuned_on": "validation", "step": 10}
    (tmp_path / "adapter" / "threshold.json").write_text(json.dumps(tuned))
    (tmp_path / "adapter" / "labels.json").write_text(json.dumps(["clean", "vulnerable"]))  # as training writes it
    run = run_folder(tmp_path / "run", final_source=tmp_path / "adapter")
    manifest = Container().export(ExportRequest(), run=str(run), output=str(tmp_path / "merged"))
    assert manifest["written"] == "merged" and manifest["task"] == "sequence-classification"
    assert manifest["threshold"] == tuned  # the tuned cut-off travels with the weights
    assert json.loads((tmp_path / "merged" / "threshold.json").read_text()) == tuned
    # adapter-only: no model config holds the label names, so labels.json must travel (a 10-label
    # adapter exported without it cannot be loaded: the head would be built with 2 labels)
    Container().export(ExportRequest(mode="adapter-only"), run=str(run), output=str(tmp_path / "adapter-export"))
    for name in ("labels.json", "threshold.json"):
        assert (tmp_path / "adapter-export" / name).read_text() == (tmp_path / "adapter" / name).read_text()
    assert manifest["parity"]["max_abs_diff"] <= 1e-4

    rows = [(f"def add_{i}(a, b):", i % 2) for i in range(12)] + [("eval(input())", 1), ("pickle.loads(x)", 1)]
    data = classification_dataset(tmp_path / "sec", tokenizer, rows, {"clean": 0, "vulnerable": 1})
    scores = [Container().evaluate_dataset(DatasetEvalRequest(), model=str(tmp_path / name), dataset=str(data),
                                           output=str(tmp_path / f"eval-{name}"))
              for name in ("adapter", "merged", "adapter-export")]
    assert scores[0]["confusion_matrix"] == scores[1]["confusion_matrix"] == scores[2]["confusion_matrix"]
    assert scores[0]["decision"] == scores[1]["decision"] == scores[2]["decision"]
    assert scores[1]["decision"]["threshold"] == 0.7
    assert sum(map(sum, scores[0]["confusion_matrix"])) == 14
