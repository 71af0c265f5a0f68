"""SARIF 2.1.0: valid against the OASIS schema, one descriptor per rule, results at rule lines."""

from __future__ import annotations

import json

import pytest
from _output_samples import (
    POLICY,
    ROOT,
    golden_checks,
    golden_policy,
    golden_result,
    make_result,
    policy_lines,
    sarif_validator,
    validate_sarif,
)

from govkit.output import render
from govkit.results import Status


@pytest.fixture
def policy(monkeypatch):
    monkeypatch.chdir(ROOT)
    return golden_policy()


@pytest.fixture
def run(policy):
    log = validate_sarif(render(golden_result(policy), "sarif", policy=policy))
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-schema-2.1.0.json")
    (run,) = log["runs"]
    return run


def test_driver_is_govkit_with_one_descriptor_per_rule(run):
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("govkit", "0.1.0")
    rules = driver["rules"]
    assert [r["id"] for r in rules] == [c.rule_id for c in golden_checks()]
    first = rules[0]
    assert first["shortDescription"] == {"text": "fairness.demographic_parity_ratio"}
    assert first["fullDescription"]["text"].startswith("EEOC four-fifths rule, 29 CFR")
    assert first["defaultConfiguration"] == {"level": "error"}
    assert rules[2]["defaultConfiguration"] == {"level": "warning"}
    assert "fullDescription" not in rules[3]  # the rule has no description


def test_one_result_per_rule_not_passing_with_levels(run):
    got = {r["ruleId"]: (r["kind"], r["level"]) for r in run["results"]}
    assert got == {
        "four-fifths-sex": ("fail", "error"),
        "equalized-odds-sex": ("fail", "warning"),
        "roc-auc": ("fail", "error"),
        "explanation-coverage": ("notApplicable", "none"),
        "training-data-lineage": ("fail", "error"),
    }
    rules = run["tool"]["driver"]["rules"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_results_point_at_the_rule_in_the_policy_file(run):
    expected = policy_lines(ROOT / POLICY)
    assert len(expected) == 7
    for result in run["results"]:
        (loc,) = result["locations"]
        phys = loc["physicalLocation"]
        assert phys["artifactLocation"] == {
            "uri": "tests/golden/output/policy.yaml",
            "uriBaseId": "%SRCROOT%",
        }
        assert phys["region"] == {"startLine": expected[result["ruleId"]]}
    (artifact,) = run["artifacts"]
    assert artifact["location"]["uri"] == "tests/golden/output/policy.yaml"


def test_result_carries_status_value_and_bound(run):
    first = run["results"][0]
    assert first["message"]["text"] == (
        "FAIL: demographic_parity_ratio by sex is 0.6612; required >= 0.8"
    )
    props = first["properties"]
    assert props["status"] == "FAIL" and props["value"] == 0.6612
    assert props["bound"] == {"min": 0.8, "max": None, "text": "\u2265 0.8"}
    assert props["interval"]["low"] == 0.61


def test_a_waived_rule_is_an_accepted_suppression(run):
    (waived,) = [r for r in run["results"] if r["ruleId"] == "roc-auc"]
    (suppression,) = waived["suppressions"]
    assert suppression == {
        "kind": "external",
        "status": "accepted",
        "justification": "vendor retrains in Q3 (ticket RISK-12)",
        "properties": {"approver": "head-of-risk", "expires": "2030-01-31"},
    }


def test_fingerprints_are_stable_when_lines_move(run, policy):
    moved = make_result(golden_checks(), policy_digest="sha256:" + "2" * 64)  # no lines
    other = validate_sarif(render(moved, "sarif", policy=policy))["runs"][0]
    assert [r["partialFingerprints"] for r in run["results"]] == [
        r["partialFingerprints"] for r in other["results"]
    ]
    assert "region" not in other["results"][0]["locations"][0]["physicalLocation"]


def test_invocation_times_are_the_run_times(run):
    (invocation,) = run["invocations"]
    assert invocation["startTimeUtc"] == "2024-05-01T12:00:00Z"
    assert invocation["endTimeUtc"] == "2024-05-01T12:00:12.345000Z"
    assert invocation["executionSuccessful"] is True and invocation["exitCode"] == 1


def test_a_passing_run_has_no_results(policy):
    passing = tuple(c for c in golden_checks() if c.status == Status.PASS)
    run = validate_sarif(render(make_result(passing), "sarif"))["runs"][0]
    assert run["results"] == []
    assert run["properties"]["verdict"] == "PASS"


def test_non_finite_values_are_null(policy):
    check = golden_checks()[0].model_copy(update={"value": float("inf")})
    out = render(make_result((check,)), "sarif")
    assert "Infinity" not in out
    assert validate_sarif(out)["runs"][0]["results"][0]["properties"]["value"] is None


def test_the_vendored_schema_is_not_vacuous(run):
    broken = {"version": "2.1.0", "runs": [{"tool": {"driver": {}}}]}  # driver needs a name
    assert list(sarif_validator().iter_errors(broken))
    bad_uri = json.loads(json.dumps({"version": "2.1.0", "runs": [run]}))
    loc = bad_uri["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    loc["artifactLocation"]["uri"] = "has a space"
    assert list(sarif_validator().iter_errors(bad_uri))  # formats are checked too
