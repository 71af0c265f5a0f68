"""The output interface: one ``render`` over many pure, deterministic, hostile-text-safe writers."""

from __future__ import annotations

import json

import pytest
from _output_samples import (
    HOSTILE,
    POLICY,
    ROOT,
    golden_checks,
    golden_policy,
    golden_result,
    hostile_result,
    make_result,
    parse_workflow_commands,
    policy_lines,
    validate_junit,
    validate_sarif,
)

from govkit.exceptions import RenderError
from govkit.output import FORMATS, render, to_json, to_text
from govkit.policy import load_policy
from govkit.results import Bound, CheckResult, EvaluationResult, Status


@pytest.fixture
def at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


@pytest.fixture
def policy(at_root):
    return golden_policy()


def test_the_formats_in_cli_order():
    assert list(FORMATS) == ["text", "json", "junit", "sarif", "github", "markdown"]


def test_an_unknown_format_names_the_known_ones(policy):
    with pytest.raises(RenderError, match="unknown output format 'xml'; expected one of: text, "):
        render(golden_result(policy), "xml")


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_writers_are_deterministic_and_write_nothing(fmt, policy, tmp_path, monkeypatch, capsys):
    result = golden_result(policy)
    first = render(result, fmt, policy=policy)
    assert render(result, fmt, policy=policy) == first
    assert first.endswith("\n")
    monkeypatch.chdir(tmp_path)  # a file a writer created would land here ...
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))  # ... or here
    render(result, fmt, policy=policy)
    assert list(tmp_path.iterdir()) == []
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_a_result_read_back_from_json_renders_the_same(fmt, policy):
    checks = tuple(c for c in golden_checks() if c.rule_id != "selection-rate-sex-race")  # NaN
    fresh = make_result(checks, policy_digest=policy.digest)
    stored = EvaluationResult.model_validate(json.loads(fresh.model_dump_json()))
    assert render(stored, fmt, policy=policy) == render(fresh, fmt, policy=policy)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_no_timestamp_but_the_results(fmt, policy):
    """Output depends on the result only: no clock, host or user name sneaks in."""
    out = render(golden_result(policy), fmt, policy=policy)
    for token in ("2025", "2026", "2027"):
        assert token not in out


# ------------------------------------------------------------------------ hostile text


@pytest.fixture
def hostile(at_root):
    return hostile_result()


def test_hostile_text_json_stays_valid_and_complete(hostile):
    out = render(hostile, "json")
    data = json.loads(out)
    assert data["checks"][1]["message"].startswith(HOSTILE)
    assert "NaN" not in out  # a NaN value is written as null, which JSON can carry


def test_hostile_text_sarif_stays_valid(hostile):
    log = validate_sarif(render(hostile, "sarif"))
    messages = [r["message"]["text"] for r in log["runs"][0]["results"]]
    assert all("\n" not in m for m in messages)
    assert any("<script>alert(1)</script>" in m for m in messages)  # JSON needs no escaping


def test_hostile_text_junit_stays_valid(hostile):
    root = validate_junit(render(hostile, "junit"))
    cases = root.findall("testsuite/testcase")
    assert len(cases) == len(hostile.checks)
    failure = cases[0].find("failure")
    assert failure is not None and len(failure.get("message")) <= 1000  # the 100 kB message
    assert "long long" in failure.text and len(failure.text) > 100_000  # in full in the body


def test_hostile_text_cannot_forge_workflow_commands(hostile):
    for fmt in ("text", "github", "markdown"):
        commands = parse_workflow_commands(render(hostile, fmt))
        if fmt != "github":
            assert commands == [], fmt
            continue
        unmet = [c for c in hostile.checks if c.status != Status.PASS]
        assert [name for name, _, _ in commands] == [
            "error",
            "warning",
            "notice",
            "notice",
            "error",
        ]
        assert len(commands) == len(unmet)
        for (_, props, message), check in zip(commands, unmet, strict=True):
            assert set(props) <= {"file", "line", "title"}
            assert " ".join(check.rule_id.split()) in props["title"]  # one line
            assert message.startswith(check.message[:150])  # unescaped back exactly


def test_hostile_text_markdown_stays_one_row_per_rule(hostile):
    out = render(hostile, "markdown")
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    assert len(rows) == 2 + len(hostile.checks)
    for row in rows:
        unescaped = row.replace("\\|", "")
        assert unescaped.count("|") == 6, row
    assert "<script>" not in out and "<i>" not in out
    assert "@admins" not in out  # no mention


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "markdown", "github"])
def test_control_characters_never_reach_a_terminal(fmt, at_root):
    """A message with escape sequences (from a group label in the data, or a policy) is
    never written raw: JSON keeps it whole as escapes, the other formats show U+FFFD."""
    evil = "group \x1b[2J\x1b]0;pwned\x07 \x9b31m end"
    check = golden_checks()[0].model_copy(update={"message": evil})
    out = render(make_result((check,)), fmt)
    assert not any(c in out for c in "\x1b\x07\x9b"), fmt
    if fmt == "json":
        assert "\\u001b[2J" in out and "\\u009b31m" in out
        assert json.loads(out)["checks"][0]["message"] == evil
    else:  # markdown also escapes its own special characters ([ and ])
        assert out.count("\ufffd") >= 4 and "pwned" in out, out


def test_text_flattens_messages_and_quotes_a_leading_command(at_root):
    check = golden_checks()[0].model_copy(update={"message": "::error::x\n::warning::y"})
    out = render(make_result((check,)), "text")
    assert "      '::error::x ::warning::y'\n" in out


def test_text_shows_the_not_judged_note_of_a_pass():
    """A PASS that left groups or features out says so in the text report, as in JSON."""
    from govkit.results import DriftEvidence, FeatureDrift, GroupEvidence, GroupRow

    note = "1 group(s) under min_group_size=30 reported but not judged: Other"
    groups = GroupEvidence(
        sensitive_features=("race",),
        metric="demographic_parity_ratio",
        overall={},
        groups=(
            GroupRow(group=("White",), count=900, metrics={}),
            GroupRow(group=("Black",), count=80, metrics={}),
            GroupRow(group=("Other",), count=9, metrics={}, judged=False),
        ),
    )
    drift = DriftEvidence(
        statistic="population_stability_index",
        features=(FeatureDrift(feature="age", value=None, judged=False),),
    )
    passed = golden_checks()[1]
    with_note = passed.model_copy(update={"message": f"ratio 0.9; {note}", "evidence": groups})
    drift_note = passed.model_copy(update={"message": "PSI; 1 not judged: age", "evidence": drift})
    out = render(make_result((passed, with_note, drift_note)), "text")
    assert f"      ratio 0.9; {note}\n" in out
    assert "      PSI; 1 not judged: age\n" in out
    assert "accuracy is 0.8712" not in out  # an ordinary PASS stays one line


# ----------------------------------------------------------- text and json: unchanged


def _legacy_to_json(result: EvaluationResult) -> str:
    payload = result.model_dump(mode="json")
    payload["status"] = result.status.value
    payload["exit_code"] = result.exit_code()
    return json.dumps(payload, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def _legacy_to_text(result: EvaluationResult) -> str:
    def fmt(value):
        return "-" if value is None else f"{value:.4f}"

    lines = [
        f"policy  {result.policy_name} ({result.policy_path or 'in memory'})",
        f"model   {result.model}",
        f"data    {result.n_rows:,} rows, {result.data_fingerprint or 'fingerprint not computed'}",
        "",
    ]
    width = max((len(c.rule_id) for c in result.checks), default=4)
    for c in result.checks:
        sev = "" if c.severity == "error" else " (warning)"
        lines.append(
            f"{c.status.value:<5} {c.rule_id:<{width}}  {fmt(c.value):>8}  "
            f"{str(c.bound) if c.bound else '':<16} {c.check_id}{sev}"
        )
        if c.status not in (Status.PASS,) and c.message:
            lines.append(f"{'':<6}{c.message}")
    summary = ", ".join(f"{n} {s.value}" for s, n in result.counts.items() if n)
    lines += ["", f"verdict {result.status.value}: {summary}"]
    return "\n".join(lines) + "\n"


def test_text_and_json_are_unchanged_for_ordinary_results(policy):
    ordinary = tuple(c for c in golden_checks() if c.status != Status.ERROR and c.value == c.value)
    result = make_result(ordinary, policy_digest=policy.digest)
    assert to_text(result) == _legacy_to_text(result) == render(result, "text", policy=policy)
    assert to_json(result) == _legacy_to_json(result) == render(result, "json", policy=policy)


def test_fail_on_warn_changes_the_gate_in_every_machine_format(at_root):
    warn_only = tuple(c for c in golden_checks() if c.status in (Status.PASS, Status.WARN))
    result = make_result(warn_only)
    assert result.status == Status.WARN
    for fail_on_warn, code in ((False, 0), (True, 1)):
        assert json.loads(render(result, "json", fail_on_warn=fail_on_warn))["exit_code"] == code
        root = validate_junit(render(result, "junit", fail_on_warn=fail_on_warn))
        assert root.find("testsuite").get("failures") == str(code)
        (command,) = parse_workflow_commands(render(result, "github", fail_on_warn=fail_on_warn))
        assert command[0] == ("error" if code else "warning")
        md = render(result, "markdown", fail_on_warn=fail_on_warn)
        assert ("gate failed" in md) == bool(code)
        log = validate_sarif(render(result, "sarif", fail_on_warn=fail_on_warn))
        assert log["runs"][0]["invocations"][0]["exitCode"] == code


# -------------------------------------------------------------------------- locations


def test_lines_come_from_the_policy_the_result_was_evaluated_from(policy):
    result = golden_result(policy)
    (annotation, *_) = parse_workflow_commands(render(result, "github", policy=policy))
    assert annotation[1]["file"] == "tests/golden/output/policy.yaml"
    assert annotation[1]["line"] == "7"
    # a policy file changed since the run: its lines would be wrong, so none are used
    stale = make_result(golden_checks(), policy_digest="sha256:" + "1" * 64)
    (annotation, *_) = parse_workflow_commands(render(stale, "github", policy=policy))
    assert annotation[1] == {
        "file": "tests/golden/output/policy.yaml",
        "title": annotation[1]["title"],
    }


def test_without_the_policy_findings_point_at_the_policy_file(at_root):
    result = make_result(golden_checks())
    log = validate_sarif(render(result, "sarif"))
    loc = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert loc == {
        "artifactLocation": {"uri": "tests/golden/output/policy.yaml", "uriBaseId": "%SRCROOT%"}
    }


def test_a_policy_outside_the_working_directory(tmp_path, monkeypatch, policy):
    outside = tmp_path / "elsewhere" / "my policy.yaml"
    monkeypatch.chdir(ROOT)
    result = make_result(golden_checks(), policy_path=str(outside))
    log = validate_sarif(render(result, "sarif"))
    loc = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert loc == {"uri": outside.as_uri()} and "%20" in loc["uri"]
    for _, props, _ in parse_workflow_commands(render(result, "github")):
        assert "file" not in props  # GitHub annotates files of the workspace only


@pytest.mark.parametrize("path", [None, "<string>"])
def test_a_policy_given_as_text_has_no_location(path, at_root):
    result = make_result(golden_checks(), policy_path=path)
    log = validate_sarif(render(result, "sarif"))
    assert all("locations" not in r for r in log["runs"][0]["results"])
    assert "artifacts" not in log["runs"][0]
    validate_junit(render(result, "junit"))


def test_vendored_schemas_are_the_ones_documented():
    """Every file in tests/schemas has a README section whose SHA-256 matches it."""
    import hashlib
    import re

    schemas = ROOT / "tests" / "schemas"
    readme = (schemas / "README.md").read_text(encoding="utf-8")
    documented = {}
    for section in readme.split("\n## ")[1:]:
        name = re.match(r"`([^`]+)`", section)
        digest = re.search(r"SHA-256: `([0-9a-f]{64})`", section)
        if name and digest:
            documented[name.group(1)] = digest.group(1)
    files = {f.name for f in schemas.iterdir() if f.name != "README.md"}
    assert {"sarif-schema-2.1.0.json", "junit-10.xsd"} <= files
    assert files == set(documented)
    for name, digest in documented.items():
        assert hashlib.sha256((schemas / name).read_bytes()).hexdigest() == digest, name


def test_a_policy_outside_the_working_directory_keeps_its_rule_lines(tmp_path, monkeypatch):
    outside = tmp_path / "elsewhere" / "policy.yaml"
    outside.parent.mkdir()
    outside.write_bytes((ROOT / POLICY).read_bytes())
    policy = load_policy(outside)
    result = make_result(golden_checks(), policy_digest=policy.digest, policy_path=str(outside))
    monkeypatch.chdir(ROOT)  # the checkout; the policy lies outside it
    lines = policy_lines(outside)
    log = validate_sarif(render(result, "sarif", policy=policy))
    for finding in log["runs"][0]["results"]:
        phys = finding["locations"][0]["physicalLocation"]
        assert phys["artifactLocation"] == {"uri": outside.as_uri()}
        assert phys["region"] == {"startLine": lines[finding["ruleId"]]}
    junit = render(result, "junit", policy=policy)
    for rule_id, line in lines.items():
        if f'name="{rule_id}"' in junit:
            assert f"defined at: {outside.as_posix()}:{line}" in junit


@pytest.mark.parametrize("fmt", ["text", "junit", "markdown", "github"])
def test_a_value_just_short_of_its_bound_never_reads_as_meeting_it(fmt, at_root):
    # 4 digits make 0.873165 read 0.8732, which meets 0.87317; the bound was rounded too
    missed = CheckResult(
        rule_id="accuracy",
        check_id="performance.accuracy",
        kind="performance",
        severity="error",
        status=Status.FAIL,
        value=0.873165,
        bound=Bound(min=0.87317),
    )
    met = missed.model_copy(
        update={
            "rule_id": "loss",
            "status": Status.PASS,
            "value": 0.19996,
            "bound": Bound(max=0.19997),
        }
    )
    out = render(make_result((missed, met)), fmt)
    assert "0.8732" not in out.replace("0.87317", "").replace("0.87316", "")
    assert "0.87316" in out and "0.87317" in out
    if fmt != "github":  # annotations carry problems only
        assert "0.19996" in out and "0.19997" in out  # 0.2 would read as missing it
    for value, bound in ((0.873165, Bound(min=0.87317)), (0.19996, Bound(max=0.19997))):
        assert bound.holds(float(bound.shown(value))) == bound.holds(value)
