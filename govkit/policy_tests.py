"""Unit tests for policies (``govkit policy test DIR``), in the spirit of ``conftest verify``.

A test file (``*.yaml`` in DIR) names a policy and cases; each case gives recorded
decisions (a CSV/Parquet file with a prediction column) and the verdicts expected::

    policy: ../../policies/eeoc-four-fifths.yaml   # relative to this file, or a pack name
    cases:
      - name: equal selection rates pass
        data: fair.csv
        prediction_column: hired
        target: qualified
        positive_label: "yes"
        expect: PASS                               # the overall verdict
        rules: {eeoc-impact-ratio-sex: PASS}       # optional, per rule
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from govkit._resources import resource_dir
from govkit._yaml import Marks, YamlWalker
from govkit.data import read_table
from govkit.evaluate import evaluate
from govkit.exceptions import InputError, PolicyError, closest
from govkit.policy import builtin_packs, load_policy
from govkit.results import Status

__all__ = ["CaseOutcome", "run_policy_tests"]

_STATUSES = tuple(s.value for s in Status)
MAX_TEST_FILE_BYTES = 256 * 1024


class _Case(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    data: str
    prediction_column: str
    target: str
    score_column: str | None = None
    positive_label: str | int | bool | None = None
    expect: str = Field(pattern="^(PASS|WARN|FAIL)$")
    rules: dict[str, str] = Field(default_factory=dict)


class _TestFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: str
    cases: list[_Case] = Field(min_length=1)


@dataclass(frozen=True)
class CaseOutcome:
    file: str
    case: str
    ok: bool
    detail: str


def _read_test_file(path: Path) -> _TestFile:
    import yaml

    raw = path.read_bytes()
    if len(raw) > MAX_TEST_FILE_BYTES:
        raise InputError(f"{path}: policy test file is over {MAX_TEST_FILE_BYTES:,} bytes")
    marks: Marks = {}
    key_marks: Marks = {}
    try:
        node = yaml.compose(raw.decode("utf-8"), Loader=yaml.SafeLoader)
        obj = YamlWalker(str(path), marks, key_marks).build(node, ()) if node else None
    except PolicyError as exc:
        raise InputError(str(exc)) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: invalid YAML: {exc}") from None
    try:
        return _TestFile.model_validate(obj)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        # an unknown key ('dta') usually explains a missing one ('data'): report it first
        err = min(errors, key=lambda e: e["type"] != "extra_forbidden")
        loc = tuple(err["loc"])
        line = None
        for depth in range(len(loc), -1, -1):
            mark = key_marks.get(loc[:depth]) or marks.get(loc[:depth])
            if mark:
                line = mark[0]
                break
        where = f"{path}:{line}" if line else str(path)
        dotted = ".".join(map(str, loc)) or "(top level)"
        hint = ""
        if err["type"] == "extra_forbidden":
            model = _Case if "cases" in loc else _TestFile
            guess = closest(str(loc[-1]), model.model_fields)
            hint = f" (did you mean '{guess}'?)" if guess else ""
            hint += f"; expected keys: {', '.join(model.model_fields)}"
        raise InputError(f"{where}: {dotted}: {err['msg']}{hint}") from None


def run_policy_tests(directory: str | Path) -> list[CaseOutcome]:
    """Run every ``*.yaml`` policy test file in ``directory``; input problems raise."""
    folder = Path(directory)
    if not folder.is_dir():
        raise InputError(f"{directory}: not a directory of policy tests")
    files = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
    if not files:
        raise InputError(f"{directory}: no policy test files (*.yaml) found")
    outcomes: list[CaseOutcome] = []
    for path in files:
        spec = _read_test_file(path)
        if spec.policy in builtin_packs():
            policy = load_policy(str(resource_dir("policies") / f"{spec.policy}.yaml"))
        else:
            policy = load_policy(path.parent / spec.policy)
        for case in spec.cases:
            df = read_table(path.parent / case.data)
            if case.prediction_column not in df.columns:
                raise InputError(
                    f"{path}: case '{case.name}': data has no column '{case.prediction_column}'"
                )
            result = evaluate(
                policy,
                None,
                df,
                target=case.target,
                predictions=df[case.prediction_column].to_numpy(),
                scores=df[case.score_column].to_numpy(dtype=float) if case.score_column else None,
                positive_label=case.positive_label,
            )
            problems = []
            if result.status.value != case.expect:
                problems.append(f"verdict {result.status.value}, expected {case.expect}")
            statuses = {c.rule_id: c.status.value for c in result.checks}
            for rule_id, expected in case.rules.items():
                if rule_id not in statuses:
                    raise InputError(
                        f"{path}: case '{case.name}': the policy has no rule '{rule_id}'"
                    )
                if expected not in _STATUSES:
                    raise InputError(
                        f"{path}: case '{case.name}': unknown status '{expected}' for "
                        f"'{rule_id}'; expected one of: {', '.join(_STATUSES)}"
                    )
                if statuses[rule_id] != expected:
                    problems.append(f"{rule_id} {statuses[rule_id]}, expected {expected}")
            outcomes.append(
                CaseOutcome(
                    file=str(path),
                    case=case.name,
                    ok=not problems,
                    detail="; ".join(problems) or f"verdict {result.status.value}",
                )
            )
    return outcomes
