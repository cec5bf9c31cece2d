"""GGUF (llama.cpp, Ollama, LM Studio) from a transformers model folder, with llama.cpp's own
`gguf` writer and tensor-name maps, and a check that transformers reads the file back to the
same logits and the same tokenizer before anything is published.

Conventions follow llama.cpp's `convert_hf_to_gguf.py`: Llama's q/k rows are permuted for its
rotary layout, GPT-2's Conv1D weights are stored transposed ([out, in]), 1-D tensors (norms,
biases) stay float32, and a tied output matrix is not written (readers tie it back).
"""
from __future__ import annotations

import json
from pathlib import Path

from domain.errors import ExportError

ARCHITECTURES = {"llama": "LLAMA", "qwen2": "QWEN2", "gpt2": "GPT2"}  # HF model_type -> gguf MODEL_ARCH
GPT2_CONV1D = (".attn.c_attn.weight", ".attn.c_proj.weight", ".mlp.c_fc.weight", ".mlp.c_proj.weight")
# Largest max |logit difference| from the merged fp32 model that each storage type may show:
# f16 rounds each weight to 11 significant bits; q8_0 keeps 8 bits per weight plus a scale per 32.
TOLERANCES = {"f16": 5e-2, "q8_0": 2.5e-1}
SAMPLE_CODE = "def load(path):\n    with open(path) as f:\n        return [line.rstrip() for line in f]\n"


def gguf_file_name(kind: str) -> str:
    return f"model-{kind}.gguf"  # beside model.safetensors and model.onnx


def _permute(weights, n_head: int, n_head_kv: int | None):
    """llama.cpp's rotary layout for Llama's q/k rows (the inverse of transformers' reverse_permute)."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def gguf_tensors(model, model_type: str):
    """(gguf name, float32 numpy array) for every weight, in llama.cpp's names and layouts."""
    import gguf

    config = model.config
    names = gguf.get_tensor_name_map(getattr(gguf.MODEL_ARCH, ARCHITECTURES[model_type]), config.num_hidden_layers)
    tied = bool(getattr(config, "tie_word_embeddings", False))
    for hf_name, tensor in model.state_dict().items():
        if hf_name.endswith((".attn.bias", ".attn.masked_bias", "rotary_emb.inv_freq")):
            continue  # buffers, not weights
        base, _, suffix = hf_name.rpartition(".")
        name = names.get_name(base)
        if name is None:
            raise ExportError(f"--gguf: no llama.cpp name for tensor {hf_name} of this {model_type} model")
        if name == "output" and tied:
            continue
        data = tensor.detach().float().numpy()
        if model_type == "llama" and name.endswith(("attn_q", "attn_k")):
            kv = config.num_key_value_heads if name.endswith("attn_k") else config.num_attention_heads
            data = _permute(data, config.num_attention_heads, kv)
        if model_type == "gpt2" and hf_name.endswith(GPT2_CONV1D):
            data = data.T
        yield f"{name}.{suffix}", data


def _stored(data, kind: str):
    """`data` in the file's storage type: 1-D stays f32; a row not a multiple of 32 falls back to f16."""
    import gguf
    import numpy as np

    if data.ndim < 2:
        return data.astype(np.float32), gguf.GGMLQuantizationType.F32
    if kind == "q8_0" and data.shape[-1] % gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType.Q8_0][0] == 0:
        return gguf.quants.quantize(data, gguf.GGMLQuantizationType.Q8_0), gguf.GGMLQuantizationType.Q8_0
    return data.astype(np.float16), gguf.GGMLQuantizationType.F16


def _add_hyperparameters(writer, config, model_type: str) -> None:
    writer.add_block_count(config.num_hidden_layers)
    writer.add_embedding_length(config.hidden_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_context_length(config.max_position_embeddings)
    if model_type == "gpt2":
        writer.add_feed_forward_length(config.n_inner or 4 * config.hidden_size)
        writer.add_layer_norm_eps(config.layer_norm_epsilon)
        return
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    rope = getattr(config, "rope_parameters", None) or {}
    writer.add_rope_freq_base(float(rope.get("rope_theta", getattr(config, "rope_theta", 10000.0))))
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    writer.add_rope_dimension_count(head_dim)
    writer.add_vocab_size(config.vocab_size)


def _add_tokenizer(writer, tokenizer, vocab_size: int) -> None:
    """Byte-level BPE vocabulary, merges and special ids, as llama.cpp's `gpt2` tokenizer model."""
    import gguf

    state = json.loads(tokenizer.backend_tokenizer.to_str())
    if state["model"]["type"] != "BPE" or (state.get("pre_tokenizer") or {}).get("type") != "ByteLevel":
        raise ExportError("--gguf: only byte-level BPE tokenizers (GPT-2 style, like the ones `dataset` trains) "
                          "are written; this tokenizer is " + state["model"]["type"])
    vocab = tokenizer.get_vocab()
    by_id = {i: token for token, i in vocab.items()}
    special = set(tokenizer.all_special_ids)
    tokens = [by_id.get(i, f"[PAD{i}]") for i in range(vocab_size)]  # embedding rows beyond the vocabulary
    types = [gguf.TokenType.CONTROL if i in special else gguf.TokenType.UNUSED if i not in by_id
             else gguf.TokenType.NORMAL for i in range(vocab_size)]
    merges = [m if isinstance(m, str) else " ".join(m) for m in state["model"]["merges"]]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt2")  # GPT-2's split regex, which a ByteLevel pre-tokenizer applies
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    for name, add in (("bos", writer.add_bos_token_id), ("eos", writer.add_eos_token_id),
                      ("unk", writer.add_unk_token_id), ("pad", writer.add_pad_token_id)):
        token_id = getattr(tokenizer, f"{name}_token_id")
        if token_id is not None:
            add(token_id)
    writer.add_add_bos_token(False)
    if getattr(tokenizer, "chat_template", None):
        writer.add_chat_template(tokenizer.chat_template)


def write_gguf(model, tokenizer, target: Path, kind: str) -> Path:
    """Write `model` (any float dtype) and its tokenizer to the GGUF file `target` as `kind`."""
    import gguf

    model_type = model.config.model_type
    if model_type not in ARCHITECTURES:
        raise ExportError(f"--gguf: {model_type} models are not supported; use one of {', '.join(ARCHITECTURES)}")
    writer = gguf.GGUFWriter(str(target), model_type)
    writer.add_name(Path(target).stem)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if kind == "f16" else gguf.LlamaFileType.MOSTLY_Q8_0)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    _add_hyperparameters(writer, model.config, model_type)
    _add_tokenizer(writer, tokenizer, model.config.vocab_size)
    for name, data in gguf_tensors(model, model_type):
        stored, qtype = _stored(data, kind)
        writer.add_tensor(name, stored, raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return Path(target)


def check_gguf(path: Path, reference, tokenizer, batch) -> dict:
    """Load `path` back with transformers' GGUF loader; compare its logits on `batch` (fp32) with
    `reference` (the exported model's) and its tokenization of sample code with `tokenizer`'s."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from infrastructure.export.source import logits, max_abs_diff

    folder, name = str(Path(path).parent), Path(path).name
    try:
        config = AutoConfig.from_pretrained(folder, gguf_file=name)
        if config.model_type == "gpt2" and getattr(config, "n_ctx", None):
            # transformers 5.23 reads gpt2.context_length into `n_ctx`, which GPT2Config no longer uses
            # for its position table (`n_positions`): carry it over, or any model but 1024 positions fails.
            config.n_positions = config.n_ctx
        loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, config=config,
                                                      dtype=torch.float32).eval()
        reread = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    except (OSError, ValueError, KeyError) as exc:
        raise ExportError(f"--gguf: transformers cannot read the GGUF back ({str(exc).splitlines()[0]}); "
                          f"nothing was written") from None
    same_tokens = reread(SAMPLE_CODE)["input_ids"] == tokenizer(SAMPLE_CODE)["input_ids"]
    diff = max_abs_diff(logits(loaded, batch), reference)
    return {"max_abs_diff": diff, "tokenizer_round_trip": same_tokens, "file": Path(path).name}
