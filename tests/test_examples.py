"""Every file in examples/ runs in the tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_credit_demo_runs_end_to_end(tmp_path):
    """`make demo`'s script: every step through the real CLI, honest about the verdict."""
    db = f"sqlite:///{tmp_path / 'govkit.db'}"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "credit" / "demo.py"),
            "--workdir",
            str(tmp_path / "demo"),
            "--db",
            db,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    # the model reproduces the 1994 income gap: the four-fifths rule by sex fails, and the
    # demo says so (exit code 1 of the gate), while the demo itself succeeds
    assert "FAIL  four-fifths-sex" in out
    assert "The gate FAILED (exit code 1)" in out
    assert "audit chain intact" in out
    report = json.loads((tmp_path / "demo" / "check.json").read_text())
    assert report["status"] == "FAIL"
    statuses = {c["rule_id"]: c["status"] for c in report["checks"]}
    assert statuses["explanation-coverage"] == "PASS"
    assert statuses["evaluation-data-fingerprint"] == "PASS"
    assert (tmp_path / "demo" / "credit-model-card.pdf").read_bytes().startswith(b"%PDF-")
    assert "credit-model@1" in (tmp_path / "demo" / "credit-model-card.html").read_text()
    assert (tmp_path / "govkit.db").exists()  # the demo wrote to --db
    # the decision letter for examples/credit/applicant.json
    from pypdf import PdfReader

    letter = tmp_path / "demo" / "decision-letter.pdf"
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(letter).pages).split())
    assert "referred for manual review" in text
    assert "Your marital status (Never-married) lowered the score the most." in text
    assert "model-risk@example.org" in text
    assert "recorded at audit sequence" in proc.stderr


def test_decision_fixtures_are_reproducible(tmp_path):
    """examples/policies/make_decisions.py regenerates the shipped files byte for byte."""
    folder = ROOT / "examples" / "policies"
    shipped = {
        f: (folder / f).read_bytes()
        for f in ("decisions_single_threshold.csv", "decisions_group_thresholds.csv")
    }
    script = (folder / "make_decisions.py").read_text()
    copy = tmp_path / "make_decisions.py"
    copy.write_text(
        script.replace(
            'sys.path.insert(0, str(HERE.parent / "credit"))',
            f"sys.path.insert(0, {str(ROOT / 'examples' / 'credit')!r})",
        )
    )
    subprocess.run([sys.executable, str(copy)], check=True, cwd=tmp_path)
    for name, content in shipped.items():
        assert (tmp_path / name).read_bytes() == content, name
