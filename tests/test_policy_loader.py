"""Policy files: valid ones load; every malformed one names file, line, path and a fix."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from govkit.exceptions import PolicyError
from govkit.policy import MAX_POLICY_BYTES, FairnessRule, load_policy
from govkit.results import Bound

GOOD = """\
schema_version: 1
name: demo
rules:
  - id: four-fifths
    kind: fairness
    metric: demographic_parity_ratio
    sensitive_features: [sex]
    threshold: 0.8
  - id: acc
    kind: performance
    metric: accuracy
    threshold: {min: 0.7, max: 1}
    severity: warning
"""


def write(tmp_path: Path, text: str, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_valid_policy_loads_with_marks_and_digest(tmp_path):
    path = write(tmp_path, GOOD)
    loaded = load_policy(path)
    rule = loaded.policy.rules[0]
    assert isinstance(rule, FairnessRule)
    # a bare number is a lower bound for a ratio (higher is better)
    assert rule.threshold.to_bound() == Bound(min=0.8)
    assert loaded.policy.rules[1].severity == "warning"
    assert loaded.line_of(("rules", 1, "metric")) == 11
    import hashlib

    assert loaded.digest == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def test_shipped_policies_are_valid():
    from govkit._resources import resource_dir

    files = [f for f in resource_dir("policies").iterdir() if f.name.endswith(".yaml")]
    assert files, "no policies shipped"
    for f in files:
        assert load_policy(str(f)).policy.rules


BASE_RULE = """\
schema_version: 1
name: demo
rules:
  - id: r1
    kind: fairness
    metric: demographic_parity_ratio
    sensitive_features: [sex]
    threshold: {min: 0.8}
"""

# (case id, policy text, text on the line the error must point at, fragments of the message)
BAD = [
    (
        "unknown-kind",
        BASE_RULE.replace("kind: fairness", "kind: fairnes"),
        "kind: fairnes",
        ["rules[0].kind", "unknown rule kind 'fairnes'", "did you mean 'fairness'"],
    ),
    (
        "kind-not-text",  # a list is no rule kind (it once crashed the error translation)
        BASE_RULE.replace("kind: fairness", "kind: [fairness]"),
        "kind: [fairness]",
        ["rules[0].kind", "unknown rule kind", "expected one of: fairness"],
    ),
    (
        "misspelt-metric",
        BASE_RULE.replace("metric: demographic_parity_ratio", "metric: demographic_parity_ration"),
        "metric: demographic_parity_ration",
        [
            "rules[0].metric",
            "found 'demographic_parity_ration'",
            "did you mean 'demographic_parity_ratio'",
        ],
    ),
    (
        "wrong-type",
        BASE_RULE.replace("{min: 0.8}", "{min: high}"),
        "threshold:",
        ["rules[0].threshold.min", "valid number", "'high'"],
    ),
    (
        "missing-threshold",
        BASE_RULE.replace("    threshold: {min: 0.8}\n", ""),
        "- id: r1",
        ["required field 'threshold' is missing", "threshold: {min: 0.8}"],
    ),
    (
        "duplicate-rule-id",
        BASE_RULE + BASE_RULE.split("rules:\n")[1],
        None,
        ["duplicate rule id 'r1'", "first used at line 4"],
    ),
    (
        "unknown-top-field",
        BASE_RULE.replace("rules:", "rulez:"),
        "rulez:",
        ["unknown field 'rulez'", "did you mean 'rules'"],
    ),
    (
        "unknown-rule-field",
        BASE_RULE + "    thresold: {min: 1}\n",
        "thresold:",
        ["rules[0].thresold", "unknown field 'thresold'", "did you mean 'threshold'"],
    ),
    (
        "schema-version",
        BASE_RULE.replace("schema_version: 1", "schema_version: 2"),
        "schema_version: 2",
        ["schema_version", "expected one of: 1", "found 2"],
    ),
    ("yaml-syntax", BASE_RULE.replace("    metric:", "   metric:"), None, ["invalid YAML"]),
    (
        "python-tag",
        BASE_RULE.replace("name: demo", "name: !!python/object/apply:os.system [id]"),
        "name: !!python",
        ["YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed"],
    ),
    (
        "duplicate-key",
        BASE_RULE.replace("name: demo", "name: demo\nname: again"),
        "name: again",
        ["duplicate key 'name'"],
    ),
    (
        "python-tag-mapping",
        BASE_RULE.replace("name: demo", "name: !!python/object:os.Foo {a: 1}"),
        "name: !!python",
        ["YAML tag 'tag:yaml.org,2002:python/object:os.Foo' is not allowed"],
    ),
    ("top-level-list", "- just\n- a list\n", "- just", ["expected a mapping at the top level"]),
    ("empty", "", None, ["policy file is empty", "schema_version: 1"]),
    (
        "no-rules",
        "schema_version: 1\nname: demo\nrules: []\n",
        "rules: []",
        ["rules", "the policy has no rules (none of its own and none inherited)"],
    ),
    (
        "ambiguous-bare-threshold",
        BASE_RULE.replace("demographic_parity_ratio", "selection_rate").replace(
            "{min: 0.8}", "0.8"
        ),
        "- id: r1",
        ["ambiguous for metric 'selection_rate'", "threshold: {min: 0.8}"],
    ),
    (
        "min-above-max",
        BASE_RULE.replace("{min: 0.8}", "{min: 0.9, max: 0.1}"),
        "threshold:",
        ["min (0.9) is greater than max (0.1)"],
    ),
    (
        "empty-threshold",
        BASE_RULE.replace("{min: 0.8}", "{}"),
        "threshold:",
        ["threshold needs 'min', 'max' or both"],
    ),
    (
        "bad-severity",
        BASE_RULE + "    severity: fatal\n",
        "severity: fatal",
        ["expected one of: error, warning", "'fatal'"],
    ),
    (
        "no-sensitive-features",
        BASE_RULE.replace("[sex]", "[]"),
        "sensitive_features:",
        ["sensitive_features", "at least 1 item"],
    ),
    (
        "missing-kind",
        BASE_RULE.replace("    kind: fairness\n", ""),
        "- id: r1",
        ["rule has no 'kind'", "fairness, performance, explanation, lineage"],
    ),
    (
        "unknown-metadata-field",
        "schema_version: 1\nname: d\nrules:\n  - id: doc\n    kind: lineage\n"
        "    requirement: metadata_present\n    fields: [ownr, intended_use]\n",
        "fields:",
        ["unknown model metadata field 'ownr'", "did you mean 'owner'"],
    ),
    # a NaN bound compares false both ways: every rule would pass (a gate bypass)
    (
        "nan-threshold",
        BASE_RULE.replace("{min: 0.8}", "{min: .nan}"),
        "threshold:",
        ["rules[0].threshold.min", "finite number"],
    ),
    (
        "nan-bare-threshold",
        BASE_RULE.replace("{min: 0.8}", ".NaN"),
        "threshold:",
        ["rules[0].threshold", "finite number"],
    ),
    (
        "infinite-threshold",
        BASE_RULE.replace("{min: 0.8}", "{min: 0.8, max: .inf}"),
        "threshold:",
        ["rules[0].threshold.max", "finite number"],
    ),
    (  # was "input should be a valid dictionary or instance of Threshold"
        "quoted-threshold",
        BASE_RULE.replace("{min: 0.8}", '"0.8"'),
        "threshold:",
        [
            "rules[0].threshold: expected a number or a {min: ..., max: ...} mapping, found "
            "text '0.8' (write the number without quotes, e.g. threshold: 0.8)"
        ],
    ),
    (
        "list-threshold",
        BASE_RULE.replace("{min: 0.8}", "[0.8]"),
        "threshold:",
        ["rules[0].threshold: expected a number or a {min: ..., max: ...} mapping, found a list"],
    ),
    (
        "bad-rule-id",
        BASE_RULE.replace("id: r1", "id: 'has spaces'"),
        "id: 'has spaces'",
        ["rules[0].id", "pattern"],
    ),
]


@pytest.mark.parametrize("case,text,line_marker,fragments", BAD, ids=[b[0] for b in BAD])
def test_malformed_policy_names_file_line_and_fix(tmp_path, case, text, line_marker, fragments):
    path = write(tmp_path, text, name=f"{case}.yaml")
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    err = info.value
    message = str(err)
    assert message.startswith(str(path)), message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    if line_marker is not None:
        expected = next(i for i, line in enumerate(text.splitlines(), 1) if line_marker in line)
        assert err.line == expected, message
        assert f"{path}:{expected}:" in message
    if case != "empty":
        assert err.line is not None, message


def test_alias_bomb_is_refused_quickly(tmp_path):
    lines = ["schema_version: 1", "name: bomb", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    lines.append("rules: *a8")
    path = write(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(PolicyError, match="more than 20,000 YAML nodes") as info:
        load_policy(path)
    assert "alias bomb" in str(info.value)


def test_oversized_policy_is_refused_before_parsing(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_bytes(b"# " + b"x" * (MAX_POLICY_BYTES + 10) + b"\n")
    with pytest.raises(PolicyError, match="the limit is 1,048,576") as info:
        load_policy(path)
    assert str(path) in str(info.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(PolicyError, match="policy file not found"):
        load_policy(tmp_path / "nope.yaml")
    with pytest.raises(PolicyError, match="found a directory"):
        load_policy(tmp_path)


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(PolicyError, match="not valid UTF-8"):
        load_policy(path)


def test_several_problems_are_all_reported(tmp_path):
    text = BASE_RULE.replace("kind: fairness", "kind: fairnes") + (
        "  - id: r2\n    kind: performance\n    metric: acuracy\n    threshold: {min: 1}\n"
    )
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    lines = str(info.value).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{path}:5:")
    assert lines[1].startswith(f"{path}:11:") and "did you mean 'accuracy'" in lines[1]
