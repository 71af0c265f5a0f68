"""extends, vars, waivers: composition of policies and approved exceptions."""

from __future__ import annotations

import textwrap
from datetime import UTC, date, datetime, timedelta

import pytest

from govkit.evaluate import evaluate
from govkit.exceptions import PolicyError
from govkit.policy import load_policy
from govkit.records import ModelMetadata, ModelVersionRecord
from govkit.results import Status

BASE = """\
schema_version: 1
name: base
vars:
  min_ratio: 0.8
  groups: [sex]
rules:
  - id: dp
    kind: fairness
    metric: demographic_parity_ratio
    sensitive_features: ${groups}
    threshold: {min: "${min_ratio}"}
  - id: acc
    kind: performance
    metric: accuracy
    threshold: 0.7
"""


def write(folder, name, text):
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def test_extends_overrides_by_rule_id_and_records_origins(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    child = write(
        tmp_path,
        "child.yaml",
        """\
        schema_version: 1
        name: child
        extends: base.yaml
        vars: {min_ratio: 0.9}
        rules:
          - {id: acc, kind: performance, metric: accuracy, threshold: 0.85}
          - {id: f1, kind: performance, metric: f1, threshold: 0.5}
        """,
    )
    loaded = load_policy(child)
    rules = {r.id: r for r in loaded.policy.rules}
    assert list(rules) == ["dp", "acc", "f1"]
    assert rules["acc"].threshold.min == 0.85  # overridden
    assert rules["dp"].threshold.min == 0.9  # the child's vars reach the parent's rules
    assert loaded.origin_of("dp") == (str(tmp_path / "base.yaml"), 7)
    assert loaded.origin_of("f1") == (str(child), 7)
    before = loaded.digest
    write(tmp_path, "base.yaml", BASE.replace("0.7", "0.75"))
    assert load_policy(child).digest != before  # the digest covers the files it extends


def test_builtin_pack_with_overridden_columns(tmp_path):
    child = write(
        tmp_path,
        "mine.yaml",
        """\
        schema_version: 1
        name: mine
        extends: [eeoc-four-fifths]
        vars: {sex_columns: [gender], min_group_size: 50}
        """,
    )
    rules = {r.id: r for r in load_policy(child).policy.rules}
    assert rules["eeoc-impact-ratio-sex"].sensitive_features == ["gender"]
    assert rules["eeoc-impact-ratio-sex"].min_group_size == 50
    assert rules["eeoc-impact-ratio-race"].sensitive_features == ["race"]
    assert rules["eeoc-impact-ratio-sex"].threshold.min == 0.8


@pytest.mark.parametrize(
    "files,main,fragments,line",
    [
        (
            {
                "a.yaml": "schema_version: 1\nname: a\nextends: b.yaml\n",
                "b.yaml": "schema_version: 1\nname: b\nextends: [a.yaml]\n",
            },
            "a.yaml",
            ["extends cycle: a.yaml -> b.yaml -> a.yaml"],
            None,
        ),
        (
            {"a.yaml": "schema_version: 1\nname: a\nextends: [eeoc-four-fiths]\n"},
            "a.yaml",
            ["unknown policy pack 'eeoc-four-fiths'", "did you mean 'eeoc-four-fifths'"],
            3,
        ),
        (
            {"a.yaml": "schema_version: 1\nname: a\nextends: missing.yaml\n"},
            "a.yaml",
            ["missing.yaml: policy file not found"],
            None,
        ),
        (
            {"a.yaml": BASE.replace('"${min_ratio}"', '"${min_ration}"')},
            "a.yaml",
            ["unknown variable '${min_ration}'", "did you mean 'min_ratio'"],
            11,
        ),
        (
            {
                "a.yaml": BASE + "waivers:\n  - {rule: dpp, model: credit, justification: "
                "because reasons, approver: x, expires: 2030-01-01}\n"
            },
            "a.yaml",
            ["waiver for unknown rule 'dpp'", "did you mean 'dp'"],
            17,
        ),
        (
            {
                "a.yaml": BASE + "waivers:\n  - rule: dp\n    model: credit\n    justification: "
                "long enough text\n    approver: x\n    expires: next week\n"
            },
            "a.yaml",
            ["waivers[0].expires: expected a date (YYYY-MM-DD), found text 'next week'"],
            21,
        ),
        (
            # shaped like a date, so YAML constructs one, and February has no 30th
            {
                "a.yaml": BASE + "waivers:\n  - rule: dp\n    model: credit\n    justification: "
                "long enough text\n    approver: x\n    expires: 2027-02-30\n"
            },
            "a.yaml",
            [
                "a.yaml:21:14: waivers[0].expires: expected a date (YYYY-MM-DD), "
                "found '2027-02-30': day is out of range for month"
            ],
            21,
        ),
    ],
    ids=[
        "cycle",
        "unknown-pack",
        "missing-parent",
        "unknown-var",
        "waiver-rule",
        "waiver-date",
        "waiver-impossible-date",
    ],
)
def test_composition_errors(tmp_path, files, main, fragments, line):
    for name, text in files.items():
        write(tmp_path, name, text)
    with pytest.raises(PolicyError) as info:
        load_policy(tmp_path / main)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    if line is not None:
        assert info.value.line == line, message


def _record(version: int = 1) -> ModelVersionRecord:
    return ModelVersionRecord(
        name="credit",
        version=version,
        artifact_uri="file:///m.skops",
        artifact_sha256="0" * 64,
        artifact_format="skops",
        flavour="sklearn",
        estimator="Pipeline",
        created_at=datetime.now(UTC),
        metadata=ModelMetadata(target="income", positive_label=">50K"),
    )


def _waived_policy(tmp_path, expires: date, model: str = "credit"):
    text = BASE + textwrap.dedent(
        f"""\
        waivers:
          - rule: dp
            model: {model}
            justification: Remediation plan RM-12 approved by the risk committee
            approver: jane.doe@example.org
            expires: {expires.isoformat()}
        """
    )
    return load_policy(write(tmp_path, "p.yaml", text))


@pytest.mark.parametrize(
    "days,model,version,expected",
    [
        (30, "credit", 1, Status.WAIVED),
        (0, "credit@1", 1, Status.WAIVED),  # the expiry day itself still counts
        (-1, "credit", 1, Status.FAIL),  # expired
        (30, "credit@2", 1, Status.FAIL),  # covers another version only
        (30, "other", 1, Status.FAIL),
    ],
)
def test_waivers(tmp_path, adult_model, adult_test, days, model, version, expected):
    expires = datetime.now(UTC).date() + timedelta(days=days)
    policy = _waived_policy(tmp_path, expires, model)
    result = evaluate(policy, _record(version), adult_test, model=adult_model)
    dp = result.checks[0]
    assert dp.status == expected
    if expected == Status.WAIVED:
        assert dp.unmet_status == Status.FAIL and dp.value < 0.8
        assert dp.waiver.approver == "jane.doe@example.org"
        assert result.exit_code() == 0
    else:
        assert result.exit_code() == 1
        if days < 0:
            assert f"expired on {expires}" in dp.message
