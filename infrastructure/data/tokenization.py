"""Tokenizers: a byte-level BPE trained on the corpus, or a model's own; batched encoding."""
from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Iterable, Sequence

import xxhash

from domain.errors import DatasetError

SPECIAL_TOKENS = ["<|endoftext|>", "<|pad|>"]
_BATCH = 1000  # texts per encode_batch call: big enough for the Rust thread pool


def train_bpe_tokenizer(texts: Iterable[str], vocab_size: int, extra_special_tokens: Sequence[str] = ()):
    """Train a byte-level BPE on `texts`; returns a transformers fast tokenizer.

    eos/bos/unk are `<|endoftext|>` (id 0) and pad is `<|pad|>` (id 1), both inside the
    vocabulary, so model configs can use them directly; `extra_special_tokens` (FIM
    sentinels) follow from id 2 and are never split.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    special = SPECIAL_TOKENS + [t for t in extra_special_tokens if t not in SPECIAL_TOKENS]
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token=special[0], eos_token=special[0], unk_token=special[0], pad_token=special[1],
    )
    if extra_special_tokens:
        tokenizer.add_special_tokens({"additional_special_tokens": list(extra_special_tokens)})
    return tokenizer


def load_tokenizer(name_or_path: str | Path, extra_special_tokens: Sequence[str] = (), needs_eos: bool = True):
    """A model's tokenizer (local folder, or hub name when online); pad falls back to EOS.

    `extra_special_tokens` missing from its vocabulary are added (the model's embeddings
    must then be resized to `len(tokenizer)`). `needs_eos`: packing separates documents with
    EOS; classification rows do not pack, so an encoder without EOS (BERT) is fine there.
    """
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(name_or_path))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"--tokenizer {name_or_path}: cannot load a tokenizer ({str(exc).splitlines()[0]})") from None
    if not tokenizer.is_fast:
        raise DatasetError(f"--tokenizer {name_or_path}: a fast (Rust) tokenizer is needed")
    if needs_eos and tokenizer.eos_token is None:
        raise DatasetError(f"--tokenizer {name_or_path}: the tokenizer has no EOS token to separate documents")
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    if tokenizer.pad_token is None:
        raise DatasetError(f"--tokenizer {name_or_path}: the tokenizer has neither a pad nor an EOS token")
    if extra_special_tokens:
        tokenizer.add_special_tokens({"additional_special_tokens": list(extra_special_tokens)})
    return tokenizer


def tokenizer_fingerprint(name_or_path: str) -> str:
    """Hash of a local tokenizer folder's files (or of the name for a hub tokenizer)."""
    path = Path(name_or_path).expanduser()
    digest = xxhash.xxh64(name_or_path.encode())
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(file.relative_to(path).as_posix().encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


_worker_tokenizer = None  # set once per worker process by _start_worker


def _start_worker(serialized: str) -> None:
    from tokenizers import Tokenizer

    global _worker_tokenizer
    _worker_tokenizer = Tokenizer.from_str(serialized)


def special_frame(tokenizer) -> tuple[list[int], list[int]]:
    """The ids a model puts before and after one text: `[CLS]` / `[SEP]` for BERT-likes, BOS / none
    for Llama, none for GPT-2, read from the tokenizer's own post-processor. A decoder that adds
    nothing at the end gets its EOS there, so a classifier reads the text up to a fixed end."""
    core = _plain(tokenizer.backend_tokenizer)
    probe = "x"
    bare = core.encode(probe, add_special_tokens=False).ids
    framed = core.encode(probe, add_special_tokens=True).ids
    start = next((i for i in range(len(framed) - len(bare) + 1) if framed[i:i + len(bare)] == bare), 0)
    prefix, suffix = framed[:start], framed[start + len(bare):]
    if not suffix and tokenizer.eos_token_id is not None:
        suffix = [tokenizer.eos_token_id]
    return prefix, suffix


def _plain(core):
    """A copy of a Rust tokenizer with its stored truncation and padding switched off: a model's
    tokenizer.json often carries `max_length: 128` and pad-to-128 (MiniLM does), which would
    silently override `--seq-len` and store padding. Cutting and padding are ours to do."""
    from tokenizers import Tokenizer

    plain = Tokenizer.from_str(core.to_str())
    plain.no_truncation()
    plain.no_padding()
    return plain


def _encode(texts: list[str]) -> list[list[int]]:
    return [e.ids for e in _worker_tokenizer.encode_batch(texts, add_special_tokens=False)]


def tokenize_texts(tokenizer, texts: Sequence[str], num_proc: int = 1) -> list[list[int]]:
    """Token ids of every text (no BOS/EOS added), in order.

    One process: batches through the Rust tokenizer, which uses its own threads. More
    processes: the tokenizer is serialised once and the batches are shared among workers.
    """
    core = _plain(tokenizer.backend_tokenizer)
    batches = [list(texts[i : i + _BATCH]) for i in range(0, len(texts), _BATCH)]
    if num_proc <= 1 or len(batches) < 2:
        return [e.ids for batch in batches for e in core.encode_batch(batch, add_special_tokens=False)]
    with ProcessPoolExecutor(num_proc, initializer=_start_worker, initargs=(core.to_str(),)) as pool:
        return [ids for part in pool.map(_encode, batches) for ids in part]


# transformers 5 names its generic fast tokenizer `TokenizersBackend` in tokenizer_config.json, a
# class transformers 4.x (still pinned by vLLM and llama.cpp's converter) does not have; 4.x and 5.x
# both load `PreTrainedTokenizerFast` from the same tokenizer.json (5.x aliases it).
PORTABLE_CLASSES = {"TokenizersBackend": "PreTrainedTokenizerFast"}


def save_tokenizer(tokenizer, folder: Path) -> None:
    """`tokenizer.save_pretrained(folder)` (with its chat template), loadable by transformers 4.x and 5.x."""
    import json

    tokenizer.save_pretrained(str(folder))
    config_path = Path(folder) / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    portable = PORTABLE_CLASSES.get(config.get("tokenizer_class"))
    if portable:
        config["tokenizer_class"] = portable
        config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")
