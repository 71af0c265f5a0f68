"""GitHub Actions: annotations escaped as the toolkit does, and the step summary file."""

from __future__ import annotations

import logging

import pytest
from _output_samples import (
    ROOT,
    golden_checks,
    golden_policy,
    golden_result,
    make_result,
    parse_workflow_commands,
)

from govkit.output import render, write_step_summary
from govkit.output._github import escape_data, escape_property
from govkit.results import Status


@pytest.fixture
def policy(monkeypatch):
    monkeypatch.chdir(ROOT)
    return golden_policy()


def test_escaping_follows_the_actions_toolkit():
    assert escape_data("100%\r\nnext: a, b") == "100%25%0D%0Anext: a, b"
    assert escape_property("100%\r\nnext: a, b") == "100%25%0D%0Anext%3A a%2C b"


def test_one_annotation_per_rule_not_passing_at_its_line(policy):
    out = render(golden_result(policy), "github", policy=policy)
    commands = parse_workflow_commands(out)
    assert [(name, props.get("line"), props["title"]) for name, props, _ in commands] == [
        ("error", "7", "govkit FAIL: four-fifths-sex"),
        ("warning", "20", "govkit WARN: equalized-odds-sex"),
        ("notice", "27", "govkit WAIVED: roc-auc"),
        ("notice", "28", "govkit N/A: explanation-coverage"),
        ("error", "32", "govkit ERROR: training-data-lineage"),
    ]
    assert {props["file"] for _, props, _ in commands} == {"tests/golden/output/policy.yaml"}
    assert commands[0][2] == "demographic_parity_ratio by sex is 0.6612; required >= 0.8"
    assert out.splitlines()[0] == (
        "::error file=tests/golden/output/policy.yaml,line=7,title=govkit FAIL%3A "
        "four-fifths-sex::demographic_parity_ratio by sex is 0.6612; required >= 0.8"
    )
    assert out.splitlines()[-1] == (
        "govkit: verdict FAIL (gate failed) for policy golden-credit on model credit@3: "
        "2 PASS, 1 WARN, 1 FAIL, 1 ERROR, 1 N/A, 1 WAIVED"
    )


def test_an_error_of_a_warning_rule_is_a_warning(policy):
    check = golden_checks()[2].model_copy(update={"status": Status.ERROR, "message": "boom"})
    ((name, _, message),) = parse_workflow_commands(render(make_result((check,)), "github"))
    assert (name, message) == ("warning", "boom")


def test_a_passing_run_has_only_the_verdict_line(policy):
    passing = tuple(c for c in golden_checks() if c.status == Status.PASS)
    out = render(make_result(passing), "github")
    assert out == (
        "govkit: verdict PASS (gate passed) for policy golden-credit on model credit@3: 2 PASS\n"
    )


def test_a_very_long_message_is_cut(policy):
    check = golden_checks()[0].model_copy(update={"message": "x" * 100_000})
    ((_, _, message),) = parse_workflow_commands(render(make_result((check,)), "github"))
    assert len(message) == 2000 and message.endswith("\u2026")


def test_step_summary_is_appended_to_the_file_github_names(policy, tmp_path):
    summary = tmp_path / "step_summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    env = {"GITHUB_STEP_SUMMARY": str(summary)}
    result = golden_result(policy)
    assert write_step_summary(result, policy=policy, environ=env) == summary
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n### \u274c FAIL govkit: golden-credit\n")
    assert text == "earlier step\n" + render(result, "markdown", policy=policy) + "\n"


def test_step_summary_reads_the_environment(policy, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert write_step_summary(golden_result(policy)) == summary
    assert "| \u274c FAIL | four-fifths-sex |" in summary.read_text(encoding="utf-8")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY")
    assert write_step_summary(golden_result(policy)) is None


def test_step_summary_that_cannot_be_written_is_logged_not_raised(policy, tmp_path, caplog):
    env = {"GITHUB_STEP_SUMMARY": str(tmp_path / "no" / "such" / "dir" / "summary.md")}
    with caplog.at_level(logging.WARNING, logger="govkit.output"):
        assert write_step_summary(golden_result(policy), environ=env) is None
    assert "cannot append the step summary to" in caplog.text
