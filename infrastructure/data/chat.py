"""Chat templates: the shipped ones (`chatml`), a user's `.jinja` file, or the tokenizer's own.

A template is set on the dataset's tokenizer, so `tokenizer/` saves it (`chat_template.jinja`)
and train, evaluate and generate render conversations exactly as the dataset did.
"""
from __future__ import annotations

import re
from pathlib import Path

from application.dataset.instruct import ChatFormat
from domain.errors import DatasetError

TEMPLATES_DIR = Path(__file__).parent / "chat_templates"
TEMPLATES = tuple(sorted(p.stem for p in TEMPLATES_DIR.glob("*.jinja")))
# Tokens written like `<|im_start|>` in a template: they must be single special tokens.
_SPECIAL = re.compile(r"<\|[A-Za-z0-9_]+\|>")


def load_chat_template(spec: str) -> tuple[str, tuple[str, ...]]:
    """(template text, the special tokens it writes) for `chatml` or a `.jinja` file."""
    import jinja2

    path = TEMPLATES_DIR / f"{spec}.jinja" if spec in TEMPLATES else Path(spec).expanduser()
    if not path.is_file():
        raise DatasetError(f"--chat-template {spec}: not a shipped template ({', '.join(TEMPLATES)}) "
                           f"or a .jinja file")
    text = path.read_text(encoding="utf-8")
    try:
        jinja2.Environment().parse(text)
    except jinja2.TemplateSyntaxError as exc:
        raise DatasetError(f"--chat-template {spec}: line {exc.lineno}: {exc.message}") from None
    return text, tuple(dict.fromkeys(_SPECIAL.findall(text)))


def chat_format(tokenizer, template: str | None) -> ChatFormat | None:
    """Set `template` on the tokenizer (None: keep its own); None when it then has no template."""
    if template:
        tokenizer.chat_template = template
    if not getattr(tokenizer, "chat_template", None):
        return None

    from transformers.utils.chat_template_utils import render_jinja_template

    def render(messages: list[dict], add_generation_prompt: bool) -> str:
        # What `apply_chat_template(tokenize=False)` renders, minus its refusal of an empty
        # conversation: the generation prompt alone is what comes before a first assistant turn.
        rendered, _ = render_jinja_template([messages], chat_template=tokenizer.chat_template,
                                            add_generation_prompt=add_generation_prompt, **tokenizer.special_tokens_map)
        return rendered[0]

    return ChatFormat(render=render, stop_tokens=tuple(tokenizer.all_special_tokens))


def end_of_turn(chat: ChatFormat) -> str | None:
    """The special token that closes an assistant turn (`<|im_end|>` in ChatML), if any."""
    probe = [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]
    text = chat.render(probe, False)
    tail = text[len(chat.render(probe[:1], True)):]
    found = [(tail.find(s), s) for s in chat.stop_tokens if tail.find(s) >= 0]
    return min(found)[1] if found else None
