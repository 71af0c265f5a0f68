"""Evaluation results for the output-writer tests: every status, and hostile text.

``golden_result`` matches ``tests/golden/output/policy.yaml`` rule for rule; load that
policy with the working directory at the repository root so its path is relative.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from govkit.policy import LoadedPolicy, load_policy
from govkit.records import ModelRef
from govkit.results import (
    Bound,
    CheckResult,
    EvaluationResult,
    Interval,
    Status,
    Waiver,
)

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "output"
POLICY = "tests/golden/output/policy.yaml"  # relative to ROOT
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)

HOSTILE = (
    "store said: <script>alert(1)</script>\n"
    "::error file=x.yaml,line=1::forged, 100% | done @admins\r\n"
    "%0A::add-mask::secret `code` *bold* [link](http://x) ]]> &amp;"
)


def policy_lines(path: Path) -> dict[str, int]:
    """Line of each '- id: X' (or '- {id: X') in a policy file, found by reading it."""
    lines = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        stripped = line.strip().removeprefix("- ").removeprefix("{")
        if stripped.startswith("id:"):
            lines[stripped[3:].split(",")[0].strip()] = number
    return lines


def golden_policy() -> LoadedPolicy:
    return load_policy(POLICY)


def _check(rule_id: str, check_id: str, severity: str, status: Status, **kw) -> CheckResult:
    return CheckResult(
        rule_id=rule_id,
        check_id=check_id,
        kind=check_id.split(".")[0],
        severity=severity,  # type: ignore[arg-type]
        status=status,
        **kw,
    )


def golden_checks() -> tuple[CheckResult, ...]:
    return (
        _check(
            "four-fifths-sex",
            "fairness.demographic_parity_ratio",
            "error",
            Status.FAIL,
            description="EEOC four-fifths rule, 29 CFR 1607.4(D): selection rate of every "
            'group >= 80% of the highest | "quoted" <b>bold</b>.\n',
            value=0.6612,
            bound=Bound(min=0.8),
            message="demographic_parity_ratio by sex is 0.6612; required >= 0.8",
            interval=Interval(low=0.61, high=0.7, level=0.95, resamples=200, judged_on="estimate"),
        ),
        _check(
            "accuracy",
            "performance.accuracy",
            "error",
            Status.PASS,
            description="At least 80% of cases classified correctly.",
            value=0.8712,
            bound=Bound(min=0.8),
            message="accuracy is 0.8712",
        ),
        _check(
            "equalized-odds-sex",
            "fairness.equalized_odds_difference",
            "warning",
            Status.WARN,
            description="True and false positive rates differ by at most 10 points.",
            value=0.1234,
            bound=Bound(max=0.1),
            message="equalized_odds_difference by sex is 0.1234; required <= 0.1",
        ),
        _check(
            "roc-auc",
            "performance.roc_auc",
            "error",
            Status.WAIVED,
            value=0.83,
            bound=Bound(min=0.85),
            message="roc_auc is 0.83; required >= 0.85",
            waiver=Waiver(
                rule_id="roc-auc",
                model="credit",
                justification="vendor retrains in Q3 (ticket RISK-12)",
                approver="head-of-risk",
                expires=date(2030, 1, 31),
            ),
            unmet_status=Status.FAIL,
        ),
        _check(
            "explanation-coverage",
            "explanation.coverage",
            "error",
            Status.NOT_APPLICABLE,
            description="GDPR Art. 15(1)(h) -- every decision can be explained.",
            bound=Bound(min=0.99),
            message="needs the model itself; only recorded predictions were given",
        ),
        _check(
            "training-data-lineage",
            "lineage.training_data_registered",
            "error",
            Status.ERROR,
            message=HOSTILE,
        ),
        _check(
            "selection-rate-sex-race",
            "fairness.selection_rate",
            "warning",
            Status.PASS,
            value=float("nan"),
            bound=Bound(min=0.02),
        ),
    )


def make_result(
    checks: tuple[CheckResult, ...],
    *,
    policy_digest: str = "sha256:" + "0" * 64,
    policy_path: str | None = POLICY,
    policy_name: str = "golden-credit",
    model: ModelRef | None = None,
) -> EvaluationResult:
    return EvaluationResult(
        policy_name=policy_name,
        policy_path=policy_path,
        policy_digest=policy_digest,
        model=model or ModelRef(name="credit", version=3),
        data_fingerprint="sha256:" + "e" * 64,
        n_rows=16281,
        started_at=T0,
        finished_at=T0 + timedelta(seconds=12, milliseconds=345),
        govkit_version="0.1.0",
        checks=checks,
    )


def golden_result(policy: LoadedPolicy) -> EvaluationResult:
    return make_result(golden_checks(), policy_digest=policy.digest)


def hostile_result() -> EvaluationResult:
    """Text in every free field that tries to break out of its format."""
    long = "long " * 20_000  # 100,000 characters
    checks = tuple(
        c.model_copy(
            update={
                "message": HOSTILE + ("\x00\x07\x1b[31m\ud800" if i % 2 else "") + long * (i == 0),
                "description": HOSTILE,
                "rule_id": f"{c.rule_id}::x,y:z\n::warning::r" if i == 2 else c.rule_id,
            }
        )
        for i, c in enumerate(golden_checks())
    )
    return make_result(
        checks,
        policy_name="evil\n::error::name | <i>x</i>",
        policy_path="policies/we ird,name:%.yaml",
        model=ModelRef(name="m\n::notice::x", version=1),
    )


# ------------------------------------------------------------------ schema validation

SCHEMAS = ROOT / "tests" / "schemas"
_cache: dict[str, object] = {}


def sarif_validator():
    """Validator of the vendored OASIS SARIF 2.1.0 schema, formats (uri, date-time) checked."""
    if "sarif" not in _cache:
        import json

        import jsonschema

        schema = json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        _cache["sarif"] = cls(schema, format_checker=jsonschema.FormatChecker())
    return _cache["sarif"]


def junit_schema():
    """The vendored Jenkins / Surefire ``junit-10.xsd``."""
    if "junit" not in _cache:
        import xmlschema

        _cache["junit"] = xmlschema.XMLSchema10(str(SCHEMAS / "junit-10.xsd"))
    return _cache["junit"]


def validate_sarif(text: str) -> dict:
    import json

    log = json.loads(text)
    errors = sorted(sarif_validator().iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])
    return log


def validate_junit(text: str):
    import xml.etree.ElementTree as ET

    root = ET.fromstring(text.encode("utf-8"))
    junit_schema().validate(text)
    return root


def parse_workflow_commands(text: str) -> list[tuple[str, dict[str, str], str]]:
    """Read stdout as the Actions runner does: a line whose trimmed start is '::' is a command.

    Returns (command, properties, message) with the runner's unescaping applied.
    """

    def unescape(value: str, prop: bool) -> str:
        pairs = [("%0D", "\r"), ("%0A", "\n")] + ([("%3A", ":"), ("%2C", ",")] if prop else [])
        for enc, dec in pairs + [("%25", "%")]:
            value = value.replace(enc, dec)
        return value

    import re

    out = []
    for line in re.split(r"\r\n|\r|\n", text):  # the runner's line breaks, not str.splitlines
        line = line.lstrip()
        if not line.startswith("::"):
            continue
        end = line.index("::", 2)
        head, data = line[2:end], line[end + 2 :]
        name, _, props_text = head.partition(" ")
        props = {}
        for item in filter(None, props_text.split(",")):
            key, _, value = item.partition("=")
            props[key] = unescape(value, True)
        out.append((name, props, unescape(data, False)))
    return out


# ------------------------------------------------------------------ examples/ci hooks


def hooks() -> list[dict]:
    import yaml

    text = (ROOT / "examples" / "ci" / "pre-commit-hooks.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def run_hook(hook_id: str, files: list[str], env: dict[str, str], cwd: Path):
    """Run a hook as pre-commit does: its entry split like a shell line, file names appended."""
    (hook,) = [h for h in hooks() if h["id"] == hook_id]
    import os
    import shlex
    import subprocess
    import sys

    bin_dir = Path(sys.executable).parent  # where the `govkit` console script is installed
    full_env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", **env}
    return subprocess.run(
        [*shlex.split(hook["entry"]), *files],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
