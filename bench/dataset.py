"""dataset throughput and packing efficiency on a real collection (the standard library).

Run: .venv/bin/python bench/dataset.py [--collection runs/demo/collection] [--repeats 3]

1. Tokens/s of our tokenize + pack (Rust batch encoding, flat packing into `seq_len` blocks,
   Arrow table) against a plain `datasets.map` tokenization (batched, the same tokenizer, no
   packing), each with 1 and 2 processes. Runs are interleaved and medians reported: the
   machine is shared, so read the ratios rather than the absolute numbers.
2. Share of real (non-pad) tokens when packing vs padding, on the real unit lengths of the
   collection: one unit per row cut at `seq_len` and padded (the usual `padding="max_length",
   truncation=True`), every piece of a unit padded to `seq_len` (our `--no-pack`, loses
   nothing), and padded to the longest unit (`padding="longest"` over the whole set).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from application.dataset.packing import pack_documents, pad_documents  # noqa: E402


def collection_rows(path: Path | None) -> list[dict]:
    """File and function units of a collection; builds one from the stdlib when none is given."""
    from infrastructure.data.parquet import read_shards
    import json

    if path is None or not (path / "manifest.json").exists():
        path = Path(tempfile.mkdtemp(prefix="bench-dataset-")) / "collection"
        stdlib = sysconfig.get_paths()["stdlib"]
        print(f"collecting {stdlib} -> {path}")
        subprocess.run([sys.executable, str(ROOT / "main.py"), "collect", stdlib, "--output", str(path)],
                       check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    manifest = json.loads((path / "manifest.json").read_text())
    return read_shards([path / s["path"] for s in manifest["shards"]])


def ours(tokenizer, texts, seq_len, num_proc):
    from infrastructure.data.hf import split_table
    from infrastructure.data.tokenization import tokenize_texts

    docs = tokenize_texts(tokenizer, texts, num_proc)
    layout = pack_documents(docs, seq_len, tokenizer.eos_token_id, tokenizer.pad_token_id)
    split_table(seq_len, layout.columns, {})
    return layout.real_tokens


def plain_map(tokenizer, texts, seq_len, num_proc):
    from datasets import Dataset

    data = Dataset.from_dict({"text": texts})
    mapped = data.map(lambda batch: tokenizer(batch["text"]), batched=True, remove_columns=["text"],
                      num_proc=num_proc if num_proc > 1 else None)
    return sum(len(ids) for ids in mapped["input_ids"]) + len(texts)  # + EOS each, as ours counts


def throughput(tokenizer, texts, seq_len: int, repeats: int) -> None:
    contenders = {"ours tokenize+pack, 1 proc": (ours, 1), "datasets.map tokenize, 1 proc": (plain_map, 1),
                  "ours tokenize+pack, 2 proc": (ours, 2), "datasets.map tokenize, 2 proc": (plain_map, 2)}
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    for repeat in range(repeats):
        for name, (fn, procs) in contenders.items():  # interleaved: load spikes hit every contender
            started = time.perf_counter()
            tokens = fn(tokenizer, texts, seq_len, procs)
            rates[name].append(tokens / (time.perf_counter() - started))
        print(f"  repeat {repeat + 1}/{repeats} done")
    print(f"\ntokens/s on {len(texts)} file units ({sum(map(len, texts)) / 1e6:.1f} M chars), median of {repeats}:")
    for name, values in rates.items():
        print(f"  {name:32s} {statistics.median(values):>12,.0f}   (runs: {', '.join(f'{v:,.0f}' for v in values)})")
    for procs in (1, 2):
        ratio = statistics.median(rates[f"ours tokenize+pack, {procs} proc"]) / statistics.median(
            rates[f"datasets.map tokenize, {procs} proc"])
        print(f"  ratio ours / datasets.map at {procs} proc: {ratio:.2f}x")


def efficiency(tokenizer, rows: list[dict]) -> None:
    from infrastructure.data.tokenization import tokenize_texts

    print("\nreal-token share (non-pad tokens / all row slots):")
    print(f"  {'units':16s} {'seq_len':>7s} {'packed':>8s} {'1 unit/row, cut':>16s} "
          f"{'pieces padded':>14s} {'pad to longest':>15s}")
    for kinds in (("file",), ("function", "method")):
        texts = [r["content"] for r in rows if r["kind"] in kinds]
        docs = tokenize_texts(tokenizer, texts)
        lengths = [len(d) + 1 for d in docs]
        longest = max(lengths)
        for seq_len in (256, 2048):
            packed = pack_documents(docs, seq_len, tokenizer.eos_token_id, tokenizer.pad_token_id).efficiency
            padded = pad_documents(docs, seq_len, tokenizer.eos_token_id, tokenizer.pad_token_id).efficiency
            cut = sum(min(n, seq_len) for n in lengths) / (len(lengths) * seq_len)  # truncate + pad
            to_longest = sum(lengths) / (len(lengths) * longest)
            print(f"  {'+'.join(kinds):16s} {seq_len:>7d} {packed:>8.2%} {cut:>16.2%} {padded:>14.2%} {to_longest:>15.2%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collection", type=Path, default=ROOT / "runs/demo/collection")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seq-len", type=int, default=2048)
    args = parser.parse_args()

    from datasets.utils.logging import disable_progress_bar

    from infrastructure.data.tokenization import train_bpe_tokenizer

    disable_progress_bar()
    rows = collection_rows(args.collection)
    texts = [r["content"] for r in rows if r["kind"] == "file"]
    started = time.perf_counter()
    tokenizer = train_bpe_tokenizer(texts, 8000)
    print(f"tokenizer: byte-level BPE, {len(tokenizer)} tokens, trained in {time.perf_counter() - started:.1f} s")
    throughput(tokenizer, texts, args.seq_len, args.repeats)
    efficiency(tokenizer, rows)


if __name__ == "__main__":
    main()
