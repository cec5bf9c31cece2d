"""A tiny base model saved to a local folder (no hub) and small git repositories of code, the
inputs of the `project` verbs' tests."""
from __future__ import annotations

from pathlib import Path

from tests.conftest import make_git_repo
from tests.train_fixtures import EXTENSIONS, TEMPLATES, snippets


def make_base(folder: Path, n_layer: int = 1, n_embd: int = 32, positions: int = 64, seed: int = 0) -> Path:
    """A from-scratch 1-layer GPT-2 with a byte-level BPE tokenizer trained on code snippets,
    saved the way a pretrained model folder is (config, safetensors, tokenizer)."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from infrastructure.data.tokenization import train_bpe_tokenizer

    tokenizer = train_bpe_tokenizer([t for lang in TEMPLATES for t in snippets(lang, 60)], 400)
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(GPT2Config(
        n_layer=n_layer, n_embd=n_embd, n_head=2, n_positions=positions, vocab_size=len(tokenizer),
        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0))
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def make_source(folder: Path, languages: tuple[str, ...], per_language: int = 30, offset: int = 0) -> Path:
    """A git repository of small functions in `languages` (a project's codebase)."""
    files = {f"{lang}/f{k}.{EXTENSIONS[lang]}": text for lang in languages
             for k, text in enumerate(snippets(lang, per_language, offset))}
    make_git_repo(folder, files)
    return folder
