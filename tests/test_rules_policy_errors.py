"""Bad policies using the new rule kinds and options: each names file:line, the key path and
a fix hint -- through the loader and `govkit policy lint` (exit 2). The 100 ms target is
measured by benchmarks/bench_policy_errors.py, not asserted here."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from govkit.cli._app import app
from govkit.exceptions import PolicyError
from govkit.policy import RULE_KINDS, Policy, load_policy
from govkit.policy._errors import _RULE_CLASSES

HEAD = "schema_version: 1\nname: demo\nrules:\n"

# (case, rule lines, text on the line the error points at, message fragments, hint)
BAD = [
    (
        "psi-p-value",
        "- id: d\n  kind: drift\n  statistic: psi\n  judge_on: p_value\n  threshold: 0.2",
        "judge_on: p_value",
        ["rules[0].judge_on", "the population stability index has no p-value"],
        "use statistic: ks or chi2 for a test with a p-value, or remove 'judge_on'",
    ),
    (
        "drift-no-threshold",
        "- id: d\n  kind: drift\n  statistic: psi",
        "- id: d",
        ["rules[0]", "drift rule needs 'threshold' or a bound for every feature"],
        "add e.g. 'threshold: {max: 0.2}'",
    ),
    (
        "drift-feature-without-bound",
        "- id: d\n  kind: drift\n  statistic: chi2\n  features: {workclass: 0.01, sex: null}",
        "- id: d",
        ["(no bound for: sex)"],
        "add e.g. 'threshold: {min: 0.01}'",
    ),
    (
        "bins-for-ks",
        "- id: d\n  kind: drift\n  statistic: ks\n  threshold: 0.1\n  bins: 20",
        "bins: 20",
        ["rules[0].bins", "'bins' does not apply to statistic 'ks' (only to: psi)"],
        "remove 'bins', or use statistic: psi",
    ),
    (
        "features-of-prediction",
        "- id: d\n  kind: drift\n  statistic: ks\n  scope: prediction\n  threshold: 0.1\n"
        "  features: [age]",
        "features: [age]",
        ["rules[0].features", "'features' does not apply to drift on the prediction"],
        "remove 'features', or use 'scope: features'",
    ),
    (
        "misspelt-statistic",
        "- id: d\n  kind: drift\n  statistic: pis\n  threshold: 0.2",
        "statistic: pis",
        ["rules[0].statistic", "expected one of: psi, ks, chi2; found 'pis'"],
        "did you mean 'psi'?",
    ),
    (
        "misspelt-drift-field",
        "- id: d\n  kind: drift\n  statistic: psi\n  treshold: 0.2",
        "treshold: 0.2",
        ["rules[0].treshold", "unknown field 'treshold'"],
        "did you mean 'threshold'?",
    ),
    (
        "misspelt-kind",
        "- id: d\n  kind: drfit\n  statistic: psi\n  threshold: 0.2",
        "kind: drfit",
        ["unknown rule kind 'drfit'", "drift, champion_challenger"],
        "did you mean 'drift'?",
    ),
    (
        "champion-compares-nothing",
        "- id: c\n  kind: champion_challenger\n  champion: credit@1",
        "- id: c",
        ["champion_challenger rule compares nothing"],
        "add e.g. 'metrics: {accuracy: {max_drop: 0.01}}'",
    ),
    (
        "champion-misspelt-metric",
        "- id: c\n  kind: champion_challenger\n  champion: credit\n"
        "  metrics:\n    acuracy: {max_drop: 0.01}",
        "acuracy:",
        ["rules[0].metrics.acuracy", "found 'acuracy'"],
        "did you mean 'accuracy'?",
    ),
    (
        "champion-bad-ref",
        "- id: c\n  kind: champion_challenger\n  champion: credit@Latest\n"
        "  metrics: {accuracy: 0.01}",
        "champion: credit@Latest",
        ["rules[0].champion", "should match pattern", "found text 'credit@Latest'"],
        "write NAME, NAME@ALIAS or NAME@VERSION, e.g. credit, credit@production or credit@3",
    ),
    (
        "champion-negative-margin",
        "- id: c\n  kind: champion_challenger\n  champion: credit\n"
        "  metrics:\n    accuracy: {max_drop: -0.01}",
        "accuracy: {max_drop: -0.01}",
        ["rules[0].metrics.accuracy.max_drop", "greater than or equal to 0"],
        "use a number >= 0.0",
    ),
    (
        "champion-gap-misspelt",
        "- id: c\n  kind: champion_challenger\n  champion: credit\n  fairness:\n"
        "    - {metric: demographic_parity_diference, sensitive_features: [sex]}",
        "demographic_parity_diference",
        ["rules[0].fairness[0].metric"],
        "did you mean 'demographic_parity_difference'?",
    ),
    (
        "fidelity-no-threshold",
        "- id: e\n  kind: explanation\n  metric: fidelity",
        "- id: e",
        ["required field 'threshold' is missing (metric 'fidelity' is judged against a bound)"],
        "add e.g. 'threshold: {max: 1.0e-6}'",
    ),
    (
        "fidelity-yaml-float",
        "- id: e\n  kind: explanation\n  metric: fidelity\n  threshold: 1e-6",
        "threshold: 1e-6",
        ["rules[0].threshold", "found text '1e-6'"],
        "YAML reads 1e-6 as text: write the mantissa with a point, e.g. 1.0e-6",
    ),
    (
        "top-k-with-threshold",
        "- id: e\n  kind: explanation\n  metric: sensitive_not_in_top_k\n  threshold: 0.5",
        "threshold: 0.5",
        ["rules[0].threshold", "'threshold' does not apply to metric 'sensitive_not_in_top_k'"],
        "remove 'threshold'",
    ),
    (
        "tolerance-on-stability",
        "- id: e\n  kind: explanation\n  metric: stability\n  threshold: 0.0\n  tolerance: 1.0e-6",
        "tolerance:",
        ["rules[0].tolerance", "'tolerance' does not apply to metric 'stability'"],
        "remove 'tolerance', or use metric: coverage",
    ),
    (
        "method-without-required",
        "- id: e\n  kind: explanation\n  metric: method",
        "- id: e",
        ["metric 'method' needs 'required_method'"],
        "add e.g. 'required_method: tree' (tree, linear or permutation)",
    ),
    (
        "misspelt-method",
        "- id: e\n  kind: explanation\n  metric: method\n  required_method: treee",
        "required_method: treee",
        ["rules[0].required_method: expected one of: tree, linear", "found 'treee'"],
        "did you mean 'tree'?",
    ),
    (
        "k-zero",
        "- id: e\n  kind: explanation\n  metric: proxy_not_in_top_k\n  k: 0",
        "k: 0",
        ["rules[0].k", "greater than or equal to 1"],
        "use a number >= 1",
    ),
    (
        "sources-without-allowed",
        "- id: l\n  kind: lineage\n  requirement: sources_allowed",
        "- id: l",
        ["requirement 'sources_allowed' needs a non-empty 'allowed'"],
        "add e.g. 'allowed: ['s3://corp-data/*', 'https://data.example.org/']'",
    ),
    (
        "empty-pii-columns",
        "- id: l\n  kind: lineage\n  requirement: pii_absent\n  columns: []",
        "columns: []",
        ["rules[0].columns", "requirement 'pii_absent' needs a non-empty 'columns'"],
        "add e.g. 'columns: [name, ssn, email]'",
    ),
    (
        "days-on-the-wrong-requirement",
        "- id: l\n  kind: lineage\n  requirement: pii_absent\n  columns: [ssn]\n  days: 30",
        "days: 30",
        ["rules[0].days", "'days' does not apply to requirement 'pii_absent'"],
        "remove 'days', or use requirement: max_data_age_days",
    ),
    (
        "negative-age",
        "- id: l\n  kind: lineage\n  requirement: max_data_age_days\n  days: -1",
        "days: -1",
        ["rules[0].days", "greater than or equal to 0"],
        "use a number >= 0",
    ),
    (
        "misspelt-requirement",
        "- id: l\n  kind: lineage\n  requirement: pii_abesnt\n  columns: [ssn]",
        "requirement: pii_abesnt",
        ["rules[0].requirement", "found 'pii_abesnt'"],
        "did you mean 'pii_absent'?",
    ),
    (
        "group-size-without-by",
        "- id: p\n  kind: performance\n  metric: accuracy\n  threshold: 0.8\n  min_group_size: 30",
        "min_group_size: 30",
        ["rules[0].min_group_size", "'min_group_size' applies only to per-group bounds"],
        "add e.g. 'by: [sex]', or remove 'min_group_size'",
    ),
    (
        "misspelt-regression-metric",
        "- id: p\n  kind: performance\n  metric: rsme\n  threshold: 3",
        "metric: rsme",
        ["rules[0].metric", "found 'rsme'"],
        "did you mean 'rmse'?",
    ),
]


def _indent(rule: str) -> str:
    return "".join(f"  {line}\n" for line in rule.splitlines())


@pytest.mark.parametrize("case,rule,marker,fragments,hint", BAD, ids=[b[0] for b in BAD])
def test_bad_rule_names_file_line_path_and_hint(tmp_path, case, rule, marker, fragments, hint):
    text = HEAD + _indent(rule)
    path = tmp_path / f"{case}.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    err = info.value
    line = next(i for i, t in enumerate(text.splitlines(), 1) if marker in t)
    assert err.file == str(path) and err.line == line, str(err)
    assert str(err).startswith(f"{path}:{line}:"), str(err)
    for fragment in fragments:
        assert fragment in str(err), f"{fragment!r} not in {err}"
    assert err.hint == hint, str(err)


def test_policy_lint_exits_2_with_the_location_and_hint(tmp_path):
    _, rule, marker, _, hint = BAD[0]
    path = tmp_path / "p.yaml"
    path.write_text(HEAD + _indent(rule), encoding="utf-8")
    result = CliRunner().invoke(app, ["policy", "lint", str(path)])
    assert result.exit_code == 2
    assert f"{path}:7:" in result.stderr and hint in result.stderr


def test_every_rule_kind_has_a_model_for_error_hints():
    assert set(_RULE_CLASSES) == set(RULE_KINDS)


GOOD = """\
schema_version: 1
name: every-new-kind
rules:
  - {id: d1, kind: drift, statistic: psi, threshold: 0.2, features: {age: 0.1, workclass: null}}
  - {id: d2, kind: drift, statistic: ks, scope: prediction, threshold: 0.1}
  - {id: d3, kind: drift, statistic: chi2, threshold: 0.01, features: [workclass]}
  - {id: c, kind: champion_challenger, champion: credit, metrics: {accuracy: 0.01},
     fairness: [{metric: impact_ratio, sensitive_features: [race], max_widening: 0.02}]}
  - {id: e, kind: explanation, metric: proxy_not_in_top_k, k: 3, max_association: 0.3}
  - {id: l, kind: lineage, requirement: sources_allowed, allowed: ['s3://corp/*']}
  - {id: p, kind: performance, metric: rmse, threshold: 3, by: sex, min_group_size: 30}
"""


def test_valid_new_rules_load_with_their_shorthands(tmp_path):
    path = tmp_path / "good.yaml"
    path.write_text(GOOD, encoding="utf-8")
    rules = {r.id: r for r in load_policy(path).policy.rules}
    d1, d2, d3 = rules["d1"], rules["d2"], rules["d3"]
    assert d1.threshold.max == 0.2 and d1.features["age"].max == 0.1
    assert d1.features["workclass"] is None and d1.check_id == "drift.psi"
    assert d2.check_id == "drift.prediction_ks" and d2.judged_on == "statistic"
    assert d3.judged_on == "p_value" and d3.threshold.min == 0.01  # a bare p-value: a floor
    assert rules["c"].metrics["accuracy"].max_drop == 0.01
    assert rules["c"].check_id == "champion_challenger.no_regression"
    assert rules["p"].by == ["sex"] and rules["p"].threshold.max == 3  # rmse: lower is better
    # the JSON Schema (`govkit policy schema`, for editor completion) has the new kinds
    kinds = str(Policy.model_json_schema())
    assert "champion_challenger" in kinds and "'drift'" in kinds
