"""Golden files: each format's exact output for one result with every status.

After an intended change, regenerate with ``GOVKIT_UPDATE_GOLDEN=1 pytest
tests/test_output_golden.py`` and review the diff of ``tests/golden/output/``.
"""

from __future__ import annotations

import os

import pytest
from _output_samples import (
    GOLDEN,
    ROOT,
    golden_policy,
    golden_result,
    validate_junit,
    validate_sarif,
)

from govkit.output import FORMATS, render

EXTENSIONS = {
    "text": "txt",
    "json": "json",
    "junit": "xml",
    "sarif": "sarif",
    "github": "github.txt",
    "markdown": "md",
}


def test_every_format_has_a_golden_file():
    assert set(EXTENSIONS) == set(FORMATS)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_output_matches_the_golden_file(fmt, monkeypatch):
    monkeypatch.chdir(ROOT)
    policy = golden_policy()
    out = render(golden_result(policy), fmt, policy=policy)
    golden = GOLDEN / f"result.{EXTENSIONS[fmt]}"
    if os.environ.get("GOVKIT_UPDATE_GOLDEN"):
        golden.write_bytes(out.encode("utf-8"))
    assert out == golden.read_bytes().decode("utf-8")


def test_golden_files_are_valid_documents():
    validate_junit((GOLDEN / "result.xml").read_text(encoding="utf-8"))
    validate_sarif((GOLDEN / "result.sarif").read_text(encoding="utf-8"))
