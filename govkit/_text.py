"""Stored text on its way to a terminal: control characters never reach it as such.

Metadata, dataset sources, group labels and audit payloads are free text chosen by
whoever registered them. Printed raw, an escape sequence in them could move the
cursor, retitle the terminal or hide a line. :func:`one_line` shows such text on one
line with each control character as U+FFFD (:func:`visible` keeps its line breaks);
:func:`json_text` writes JSON keeping the text whole and every control character
escaped (JSON itself escapes only C0).
"""

from __future__ import annotations

import json
import re

__all__ = ["json_text", "one_line", "visible"]

#: control characters a terminal could act on (escape sequences, bells, C1 controls)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
#: what json.dumps(ensure_ascii=False) leaves unescaped of them
_UNESCAPED = re.compile(r"[\x7f-\x9f]")


def visible(text: str) -> str:
    """``text`` with each control character but tab, LF and CR shown as U+FFFD."""
    return _CONTROL.sub("\ufffd", text)


def one_line(text: str) -> str:
    """``text`` on one line, each control character shown as U+FFFD."""
    return " ".join(visible(text).split())


def json_text(data: object, *, indent: int | None = 2, sort_keys: bool = False) -> str:
    """``data`` as JSON with non-ASCII text as it is, DEL and C1 controls escaped too
    (they occur only inside strings, so escaping them keeps the document's meaning).
    NaN and infinities are refused (``ValueError``), as JSON has none."""
    text = json.dumps(data, indent=indent, sort_keys=sort_keys, ensure_ascii=False, allow_nan=False)
    return _UNESCAPED.sub(lambda m: f"\\u{ord(m[0]):04x}", text)
