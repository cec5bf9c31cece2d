"""generate: try a trained model — a prompt in, the prompt and its completion streamed out.

The model side (loading, sampling, token streaming) is passed in as a `Streamer`, so the same
use case serves `--run`, `--model [--adapter]` and any other way of finding a model folder.
Stop sequences are cut here, on the streamed text, before anything reaches the user.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Protocol

from domain.errors import EvaluationError


@dataclass(frozen=True)
class GenerateRequest:
    """One generation."""

    prompt: str
    """Text to complete (with a chat template: the user's message)."""
    max_new_tokens: int = 128
    """Longest completion, in tokens."""
    temperature: float = 0.0
    """0 means greedy decoding."""
    top_p: float = 0.95
    """Nucleus sampling mass (sampling only)."""
    stops: tuple[str, ...] = ()
    """The completion ends before the first of these strings."""
    seed: int = 0
    """Sampling seed: the same request draws the same completion."""

    def __post_init__(self):
        if not self.prompt:
            raise EvaluationError("generate: the prompt is empty (give --prompt TEXT or --file F)")
        if self.max_new_tokens < 1:
            raise EvaluationError(f"generate: --max-new-tokens {self.max_new_tokens}: must be at least 1")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise EvaluationError(f"generate: temperature {self.temperature} / top_p {self.top_p} out of range "
                                  f"(temperature >= 0, 0 < top_p <= 1)")


class Streamer(Protocol):
    """A loaded model that streams completions (infrastructure/evaluation/generation.TextGenerator)."""

    chat: bool
    """True when the tokenizer carries a chat template (prompts are then wrapped as messages)."""

    def stream(self, prompt: str | list[dict], request: GenerateRequest) -> Iterator[str]:
        """Pieces of the completion of `prompt` (text, or chat messages), in order."""
        ...


def cut_at_stops(pieces: Iterable[str], stops: Iterable[str]) -> Iterator[str]:
    """Pass streamed text through, ending just before the first stop string.

    Text that might be the start of a stop string is held back until the next piece decides
    it, so nothing past a stop is ever emitted.
    """
    stops = [s for s in stops if s]
    hold = max((len(s) for s in stops), default=1) - 1
    pending = ""
    for piece in pieces:
        pending += piece
        cut = min((i for i in (pending.find(s) for s in stops) if i >= 0), default=-1)
        if cut >= 0:
            if cut:
                yield pending[:cut]
            return
        safe = len(pending) - hold
        if safe > 0:
            yield pending[:safe]
            pending = pending[safe:]
    if pending:
        yield pending


def generate(request: GenerateRequest, streamer: Streamer, write: Callable[[str], None]) -> str:
    """Write the prompt, then its completion piece by piece as it is generated; return the completion."""
    prompt = [{"role": "user", "content": request.prompt}] if streamer.chat else request.prompt
    write(request.prompt + ("\n" if streamer.chat else ""))  # a chat reply starts on its own line
    completion = []
    for piece in cut_at_stops(streamer.stream(prompt, request), request.stops):
        completion.append(piece)
        write(piece)
    return "".join(completion)


def require_chat(streamer: Streamer) -> None:
    if not streamer.chat:
        raise EvaluationError("--chat needs a model whose tokenizer has a chat template "
                              "(this one completes text: use --prompt)")


def chat(request: GenerateRequest, streamer: Streamer, read: Callable[[], str | None],
         write: Callable[[str], None]) -> list[dict]:
    """An interactive conversation: each line read is a user turn, each reply is streamed.

    `read` returns None at the end of input. Returns the conversation.
    """
    require_chat(streamer)
    messages: list[dict] = []
    while (line := read()) is not None:
        if not line.strip():
            continue
        messages.append({"role": "user", "content": line})
        reply = "".join(write(p) or p for p in cut_at_stops(streamer.stream(messages, request), request.stops))
        write("\n")
        messages.append({"role": "assistant", "content": reply})
    return messages
