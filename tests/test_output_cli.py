"""CI output of a real gate run on the Adult example: through ``govkit check`` and the API."""

from __future__ import annotations

import json
import shutil

import pytest
from _output_samples import parse_workflow_commands, run_hook, validate_junit, validate_sarif
from typer.testing import CliRunner

from govkit.cli._app import app
from govkit.output import render, write_step_summary
from govkit.policy import load_policy

HGB_TYPE = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"

META = """\
owner: team@example.org
contact: risk@example.org
intended_use: tests
target: income
positive_label: ">50K"
sensitive_features: [sex, race]
"""

# a team policy on top of a built-in pack; accuracy is set out of reach so the gate fails
POLICY = """\
schema_version: 1
name: team-gate
extends: eeoc-four-fifths
rules:
  - id: accuracy
    kind: performance
    metric: accuracy
    threshold: {min: 0.99}
    description: Deliberately strict, so that the gate fails.
  - id: dp-sex
    kind: fairness
    metric: demographic_parity_ratio
    sensitive_features: [sex]
    threshold: {min: 0.8}
    severity: warning
  - id: fingerprint
    kind: lineage
    requirement: data_fingerprint
"""


def _run(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture(scope="module")
def registry(tmp_path_factory, adult_files):
    folder = tmp_path_factory.mktemp("ci-output")
    db = f"sqlite:///{folder / 'govkit.db'}"
    (folder / "meta.yaml").write_text(META)
    model = folder / "model.skops"
    shutil.copy(adult_files["model"], model)
    for name, key in (("adult-train", "train"), ("adult-test", "test")):
        r = _run("dataset", "register", str(adult_files[key]), "--name", name, "--db", db)
        assert r.exit_code == 0, r.output
    r = _run(
        "model", "register", str(model), "--name", "credit", "--training-data", "adult-train",
        "--evaluation-data", "adult-test@1", "--meta", str(folder / "meta.yaml"),
        "--trust-type", HGB_TYPE, "--db", db,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    return {"db": db, "test": adult_files["test"], "folder": folder}


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """A repository checkout as the working directory, with the policy under policies/."""
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "team.yaml").write_text(POLICY)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_gate_writes_every_ci_format_at_once(registry, checkout):
    r = _run(
        "check", "policies/team.yaml", "--model", "credit", "--data", str(registry["test"]),
        "--trust-type", HGB_TYPE, "--db", registry["db"],
        "--output", "junit=report.xml", "--output", "sarif=govkit.sarif",
        "--output", "markdown=comment.md", "--output", "github=annotations.txt",
    )  # fmt: skip
    assert r.exit_code == 1, r.output
    assert "verdict FAIL" in r.stdout
    suite = validate_junit((checkout / "report.xml").read_text()).find("testsuite")
    assert suite.get("name") == "team-gate"
    failed = [c.get("name") for c in suite.findall("testcase") if c.find("failure") is not None]
    assert "accuracy" in failed and suite.get("failures") == str(len(failed))
    names = [c.get("name") for c in suite.findall("testcase")]
    assert names == ["eeoc-impact-ratio-sex", "eeoc-impact-ratio-race", "accuracy", "dp-sex",
                     "fingerprint"]  # fmt: skip
    log = validate_sarif((checkout / "govkit.sarif").read_text())
    results = {r["ruleId"]: r for r in log["runs"][0]["results"]}
    assert results["accuracy"]["level"] == "error"
    uri = results["accuracy"]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "policies/team.yaml"
    assert "| \u274c FAIL | accuracy |" in (checkout / "comment.md").read_text()
    commands = parse_workflow_commands((checkout / "annotations.txt").read_text())
    assert ("error", "govkit FAIL: accuracy") in [(n, p["title"]) for n, p, _ in commands]


def test_with_the_loaded_policy_findings_point_at_rule_lines(registry, checkout):
    """What ``govkit check`` gives once it passes the loaded policy to ``render``."""
    from govkit.store import Store
    from govkit.workflows import check

    with Store.open(registry["db"]) as store:
        outcome = check(
            "policies/team.yaml",
            model="credit",
            data=registry["test"],
            store=store,
            trusted_types=[HGB_TYPE],
            record=False,
        )
    loaded = load_policy("policies/team.yaml")
    result = outcome.result
    log = validate_sarif(render(result, "sarif", policy=loaded))
    lines = {
        r["ruleId"]: r["locations"][0]["physicalLocation"].get("region", {}).get("startLine")
        for r in log["runs"][0]["results"]
    }
    # Adult: the model fails the four-fifths rule by sex and race and misses 99% accuracy
    assert lines == {
        "eeoc-impact-ratio-sex": _line(POLICY, "extends:"),  # from the built-in pack
        "eeoc-impact-ratio-race": _line(POLICY, "extends:"),
        "accuracy": _line(POLICY, "- id: accuracy"),
        "dp-sex": _line(POLICY, "- id: dp-sex"),
    }

    commands = parse_workflow_commands(render(result, "github", policy=loaded))
    (accuracy,) = [p for _, p, _ in commands if p["title"] == "govkit FAIL: accuracy"]
    assert accuracy == {
        "file": "policies/team.yaml",
        "line": str(_line(POLICY, "- id: accuracy")),
        "title": "govkit FAIL: accuracy",
    }
    summary = checkout / "summary.md"
    assert write_step_summary(result, policy=loaded, environ={"GITHUB_STEP_SUMMARY": str(summary)})
    assert "**Verdict: FAIL**, gate failed" in summary.read_text()
    data = json.loads(render(result, "json", policy=loaded))
    assert data["status"] == "FAIL" and data["exit_code"] == 1


def test_pre_commit_gate_hook_runs_the_gate(registry, checkout):
    env = {
        "GOVKIT_MODEL": "credit@1",
        "GOVKIT_EVAL_DATA": str(registry["test"]),
        "GOVKIT_DATABASE_URL": registry["db"],
        "GOVKIT_CHECK_ARGS": f"--trust-type {HGB_TYPE}",
    }
    r = run_hook("govkit-gate", ["policies/team.yaml"], env, checkout)
    assert r.returncode == 1, r.stderr
    assert "verdict FAIL" in r.stdout


def test_cli_gives_rule_lines_and_the_step_summary(registry, checkout, monkeypatch):
    summary = checkout / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    r = _run(
        "check", "policies/team.yaml", "--model", "credit", "--data", str(registry["test"]),
        "--trust-type", HGB_TYPE, "--db", registry["db"],
        "--output", "sarif=govkit.sarif", "--format", "github",
    )  # fmt: skip
    assert r.exit_code == 1, r.output
    (accuracy,) = [p for n, p, _ in parse_workflow_commands(r.stdout) if "accuracy" in p["title"]]
    assert accuracy["line"] == str(_line(POLICY, "- id: accuracy"))
    log = validate_sarif((checkout / "govkit.sarif").read_text())
    (result,) = [x for x in log["runs"][0]["results"] if x["ruleId"] == "accuracy"]
    region = result["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": _line(POLICY, "- id: accuracy")}
    assert "| \u274c FAIL | accuracy |" in summary.read_text()


def _umask() -> int:
    import os

    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_dash_sends_one_format_to_stdout(registry, checkout):
    # sarif=- wrote a file named '-'
    r = _run(
        "check", "policies/team.yaml", "--model", "credit", "--data", str(registry["test"]),
        "--trust-type", HGB_TYPE, "--db", registry["db"],
        "--output", "sarif=-", "--output", "junit=report.xml",
    )  # fmt: skip
    assert r.exit_code == 1, r.output
    log = validate_sarif(r.stdout)  # stdout is the SARIF log alone, not the text report
    assert {res["ruleId"] for res in log["runs"][0]["results"]} >= {"accuracy"}
    assert not (checkout / "-").exists()
    # reports are public: the mode any new file gets, not the temp file's 0600
    mode = (checkout / "report.xml").stat().st_mode & 0o777
    assert mode == 0o666 & ~_umask(), oct(mode)


@pytest.mark.parametrize("second", ["json=-", "-"])
def test_two_formats_for_stdout_are_refused(registry, checkout, second):
    r = _run(
        "check", "policies/team.yaml", "--model", "credit", "--data", str(registry["test"]),
        "--db", registry["db"], "--output", "sarif=-", "--output", second,
    )  # fmt: skip
    assert r.exit_code == 2, r.output
    assert r.stderr == (
        f"govkit: error: --output {second}: a second format for stdout ('-'); one format can "
        "go to stdout, write the others to files\n"
    )
