"""Instruction tuning: records -> segments of text, each trained or not -> masked rows.

A record becomes a list of `(text, trained)` segments. Only completions, assistant turns and
the token that ends them are trained; prompts, system and user turns are context. Each segment
is tokenized on its own, so a token never straddles a prompt and its completion and decoding
the trained tokens gives back exactly the trained text.

Conversations go through a chat template. The assistant turn `i` is found as the text the
template adds between rendering `messages[:i]` with the generation prompt and rendering
`messages[:i+1]`; the first special token after the turn's content (`<|im_end|>` in ChatML)
ends it and is trained too, so the model learns to stop.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Callable, Sequence

from application.dataset.formats import record_text
from application.dataset.packing import pack_masked, pad_masked
from application.dataset.splits import SPLITS
from domain.errors import DatasetError

Segments = list[tuple[str, bool]]

# Stanford Alpaca's prompt, for Alpaca rows when no chat template is in use.
ALPACA_WITH_INPUT = ("Below is an instruction that describes a task, paired with an input that provides further "
                     "context. Write a response that appropriately completes the request.\n\n"
                     "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n")
ALPACA_NO_INPUT = ("Below is an instruction that describes a task. Write a response that appropriately completes "
                   "the request.\n\n### Instruction:\n{instruction}\n\n### Response:\n")


@dataclass(frozen=True)
class ChatFormat:
    """A chat template as the instruct rows need it."""

    render: Callable[[list[dict], bool], str]
    """(messages, add_generation_prompt) -> the template's text."""
    stop_tokens: tuple[str, ...]
    """Special tokens; the first one after an assistant turn's content ends that turn."""


def alpaca_messages(record: dict) -> list[dict]:
    user = record["instruction"] + (f"\n\n{record['input']}" if record["input"] else "")
    system = [{"role": "system", "content": record["system"]}] if record.get("system") else []
    return [*system, {"role": "user", "content": user}, {"role": "assistant", "content": record["output"]}]


def record_segments(record: dict, chat: ChatFormat | None, eos: str, where: str = "") -> Segments:
    """The segments of one record; plain texts and completions end with `eos` (trained)."""
    fmt = record["format"]
    if fmt == "text":
        return [(record["text"] + eos, True)]
    if fmt == "prompt_completion":
        return [(record["prompt"], False), (record["completion"] + eos, True)]
    if fmt == "alpaca" and chat is None:
        template = ALPACA_WITH_INPUT if record["input"] else ALPACA_NO_INPUT
        return [(template.format(**record), False), (record["output"] + eos, True)]
    if chat is None:
        raise DatasetError("conversation rows need a chat template and the tokenizer has none: "
                           "pass --chat-template chatml (or FILE.jinja)")
    messages = alpaca_messages(record) if fmt == "alpaca" else record["messages"]
    return chat_segments(messages, chat, where)


def training_text(record: dict) -> str:
    """What a tokenizer trained for these rows should see of a record (conversations without
    their template: the template's own tokens are special tokens)."""
    if record["format"] == "messages":
        return record_text(record)
    return "".join(text for text, _ in record_segments(record, None, ""))


def chat_segments(messages: list[dict], chat: ChatFormat, where: str = "") -> Segments:
    """The rendered conversation cut into context and assistant turns (+ their end token)."""
    full = chat.render(messages, False)
    segments: Segments = []
    done = 0  # characters of `full` already assigned
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        head = chat.render(messages[:index], True)
        turn = chat.render(messages[: index + 1], False)
        if not (turn.startswith(head) and full.startswith(turn)) or len(head) < done:
            raise DatasetError(f"{where}: the chat template renders a conversation's start differently from the "
                               f"whole, so assistant turns cannot be told apart (use another --chat-template)")
        region, content = turn[len(head):], message["content"].strip()
        start = region.find(content) if content else 0
        if start < 0:
            raise DatasetError(f"{where}: the chat template rewrites assistant message {index + 1}, "
                               f"so its tokens cannot be found (use another --chat-template)")
        end = start + len(content)
        stops = [(region.find(s, end), s) for s in chat.stop_tokens if region.find(s, end) >= 0]
        if stops:
            at, stop = min(stops)
            end = at + len(stop)
        segments += [(full[done:len(head) + start], False), (region[start:end], True)]
        done = len(head) + end
    segments.append((full[done:], False))
    return [(text, trained) for text, trained in segments if text]


def masked_docs(segments: Sequence[Segments], ids: Sequence[Sequence[int]]) -> list[tuple[list[int], list[bool]]]:
    """Regroup the token ids of every segment (in order) into one (ids, trained) per document."""
    docs, at = [], 0
    for parts in segments:
        tokens: list[int] = []
        trained: list[bool] = []
        for text, keep in parts:
            tokens += ids[at]
            trained += [keep] * len(ids[at])
            at += 1
        docs.append((tokens, trained))
    return docs


def fit(docs, seq_len: int) -> tuple[list, int, int]:
    """Documents cut to `seq_len` (keeping their start), without those left with nothing trained.

    Returns (kept documents, how many were cut, how many were dropped)."""
    kept, cut, dropped = [], 0, 0
    for tokens, trained in docs:
        if len(tokens) > seq_len:
            tokens, trained, cut = tokens[:seq_len], trained[:seq_len], cut + 1
        if any(trained[1:]):  # the first token is never a target
            kept.append((tokens, trained))
        else:
            dropped += 1
    return kept, cut, dropped


def instruct_rows(splits: dict[str, list[dict]], request, tokenizer, tools, chat: ChatFormat | None) -> tuple[dict, dict]:
    """Masked rows for every split: packed best-fit with per-document `position_ids`, or padded."""
    segments = {name: [record_segments(u["record"], chat, tokenizer.eos_token, u["path"]) for u in splits[name]]
                for name in SPLITS}
    texts = [text for name in SPLITS for parts in segments[name] for text, _ in parts]
    flat = tools.tokenize(tokenizer, texts, request.num_proc)
    tables, at = {}, 0
    stats = {"tokens": {}, "trained_tokens": {}, "packing_efficiency": {}, "truncated_documents": {},
             "dropped_documents": {}, "formats": {}}
    for name in SPLITS:
        count = sum(len(parts) for parts in segments[name])
        docs, cut, dropped = fit(masked_docs(segments[name], flat[at:at + count]), request.seq_len)
        at += count
        if name == "train" and dropped and not docs:
            raise DatasetError(f"--seq-len {request.seq_len}: every training document loses all its completion or "
                               f"assistant tokens when cut to this length; raise --seq-len")
        layout = (pack_masked if request.pack else pad_masked)(docs, request.seq_len, tokenizer.pad_token_id)
        values = {"seq_lengths": layout.segments} if layout.segments else {}
        tables[name] = {"row_len": request.seq_len, "sequences": layout.columns, "values": values}
        stats["tokens"][name] = layout.real_tokens
        stats["trained_tokens"][name] = sum(sum(trained[1:]) for _, trained in docs)
        stats["packing_efficiency"][name] = round(layout.efficiency, 4)
        stats["truncated_documents"][name], stats["dropped_documents"][name] = cut, dropped
        stats["formats"][name] = dict(Counter(u["record"]["format"] for u in splits[name]))
    return tables, stats
