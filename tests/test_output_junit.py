"""JUnit XML: valid against the Jenkins junit-10.xsd, one test case per rule, counts right."""

from __future__ import annotations

import pytest
from _output_samples import (
    ROOT,
    golden_checks,
    golden_policy,
    golden_result,
    make_result,
    validate_junit,
)

from govkit.output import render
from govkit.results import Status


@pytest.fixture
def policy(monkeypatch):
    monkeypatch.chdir(ROOT)
    return golden_policy()


@pytest.fixture
def suite(policy):
    root = validate_junit(render(golden_result(policy), "junit", policy=policy))
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    return suite


def _cases(suite) -> dict[str, object]:
    return {c.get("name"): c for c in suite.findall("testcase")}


def test_one_test_case_per_rule_named_after_policy_and_rule(suite):
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [c.rule_id for c in golden_checks()]
    assert {c.get("classname") for c in cases} == {"golden-credit"}
    assert suite.get("name") == "golden-credit"
    assert suite.get("file") == "tests/golden/output/policy.yaml"


def test_statuses_map_to_junit_outcomes(suite):
    cases = _cases(suite)

    def outcome(name):
        kids = [k.tag for k in cases[name] if k.tag != "system-out"]
        return kids, cases[name].find("system-out").text

    assert outcome("four-fifths-sex")[0] == ["failure"]
    assert outcome("accuracy")[0] == []
    assert outcome("equalized-odds-sex")[0] == []  # a warning passes the gate ...
    assert outcome("equalized-odds-sex")[1].startswith("status: WARN\n")  # ... and says so
    assert outcome("roc-auc")[0] == ["skipped"]
    assert outcome("explanation-coverage")[0] == ["skipped"]
    assert outcome("training-data-lineage")[0] == ["error"]
    waived = cases["roc-auc"].find("skipped")
    assert waived.get("type") == "WAIVED"
    assert "approved by head-of-risk, expires 2030-01-31" in waived.get("message")
    assert cases["explanation-coverage"].find("skipped").get("type") == "N/A"


def test_failure_carries_value_bound_message_and_location(suite):
    failure = _cases(suite)["four-fifths-sex"].find("failure")
    assert failure.get("type") == "FAIL"
    assert failure.get("message") == "demographic_parity_ratio by sex is 0.6612; required >= 0.8"
    body = failure.text
    for line in (
        "check: fairness.demographic_parity_ratio",
        "value: 0.6612",
        "bound: \u2265 0.8",
        "interval: [0.61, 0.7] at 0.95, judged on the estimate",
        "defined at: tests/golden/output/policy.yaml:7",
    ):
        assert line in body.splitlines()


def test_suite_counts_match_the_cases(suite):
    assert suite.get("tests") == "7"
    assert suite.get("failures") == "1"
    assert suite.get("errors") == "1"
    assert suite.get("skipped") == "2"
    assert suite.get("time") == "12.345"
    assert suite.get("timestamp") == "2024-05-01T12:00:00+00:00"
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["verdict"] == "FAIL" and props["exit_code"] == "1"
    assert props["model"] == "credit@3"


@pytest.mark.parametrize("status", [s for s in Status])
def test_every_status_gives_a_valid_document(status, policy):
    check = golden_checks()[0].model_copy(update={"status": status})
    root = validate_junit(render(make_result((check,)), "junit"))
    suite = root.find("testsuite")
    total = sum(int(suite.get(k)) for k in ("failures", "errors", "skipped"))
    assert total == (0 if status in (Status.PASS, Status.WARN) else 1)


def test_no_rules_is_an_empty_valid_suite(policy):
    root = validate_junit(render(make_result(()), "junit"))
    assert root.find("testsuite").get("tests") == "0"


def test_control_characters_are_replaced_not_written(policy):
    check = golden_checks()[0].model_copy(update={"message": "bell\x07 nul\x00 esc\x1b ok"})
    out = render(make_result((check,)), "junit")
    root = validate_junit(out)
    assert "\x07" not in out and "\x00" not in out
    assert (
        root.find("testsuite/testcase/failure").get("message")
        == "bell\ufffd nul\ufffd esc\ufffd ok"
    )


def test_the_vendored_schema_is_not_vacuous():
    import xmlschema
    from _output_samples import junit_schema

    with pytest.raises(xmlschema.XMLSchemaValidationError):  # suite without its counts
        junit_schema().validate('<testsuites><testsuite name="x"/></testsuites>')
    with pytest.raises(xmlschema.XMLSchemaValidationError):  # attribute the schema lacks
        junit_schema().validate(
            '<testsuite name="x" tests="1" failures="0" errors="0">'
            '<testcase name="a" line="3"/></testsuite>'
        )
