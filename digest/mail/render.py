"""Render emails from templates/email/<name>/{subject.txt, body.txt, body.html}.

Plain Jinja2 (no Flask), so jobs can render too. HTML templates autoescape; text templates
do not, but their values never reach HTML. CSS is inlined because mail clients drop
<style> blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import css_inline
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from digest.config import TEMPLATES_DIR
from digest.mail.headers import header_text


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # Templates do not change while a process runs; checking their files on every
        # render cost a tenth of a digest build with topic selections.
        auto_reload=False,
    )
    return env


@lru_cache(maxsize=1)
def _inliner() -> Any:
    return css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)


def inline_css(html: str) -> str:
    result: str = _inliner().inline(html)
    return result


def render_email(name: str, **context: Any) -> RenderedEmail:
    env = environment()
    subject = env.get_template(f"email/{name}/subject.txt").render(context)
    text = env.get_template(f"email/{name}/body.txt").render(context)
    html = env.get_template(f"email/{name}/body.html").render(context)
    return RenderedEmail(subject=header_text(subject), text=tidy_text(text), html=inline_css(html))


def tidy_text(text: str) -> str:
    lines = [line.rstrip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if line == "" and out and out[-1] == "":
            continue
        out.append(line)
    return "\n".join(out).strip() + "\n"
