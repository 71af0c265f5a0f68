"""The mark for tests that read PDFs with poppler-utils (pdftotext, pdftoppm).

``make test`` installs poppler-utils, so in the suite and in CI these tests run;
the mark only names what a bare checkout without it is missing.
"""

from __future__ import annotations

import shutil

import pytest

needs_poppler = pytest.mark.skipif(
    shutil.which("pdftoppm") is None or shutil.which("pdftotext") is None,
    reason="poppler-utils (pdftoppm, pdftotext) not installed",
)
