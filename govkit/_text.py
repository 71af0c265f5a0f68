"""Stored text on its way to a terminal: control characters never reach it as such.

Metadata, dataset sources, group labels and audit payloads are free text chosen by
whoever registered them. Printed raw, an escape sequence in them could move the
cursor, retitle the terminal or hide a line. :func:`one_line` shows such text on one
line with each control character as U+FFFD (:func:`visible` keeps its line breaks);
:func:`json_text` writes JSON keeping the text whole and every control character
escaped (JSON itself escapes only C0).

Documents (model cards, letters) show the same text through :func:`document_text`:
control characters as U+FFFD, and the explicit bidirectional controls (U+202E RIGHT-TO-LEFT
OVERRIDE and the like, which would show "evil" as "live" with nothing to tell) as their
code point in brackets, ``[U+202E]``. :func:`printable_text` also writes emoji, which the
PDF's fonts lack (they were .notdef boxes, which PDF/A forbids), as their code points.
"""

from __future__ import annotations

import json
import re

__all__ = ["document_text", "json_text", "one_line", "printable_text", "visible"]

#: control characters a terminal could act on (escape sequences, bells, C1 controls)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
#: explicit bidirectional formatting characters (marks, embeddings, overrides, isolates)
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
#: an emoji with its skin-tone modifiers, variation selector and zero-width-joined parts
_EMOJI = re.compile(
    "[\U0001f000-\U0001faff](?:[\U0001f3fb-\U0001f3ff\ufe0f]|\u200d[\U0001f000-\U0001faff])*"
)
#: what json.dumps(ensure_ascii=False) leaves unescaped of them
_UNESCAPED = re.compile(r"[\x7f-\x9f]")


def visible(text: str) -> str:
    """``text`` with each control character but tab, LF and CR shown as U+FFFD."""
    return _CONTROL.sub("\ufffd", text)


def one_line(text: str) -> str:
    """``text`` on one line, each control character shown as U+FFFD."""
    return " ".join(visible(text).split())


def _code_points(match: re.Match[str]) -> str:
    return "[" + " ".join(f"U+{ord(c):04X}" for c in match[0]) + "]"


def document_text(text: str) -> str:
    """``text`` for a document: control characters (but tab, LF, CR) as U+FFFD, bidi
    controls as ``[U+202E]``, so neither acts on the text around them."""
    return _BIDI.sub(_code_points, visible(text))


def printable_text(text: str) -> str:
    """:func:`document_text`, and each emoji (with its modifiers) as ``[U+1F469 U+1F3FD]``:
    for the PDF, whose fonts have no emoji."""
    return _EMOJI.sub(_code_points, document_text(text))


def json_text(data: object, *, indent: int | None = 2, sort_keys: bool = False) -> str:
    """``data`` as JSON with non-ASCII text as it is, DEL and C1 controls escaped too
    (they occur only inside strings, so escaping them keeps the document's meaning).
    NaN and infinities are refused (``ValueError``), as JSON has none."""
    text = json.dumps(data, indent=indent, sort_keys=sort_keys, ensure_ascii=False, allow_nan=False)
    return _UNESCAPED.sub(lambda m: f"\\u{ord(m[0]):04x}", text)
