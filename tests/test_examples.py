"""Every file in examples/ runs in the tests."""

from __future__ import annotations

import hashlib
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
    # the model's trail, newest first: the cards, the policy run, the registration
    trail = out[out.index("$ govkit audit log") :]
    assert trail.index("card.rendered  model:credit-model@1") < trail.index("policy.run  model:")
    assert "model.registered  model:credit-model@1" in trail
    # the filed PDF card found by its digest, with the policy run it reports
    pdf = hashlib.sha256((tmp_path / "demo" / "credit-model-card.pdf").read_bytes()).hexdigest()
    found = out[out.index("$ govkit audit find") :]
    assert f"sha256 {pdf}" in found and "recorded by event #" in found
    assert "it reports the policy run of event #" in found
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


@pytest.mark.slow
def test_the_python_api_example_runs_and_its_numbers_are_the_models(tmp_path):
    """examples/credit/python_api.py: the CLI's job through govkit.register_* / check / card /
    explain / letter; the gate's four-fifths value is fairlearn's, the decision's score the
    model's own probability."""
    import pandas as pd
    import skops.io as sio
    from fairlearn.metrics import demographic_parity_ratio
    from pypdf import PdfReader

    work = tmp_path / "work"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "credit" / "python_api.py"), "--workdir", work],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((work / "summary.json").read_text())
    assert "audit chain: intact" in proc.stdout

    from demo import FEATURES_CAT, FEATURES_NUM, TRUST_TYPE

    model = sio.loads((work / "credit-model.skops").read_bytes(), trusted=[TRUST_TYPE])
    test = pd.read_csv(work / "adult_test.csv")
    predicted = model.predict(test[FEATURES_CAT + FEATURES_NUM])
    expected = demographic_parity_ratio(
        test["income"] == ">50K", predicted == ">50K", sensitive_features=test["sex"]
    )
    four_fifths = summary["checks"]["four-fifths-sex"]
    assert four_fifths["value"] == pytest.approx(expected, abs=1e-12)
    assert four_fifths["status"] == ("PASS" if expected >= 0.8 else "FAIL")
    assert summary["exit_code"] == (0 if summary["status"] in ("PASS", "WARN") else 1)

    applicant = json.loads((ROOT / "examples" / "credit" / "applicant.json").read_text())
    row = pd.DataFrame([applicant])[FEATURES_CAT + FEATURES_NUM]
    proba = model.predict_proba(row)[0, list(model.classes_).index(">50K")]
    decision = summary["decision"]
    assert decision["explanation"]["score"] == pytest.approx(proba, abs=1e-12)
    letter = PdfReader(work / "decision-letter.pdf")
    text = " ".join(" ".join(p.extract_text() for p in letter.pages).split())
    assert decision["decision_id"] in text
    card = PdfReader(work / "credit-model-card.pdf")
    assert "credit-model@1" in card.pages[0].extract_text()
