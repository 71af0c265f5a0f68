"""examples/ci: the GitHub Actions workflow and the pre-commit hooks parse, agree and run."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml
from _output_samples import hooks, run_hook

from govkit.output import FORMATS

ROOT = Path(__file__).resolve().parent.parent
CI = ROOT / "examples" / "ci"


def _workflow() -> dict:
    return yaml.safe_load((CI / "github-actions.yml").read_text(encoding="utf-8"))


def _hooks() -> list[dict]:
    return hooks()


def test_workflow_runs_the_gate_with_every_ci_output():
    wf = _workflow()
    triggers = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` key as true
    assert set(triggers) == {"pull_request", "push"}
    assert wf["permissions"]["security-events"] == "write"
    steps = wf["jobs"]["gate"]["steps"]
    (gate,) = [s for s in steps if "govkit check" in s.get("run", "")]
    args = shlex.split(gate["run"])
    assert args[:3] == ["govkit", "check", "policies/credit-scoring.yaml"]
    outputs = dict(args[i + 1].split("=", 1) for i, a in enumerate(args) if a == "--output")
    assert outputs == {"sarif": "govkit.sarif", "junit": "report.xml"}
    assert args[args.index("--format") + 1] == "github"
    assert set(outputs) <= set(FORMATS)
    (upload,) = [
        s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif")
    ]
    assert upload["with"]["sarif_file"] == outputs["sarif"]
    assert "!cancelled()" in upload["if"]  # uploads after a failed gate too
    installs = [s["run"] for s in steps if "pip install" in s.get("run", "")]
    assert installs and all("install govkit" not in run for run in installs)  # PyPI name is taken


def test_hooks_are_well_formed_and_match_policy_files():
    hooks = _hooks()
    assert [h["id"] for h in hooks] == ["govkit-policy-lint", "govkit-gate"]
    for hook in hooks:
        assert {"id", "name", "entry", "language", "files"} <= set(hook)
        files = re.compile(hook["files"])
        assert files.search("policies/credit-scoring.yaml")
        assert files.search("policies/team.yml")
        assert not files.search("src/model.py")


def test_readme_snippet_is_the_hooks_file():
    readme = (CI / "README.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"```yaml\n(.*?)```", readme, flags=re.S)
    config = yaml.safe_load(block)
    assert config["repos"][0]["repo"] == "local"
    assert config["repos"][0]["hooks"] == _hooks()


def test_lint_hook_passes_good_policies_and_names_a_bad_one(tmp_path):
    (tmp_path / "policies").mkdir()
    good = tmp_path / "policies" / "good.yaml"
    good.write_text((ROOT / "policies" / "credit-scoring.yaml").read_text(encoding="utf-8"))
    bad = tmp_path / "policies" / "bad.yaml"
    bad.write_text("schema_version: 1\nname: bad\nrules:\n  - id: x\n    kind: fairnes\n")
    ok = run_hook("govkit-policy-lint", ["policies/good.yaml"], {}, tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "policies/good.yaml: ok" in ok.stdout
    both = run_hook("govkit-policy-lint", ["policies/bad.yaml", "policies/good.yaml"], {}, tmp_path)
    assert both.returncode == 2
    assert "policies/bad.yaml:5" in both.stderr
    assert "policies/good.yaml: ok" in both.stdout  # every file is linted, not just the first


def test_gate_hook_says_what_to_set(tmp_path):
    env = {"GOVKIT_MODEL": "", "GOVKIT_EVAL_DATA": ""}
    r = run_hook("govkit-gate", ["policies/x.yaml"], env, tmp_path)
    assert r.returncode != 0
    assert "set GOVKIT_MODEL to NAME or NAME@VER" in r.stderr


@pytest.mark.parametrize("name", ["github-actions.yml", "pre-commit-hooks.yaml"])
def test_example_files_are_plain_safe_yaml(name):
    text = (CI / name).read_text(encoding="utf-8")
    assert "\t" not in text and "!!" not in text
    assert yaml.safe_load(text)
