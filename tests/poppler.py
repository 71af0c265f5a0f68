"""Reading PDFs with poppler-utils (pdftotext), and the mark for tests that do.

``make test`` installs poppler-utils, so in the suite and in CI these tests run;
the mark only names what a bare checkout without it is missing.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess

import pytest

needs_poppler = pytest.mark.skipif(
    shutil.which("pdftoppm") is None or shutil.which("pdftotext") is None,
    reason="poppler-utils (pdftoppm, pdftotext) not installed",
)

_NUMBER = r'"([\d.]+)"'
_WORD = re.compile(
    f"<word xMin={_NUMBER} yMin={_NUMBER} xMax={_NUMBER} yMax={_NUMBER}>([^<]*)</word>"
)


def pdftotext(pdf: bytes, *options: str) -> str:
    """The text pdftotext reads from ``pdf``, with ``options`` (``-layout``, ``-f 1 -l 1``, ...);
    pages are separated by form feeds."""
    return subprocess.run(
        ["pdftotext", *options, "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()


def pdf_words(pdf: bytes, *options: str) -> list[tuple[str, float, float, float, float]]:
    """Every word pdftotext finds in ``pdf``: (text, x_min, y_min, x_max, y_max), in pt."""
    return [
        (html.unescape(word), float(x0), float(y0), float(x1), float(y1))
        for x0, y0, x1, y1, word in _WORD.findall(pdftotext(pdf, "-bbox", *options))
    ]
