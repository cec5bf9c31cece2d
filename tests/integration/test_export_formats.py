"""export of a LoRA trained on a bf16 tiny Llama: the merged model stays bf16, the GGUF reads back
in transformers with the merged model's logits, the ONNX decodes greedily like transformers."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from presentation.cli import cli
from tests.train_fixtures import build_generation_dataset, tiny_config

PROMPT = "def scale_3(values, factor=4):\n    return"


@pytest.fixture(scope="module")
def bf16_lora_run(tmp_path_factory):
    """A real `train` run: LoRA over a 2-layer, 64-wide Llama saved in bfloat16."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from presentation.container import Container

    root = tmp_path_factory.mktemp("bf16-lora")
    dataset = build_generation_dataset(root / "dataset", seq_len=32, vocab_size=320)
    tokenizer = AutoTokenizer.from_pretrained(str(dataset / "tokenizer"))
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    LlamaForCausalLM(config).to(torch.bfloat16).save_pretrained(str(root / "base"))
    tokenizer.save_pretrained(str(root / "base"))
    train = tiny_config(dataset, root / "run", model={"name_or_path": str(root / "base"), "dtype": "bfloat16"},
                        adapter={"type": "lora", "r": 4, "alpha": 8},
                        training={"max_steps": 4, "micro_batch_size": 4, "lr": 5e-2, "warmup_steps": 0, "seed": 7,
                                  "log_every_steps": 1, "progress_bar": False, "num_threads": 1})
    Container().train(train, log=lambda message: None)
    return {"run": root / "run", "base": root / "base"}


def logits_of(model, ids):
    import torch

    with torch.no_grad():
        return model(input_ids=ids).logits.float()


def test_bf16_lora_exports_bf16_merged_gguf_and_onnx(bf16_lora_run, tmp_path):
    import torch
    from safetensors import safe_open
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "export"
    result = CliRunner().invoke(cli, ["export", "--run", str(bf16_lora_run["run"]), "-o", str(out), "--merge",
                                      "--gguf", "f16", "--onnx"])
    assert result.exit_code == 0, result.output
    assert "merged bfloat16 causal-lm model" in result.stdout
    manifest = json.loads((out / "export.json").read_text())
    # bf16 in, bf16 out: config and every tensor.
    assert json.loads((out / "config.json").read_text())["dtype"] == "bfloat16"
    with safe_open(str(out / "model.safetensors"), "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.bfloat16}
    base_bytes = sum(p.stat().st_size for p in bf16_lora_run["base"].glob("*.safetensors"))
    assert (out / "model.safetensors").stat().st_size <= base_bytes * 1.05  # not an fp32 doubling

    # GGUF: transformers' own GGUF loader, independent of the export's check, against the merged model.
    gguf_name = manifest["gguf"]["file"]
    from_gguf = AutoModelForCausalLM.from_pretrained(str(out), gguf_file=gguf_name, dtype=torch.float32).eval()
    gguf_tokenizer = AutoTokenizer.from_pretrained(str(out), gguf_file=gguf_name)
    tokenizer = AutoTokenizer.from_pretrained(str(out))
    ids = tokenizer([PROMPT], return_tensors="pt")["input_ids"]
    assert gguf_tokenizer([PROMPT])["input_ids"][0] == ids[0].tolist()
    merged = AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32).eval()
    diff = (logits_of(from_gguf, ids) - logits_of(merged, ids)).abs().max().item()
    assert diff < 5e-2, diff
    assert manifest["gguf"]["max_abs_diff"] < 5e-2

    # ONNX: the export's own check decoded 16 greedy tokens with the KV cache, equal to transformers'.
    assert manifest["onnx"]["greedy_match"] and len(manifest["onnx"]["greedy_onnx"]) == 16


def test_q8_0_gguf_and_an_explicit_dtype(bf16_lora_run, tmp_path):
    out = tmp_path / "q8"
    result = CliRunner().invoke(cli, ["export", "--run", str(bf16_lora_run["run"]), "-o", str(out),
                                      "--gguf", "q8_0", "--dtype", "float32"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "export.json").read_text())
    assert manifest["dtype"] == "float32" and manifest["gguf"]["type"] == "q8_0"
    assert json.loads((out / "config.json").read_text())["dtype"] == "float32"
    assert manifest["gguf"]["max_abs_diff"] < 2.5e-1
