"""The generate use case: stop strings cut on streamed text, chat turns, with a fake streamer."""
from __future__ import annotations

import pytest

from application.runs.generate import GenerateRequest, chat, cut_at_stops, generate
from domain.errors import EvaluationError


class FakeStreamer:
    """Replies with fixed pieces and records the prompts it saw."""

    def __init__(self, pieces, chat=False):
        self.pieces, self.chat, self.prompts = pieces, chat, []

    def stream(self, prompt, request):
        self.prompts.append(prompt if isinstance(prompt, str) else [dict(m) for m in prompt])
        yield from self.pieces


@pytest.mark.parametrize("pieces, stops, expected", [
    (["ab", "c\nde", "f"], ("\nd",), "abc"),
    (["ab", "c\n", "def"], ("\nd",), "abc"),  # the stop straddles two pieces
    (["abc"], ("zz",), "abc"),
    (["a", "b"], (), "ab"),
    (["\ndef x"], ("\ndef",), ""),
])
def test_cut_at_stops(pieces, stops, expected):
    assert "".join(cut_at_stops(pieces, stops)) == expected


def test_nothing_past_a_stop_is_emitted_even_piece_by_piece():
    emitted = list(cut_at_stops(["x = 1", "\n", "\n", "def", " g"], ("\n\ndef",)))
    assert emitted and "".join(emitted) == "x = 1"


def test_generate_writes_prompt_then_completion():
    out = []
    completion = generate(GenerateRequest("def f(", stops=("\n\n",)), FakeStreamer(["x):", "\n  ", "pass\n\nz"]),
                          out.append)
    assert "".join(out) == "def f(x):\n  pass" and completion == "x):\n  pass"


def test_chat_keeps_the_conversation_and_a_chat_model_gets_messages():
    streamer = FakeStreamer(["hi"], chat=True)
    lines = iter(["hello", "", "again", None])
    out = []
    messages = chat(GenerateRequest(" "), streamer, read=lambda: next(lines), write=out.append)
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert streamer.prompts[1] == [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi"},
                                   {"role": "user", "content": "again"}]
    assert "".join(out) == "hi\nhi\n"


def test_bad_requests_name_the_value():
    with pytest.raises(EvaluationError, match="prompt is empty"):
        GenerateRequest("")
    with pytest.raises(EvaluationError, match="top_p 0"):
        GenerateRequest("x", top_p=0)
