"""The gate on the Dask engine: `govkit check --engine dask` equals the in-memory run.

One LocalCluster (2 workers x 1 thread, in this process) serves the module; the CLI and
the Python API reach it by address, as they would a remote scheduler. The data are 8,000
rows of UCI Adult's test split, as a CSV and as a directory of Parquet files; the model
is the session's gradient-boosted pipeline, registered through the CLI.
"""

from __future__ import annotations

import json
import shutil
import socket
import sys

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

import dask  # noqa: E402

from govkit.checks._dask import fingerprint_dask  # noqa: E402
from govkit.cli._app import app  # noqa: E402
from govkit.data import fingerprint, read_table  # noqa: E402
from govkit.evaluate import evaluate  # noqa: E402
from govkit.exceptions import InputError, MissingDependencyError  # noqa: E402
from govkit.policy import load_policy  # noqa: E402
from govkit.results import Status  # noqa: E402
from govkit.store import Store  # noqa: E402
from govkit.workflows import check, register_dataset  # noqa: E402

# dask's Parquet reader (2026.8) calls reset_index(inplace=True), which pandas 3.1 deprecates;
# the workers run in this process, so the warning would reach pytest's "error" filter
pytestmark = pytest.mark.filterwarnings(
    "ignore:The inplace keyword in DataFrame.reset_index is deprecated"
)

HGB_TYPE = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"
META = """\
owner: team@example.org
contact: risk@example.org
intended_use: tests
target: income
positive_label: ">50K"
sensitive_features: [sex, race]
"""
# Every rule family, passing and failing rules (dp fails: the gate exits 1 in both engines).
POLICY = """\
schema_version: 1
name: dask-gate
rules:
  - {id: acc, kind: performance, metric: accuracy, threshold: 0.8}
  - {id: f1, kind: performance, metric: f1, threshold: 0.6}
  - {id: auc, kind: performance, metric: roc_auc, threshold: 0.85}
  - {id: logloss, kind: performance, metric: log_loss, threshold: {max: 0.5}}
  - {id: acc-by-race, kind: performance, metric: balanced_accuracy, by: [race],
     threshold: 0.6, min_group_size: 100}
  - {id: ap-by-sex, kind: performance, metric: average_precision, by: [sex], threshold: 0.5}
  - {id: dp, kind: fairness, metric: demographic_parity_ratio, sensitive_features: [sex],
     threshold: 0.8}
  - {id: eo, kind: fairness, metric: equalized_odds_difference,
     sensitive_features: [sex, race], threshold: {max: 0.5}, min_group_size: 50,
     severity: warning}
  - {id: ir, kind: fairness, metric: impact_ratio, sensitive_features: [race],
     reference_group: [White], threshold: 0.2}
  - {id: tpr-ci, kind: fairness, metric: true_positive_rate, sensitive_features: [sex],
     threshold: 0.3, confidence_interval: {resamples: 50, seed: 7, judge_on: lower}}
  - {id: drift-psi, kind: drift, statistic: psi, threshold: {max: 0.25},
     features: {age: null, workclass: null, hours-per-week: null}}
  - {id: drift-chi2, kind: drift, statistic: chi2, features: {education: null},
     threshold: {min: 0.01}, severity: warning}
  - {id: coverage, kind: explanation, metric: coverage, threshold: 0.99, sample: 150}
  - {id: proxy, kind: explanation, metric: proxy_not_in_top_k, k: 3,
     sensitive_features: [sex], max_association: 0.9}
  - {id: fingerprint, kind: lineage, requirement: data_fingerprint}
  - {id: docs, kind: documentation, fields: [owner, contact]}
"""


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as c:
        yield c


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, adult_files):
    """Adult registered through the CLI, evaluated on 8,000 test rows: a CSV and 4 Parquet files."""
    folder = tmp_path_factory.mktemp("dask-gate")
    db = f"sqlite:///{folder / 'govkit.db'}"
    (folder / "meta.yaml").write_text(META)
    (folder / "policy.yaml").write_text(POLICY)
    model = folder / "model.skops"
    shutil.copy(adult_files["model"], model)
    test = read_table(adult_files["test"]).iloc[:8_000]
    csv = folder / "eval.csv"
    test.to_csv(csv, index=False)
    parquet = folder / "eval-parquet"
    parquet.mkdir()
    for i, start in enumerate(range(0, len(test), 2_000)):
        test.iloc[start : start + 2_000].to_parquet(parquet / f"part-{i}.parquet", index=False)
    for name, path in (("adult-train", adult_files["train"]), ("adult-eval", csv)):
        r = run("dataset", "register", str(path), "--name", name, "--db", db)
        assert r.exit_code == 0, r.output
    for _ in range(2):  # credit@1, and credit@2 (the same artifact) for champion rules
        r = run(
            "model", "register", str(model), "--name", "credit",
            "--training-data", "adult-train", "--evaluation-data", "adult-eval@1",
            "--meta", str(folder / "meta.yaml"), "--trust-type", HGB_TYPE, "--db", db,
        )  # fmt: skip
        assert r.exit_code == 0, r.output
    return {**adult_files, "test": csv, "dir": folder, "db": db, "parquet": parquet, "frame": test}


def _gate(workspace, *extra: str):
    return run(
        "check", str(workspace["dir"] / "policy.yaml"), "--model", "credit@1",
        "--reference-data", str(workspace["train"]), "--trust-type", HGB_TYPE,
        "--format", "json", "--db", workspace["db"], *extra,
    )  # fmt: skip


@pytest.fixture(scope="module")
def pandas_gate(workspace):
    """The in-memory run of POLICY, once for the module."""
    return _gate(workspace, "--data", str(workspace["test"]))


def _by_rule(output: str) -> dict:
    return {c["rule_id"]: c for c in json.loads(output)["checks"]}


def _assert_same_checks(ours: dict, theirs: dict) -> None:
    """Same statuses; values, intervals and group metrics to 1e-12."""
    assert ours.keys() == theirs.keys()
    for rule_id, a in ours.items():
        b = theirs[rule_id]
        assert a["status"] == b["status"], (rule_id, a["message"], b["message"])
        if a["value"] is None:
            assert b["value"] is None, rule_id
        else:
            assert b["value"] == pytest.approx(a["value"], rel=1e-12, abs=1e-12), rule_id
        if a.get("interval"):
            for end in ("low", "high"):
                assert b["interval"][end] == pytest.approx(a["interval"][end], abs=1e-12)
        evidence_a, evidence_b = a.get("evidence") or {}, b.get("evidence") or {}
        for ga, gb in zip(evidence_a.get("groups", ()), evidence_b.get("groups", ()), strict=True):
            assert (ga["group"], ga["count"], ga["judged"]) == (
                gb["group"],
                gb["count"],
                gb["judged"],
            )
            for metric, value in ga["metrics"].items():
                other = gb["metrics"][metric]
                assert (value is None) == (other is None), (rule_id, metric)
                if value is not None:
                    assert other == pytest.approx(value, rel=1e-12, abs=1e-12), (rule_id, metric)
        if "features" in evidence_a:  # drift: every feature's statistic
            for fa, fb in zip(evidence_a["features"], evidence_b["features"], strict=True):
                assert fa["feature"] == fb["feature"]
                assert fb["value"] == pytest.approx(fa["value"], rel=1e-12, abs=1e-12)


# -- the CLI --------------------------------------------------------------------------------


def test_cli_dask_engine_on_a_cluster_equals_the_pandas_run(workspace, cluster, pandas_gate):
    pandas_run = pandas_gate
    assert pandas_run.exit_code == 1, pandas_run.output
    before = cluster.scheduler.transition_counter
    dask_run = _gate(
        workspace,
        "--data", str(workspace["parquet"]),
        "--engine", "dask",
        "--dask-scheduler", cluster.scheduler_address,
    )  # fmt: skip
    assert cluster.scheduler.transition_counter > before  # the work ran on the cluster
    assert pandas_run.exit_code == dask_run.exit_code == 1, dask_run.output
    ours, theirs = _by_rule(pandas_run.stdout), _by_rule(dask_run.stdout)
    _assert_same_checks(ours, theirs)
    statuses = {r: c["status"] for r, c in theirs.items()}
    assert statuses["dp"] == "FAIL"  # the model's selection rates differ by sex
    assert statuses["fingerprint"] == "PASS"  # the Parquet rows are the registered CSV's
    assert "ERROR" not in statuses.values(), {r: c["message"] for r, c in theirs.items()}
    # the dask run is in the audit log like any other
    assert "recorded as policy run" in dask_run.stderr
    assert json.loads(dask_run.stdout)["n_rows"] == len(workspace["frame"])


SMALL_POLICY = """\
schema_version: 1
name: dask-gate
rules:
  - {id: acc-by-race, kind: performance, metric: balanced_accuracy, by: [race],
     threshold: 0.6, min_group_size: 100}
  - {id: dp, kind: fairness, metric: demographic_parity_ratio, sensitive_features: [sex],
     threshold: 0.8}
  - {id: fingerprint, kind: lineage, requirement: data_fingerprint}
"""


def test_cli_dask_engine_on_local_threads_and_a_glob(workspace, pandas_gate):
    """Without --dask-scheduler the partitions run on threads in this process."""
    small = workspace["dir"] / "small.yaml"
    small.write_text(SMALL_POLICY)
    dask_run = run(
        "check", str(small), "--model", "credit@1", "--trust-type", HGB_TYPE,
        "--data", str(workspace["parquet"] / "part-*.parquet"), "--engine", "dask",
        "--format", "json", "--db", workspace["db"],
    )  # fmt: skip
    assert dask_run.exit_code == 1, dask_run.output
    ours = _by_rule(pandas_gate.stdout)
    _assert_same_checks(
        {k: ours[k] for k in ("acc-by-race", "dp", "fingerprint")}, _by_rule(dask_run.stdout)
    )


# -- the Python API ---------------------------------------------------------------------------


CHAMPION_POLICY = """\
schema_version: 1
name: champion
rules:
  - {id: acc, kind: performance, metric: accuracy, threshold: 0.8}
  - {id: dp, kind: fairness, metric: demographic_parity_difference,
     sensitive_features: [sex, race], threshold: {max: 0.1}, severity: warning}
  - {id: no-regression, kind: champion_challenger, champion: credit@1,
     metrics: {accuracy: {max_drop: 0.0}, roc_auc: {max_drop: 0.0}},
     fairness: [{metric: demographic_parity_ratio, sensitive_features: [sex]}]}
"""


def test_python_api_with_a_dask_dataframe_and_a_champion(workspace, cluster):
    policy = workspace["dir"] / "champion.yaml"
    policy.write_text(CHAMPION_POLICY)
    frame = dd.read_parquet(workspace["parquet"])
    with Store.open(workspace["db"]) as store:
        kw = dict(model="credit@2", store=store, trusted_types=[HGB_TYPE], record=False)
        in_memory = check(policy, data=workspace["test"], **kw).result
        on_dask = check(
            policy, data=frame, engine="dask", dask_scheduler=cluster.scheduler_address, **kw
        ).result
    assert [c.status for c in on_dask.checks] == [c.status for c in in_memory.checks]
    assert on_dask.checks[2].status == Status.PASS
    for a, b in zip(in_memory.checks, on_dask.checks, strict=True):
        assert b.value == pytest.approx(a.value, rel=1e-12, abs=1e-12)
    comparison = on_dask.checks[2].evidence.comparisons
    assert [c.worsening for c in comparison] == [0.0, 0.0, 0.0]  # the same model twice
    assert on_dask.data_fingerprint == in_memory.data_fingerprint
    assert on_dask.n_rows == in_memory.n_rows


RECORDED_POLICY = """\
schema_version: 1
name: recorded
rules:
  - {id: recall, kind: performance, metric: recall, threshold: 0.5}
  - {id: brier, kind: performance, metric: brier_score, threshold: {max: 0.2}}
  - {id: ir, kind: fairness, metric: impact_ratio, sensitive_features: [sex, race],
     threshold: 0.8, min_group_size: 30}
  - {id: coverage, kind: explanation, metric: coverage, threshold: 0.99}
"""


def test_recorded_predictions_on_dask_equal_the_in_memory_audit(workspace, adult_model, tmp_path):
    frame = workspace["frame"].copy()
    features = list(adult_model.feature_names_in_)
    frame["decision"] = adult_model.predict(frame[features])
    frame["score"] = adult_model.predict_proba(frame[features])[:, 1]
    folder = tmp_path / "decisions"
    folder.mkdir()
    for i in range(3):
        frame.iloc[i::3].to_parquet(folder / f"part-{i}.parquet", index=False)
    in_order = pd.concat([frame.iloc[i::3] for i in range(3)], ignore_index=True)
    policy = tmp_path / "recorded.yaml"
    policy.write_text(RECORDED_POLICY)
    kw = dict(
        prediction_column="decision",
        score_column="score",
        target="income",
        positive_label=">50K",
        record=False,
    )
    with Store.open(workspace["db"]) as store, dask.config.set(scheduler="synchronous"):
        in_memory = check(policy, data=in_order, store=store, **kw).result
        on_dask = check(policy, data=str(folder), store=store, engine="dask", **kw).result
    assert [c.status for c in on_dask.checks] == [c.status for c in in_memory.checks]
    assert on_dask.checks[3].status == Status.NOT_APPLICABLE  # explanations need the model
    for a, b in zip(in_memory.checks[:3], on_dask.checks[:3], strict=True):
        assert b.value == pytest.approx(a.value, rel=1e-12, abs=1e-12)
    assert on_dask.data_fingerprint == fingerprint(in_order)


def _regression_data(n: int = 3_000):
    rng = np.random.default_rng(11)
    frame = pd.DataFrame(
        {
            "x0": rng.normal(size=n),
            "x1": rng.gamma(2.0, size=n),
            "region": rng.choice(["north", "south", "east"], n),
        }
    )
    frame["y"] = 3 * frame["x0"] + frame["x1"] + (frame["region"] == "east") + rng.normal(size=n)
    return frame


REGRESSION_POLICY = """\
schema_version: 1
name: regression
rules:
  - {id: r2, kind: performance, metric: r2, threshold: 0.8}
  - {id: mae, kind: performance, metric: mae, threshold: {max: 1.0}}
  - {id: rmse-by, kind: performance, metric: rmse, by: [region], threshold: {max: 1.2}}
  - {id: mape, kind: performance, metric: mape, threshold: {max: 5.0}}
  - {id: drift, kind: drift, statistic: ks, features: {x0: null, x1: null}, threshold: 0.01}
  - {id: pred-drift, kind: drift, statistic: psi, scope: prediction, threshold: 0.1}
  - {id: proxy, kind: explanation, metric: proxy_not_in_top_k, k: 2,
     sensitive_features: [region], max_association: 0.5, sample: 50}
"""


def test_regression_metrics_drift_and_proxies_on_dask(tmp_path):
    """Sums and moments merged across partitions: equal up to float rounding."""
    from sklearn.linear_model import LinearRegression

    train, data = _regression_data(), _regression_data().sample(frac=1.0, random_state=3)
    data["x1"] = data["x1"] * 1.1  # some drift to measure
    model = LinearRegression().fit(train[["x0", "x1"]], train["y"])
    policy = tmp_path / "regression.yaml"
    policy.write_text(REGRESSION_POLICY)
    loaded = load_policy(policy)
    kw = dict(model=model, target="y", reference_data=train)
    in_memory = evaluate(loaded, None, data, **kw)
    with dask.config.set(scheduler="synchronous"):
        on_dask = evaluate(loaded, None, dd.from_pandas(data, npartitions=5, sort=False), **kw)
    for a, b in zip(in_memory.checks, on_dask.checks, strict=True):
        assert (a.rule_id, a.status) == (b.rule_id, b.status), (a.message, b.message)
        assert b.value == pytest.approx(a.value, rel=1e-10, abs=1e-12), a.rule_id
    assert {c.status for c in on_dask.checks} >= {Status.PASS, Status.FAIL}


def test_point_masses_and_missing_values_drift_the_same_on_dask(tmp_path):
    """PSI's point-mass and missing-value bins, and KS's missing share, in both engines."""
    from sklearn.linear_model import LinearRegression

    train, data = _regression_data(), _regression_data().sample(frac=1.0, random_state=3)
    train["gain"] = np.where(np.arange(len(train)) % 12 == 0, 5_000.0, 0.0)  # 92% zero
    data["gain"] = 50_000.0
    train["w"], data["w"] = train["x1"], data["x1"].where(data.index % 2 == 0)  # half missing
    model = LinearRegression().fit(train[["x0", "x1"]], train["y"])
    policy = tmp_path / "missing.yaml"
    policy.write_text(
        "schema_version: 1\nname: m\nrules:\n"
        "  - {id: psi, kind: drift, statistic: psi, features: [gain, w, x0], threshold: 0.2}\n"
        "  - {id: ks, kind: drift, statistic: ks, features: [w, x0], threshold: 0.5}\n"
    )
    loaded = load_policy(policy)
    kw = dict(model=model, target="y", reference_data=train)
    in_memory = evaluate(loaded, None, data, **kw)
    with dask.config.set(scheduler="synchronous"):
        on_dask = evaluate(loaded, None, dd.from_pandas(data, npartitions=5, sort=False), **kw)
    for a, b in zip(in_memory.checks, on_dask.checks, strict=True):
        assert (a.status, a.message) == (b.status, b.message)
        for fa, fb in zip(a.evidence.features, b.evidence.features, strict=True):
            assert fb.value == pytest.approx(fa.value, rel=1e-12, abs=1e-15), fa.feature
    psi = {f.feature: f.value for f in on_dask.checks[0].evidence.features}
    assert psi["gain"] > 10 and psi["w"] > 1 and psi["x0"] < 0.2
    assert on_dask.checks[1].status == Status.PASS
    assert (
        "left out of the KS statistic: w 50.0% of the evaluated rows" in on_dask.checks[1].message
    )


# -- exactness of the pieces ------------------------------------------------------------------


def test_every_rule_is_aggregated_in_one_read_of_the_data(workspace, adult_model):
    """The plan: the first read computes what fairness, performance and drift rules need."""
    from govkit.checks import get_check
    from govkit.evaluate import prepare_context

    policy = load_policy(workspace["dir"] / "policy.yaml").policy
    data = dd.read_parquet(workspace["parquet"])
    with dask.config.set(scheduler="synchronous"):
        ctx = prepare_context(
            policy,
            data,
            model=adult_model,
            model_record=None,
            target="income",
            positive_label=">50K",
            reference_data=read_table(workspace["train"]),
        )
        assert len(ctx.dask.passes) == 1
        counted = [r for r in policy.rules if r.kind in ("fairness", "performance", "drift")]
        for rule in counted:
            if rule.id != "tpr-ci":  # the bootstrap reads each row's cell once more
                get_check(rule.check_id).fn(rule, ctx)
    assert len(ctx.dask.passes) == 1
    assert len(ctx.dask.passes[0]) >= len(counted)


def test_fingerprint_of_parquet_partitions_is_the_registered_fingerprint(workspace):
    frame = dd.read_parquet(workspace["parquet"])
    with dask.config.set(scheduler="synchronous"):
        assert fingerprint_dask(frame, batch=3) == fingerprint(read_table(workspace["test"]))


def test_fingerprint_of_a_nullable_column_missing_in_one_partition_only():
    df = pd.DataFrame(
        {
            "n": pd.array([1, 2, 3, None, 5, 6], dtype="Int64"),
            "b": pd.array([True, False, True, True, None, False], dtype="boolean"),
            "f": [0.0, -0.0, np.nan, 1.5, 2.5, 3.5],
            "t": pd.to_datetime(
                ["2024-01-01", None, "2024-01-03", "2024-01-04", None, "2025-01-01"]
            ),
        }
    )
    frame = dd.from_pandas(df, npartitions=3, sort=False)
    assert not frame.partitions[0].compute()["n"].hasnans  # NA only in a later partition
    with dask.config.set(scheduler="synchronous"):
        assert fingerprint_dask(frame, batch=2) == fingerprint(df)


def test_an_error_in_one_rule_leaves_the_others_as_in_memory(adult_model, adult_test, tmp_path):
    """A missing value in one sensitive feature: that rule's ERROR in both engines only."""
    data = adult_test.copy()
    data.loc[data.index[5], "race"] = None
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "schema_version: 1\nname: p\nrules:\n"
        "  - {id: by-race, kind: fairness, metric: selection_rate, sensitive_features: [race],"
        " threshold: {min: 0.01}}\n"
        "  - {id: by-sex, kind: fairness, metric: selection_rate, sensitive_features: [sex],"
        " threshold: {min: 0.01}}\n"
    )
    loaded = load_policy(policy)
    kw = dict(model=adult_model, target="income", positive_label=">50K")
    in_memory = evaluate(loaded, None, data, **kw)
    with dask.config.set(scheduler="synchronous"):
        on_dask = evaluate(loaded, None, dd.from_pandas(data, npartitions=4, sort=False), **kw)
    assert [c.status for c in on_dask.checks] == [c.status for c in in_memory.checks]
    assert [c.status for c in on_dask.checks] == [Status.ERROR, Status.PASS]
    assert "missing values" in on_dask.checks[0].message
    assert "partition" in on_dask.checks[0].message  # where in the data


def test_order_independent_evaluation_data_is_an_error_not_a_guess(
    workspace, adult_model, tmp_path
):
    data = workspace["frame"]
    with Store.open(f"sqlite:///{tmp_path / 'g.db'}") as store:
        registered, _ = register_dataset(
            data, name="unordered", store=store, order_independent=True
        )
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "schema_version: 1\nname: p\nrules:\n"
        "  - {id: fp, kind: lineage, requirement: data_fingerprint}\n"
    )
    kw = dict(model=adult_model, target="income", evaluation_data=registered)
    with dask.config.set(scheduler="synchronous"):
        result = evaluate(
            load_policy(policy), None, dd.from_pandas(data, npartitions=2, sort=False), **kw
        )
    (fp,) = result.checks
    assert fp.status == Status.ERROR
    assert "order-independent" in fp.message and "--engine pandas" in fp.message
    assert evaluate(load_policy(policy), None, data, **kw).checks[0].status == Status.PASS


# -- bad input ---------------------------------------------------------------------------------


def test_dask_options_without_the_dask_engine_are_usage_errors(workspace):
    for option, value in (("--dask-scheduler", "tcp://127.0.0.1:8786"), ("--dask-timeout", "3")):
        r = _gate(workspace, "--data", str(workspace["test"]), option, value)
        assert r.exit_code == 2
        assert f"{option} applies to --engine dask only" in r.stderr
    r = _gate(workspace, "--data", str(workspace["test"]), "--engine", "spark")
    assert r.exit_code == 2
    assert "'spark'" in r.output and "--engine" in r.output


def test_an_unreachable_scheduler_is_exit_2_within_the_timeout(workspace):
    address = f"tcp://127.0.0.1:{_closed_port()}"
    r = _gate(
        workspace,
        "--data", str(workspace["parquet"]),
        "--engine", "dask",
        "--dask-scheduler", address,
        "--dask-timeout", "1",
    )  # fmt: skip
    assert r.exit_code == 2
    assert f"cannot connect to the Dask scheduler at '{address}'" in r.stderr
    assert "Check the address" in r.stderr


def test_bad_parquet_paths_are_exit_2_naming_the_path(workspace, tmp_path):
    missing = tmp_path / "no-such-folder"
    r = _gate(workspace, "--data", str(missing), "--engine", "dask")
    assert r.exit_code == 2
    assert f"{missing}: Parquet data not found" in r.stderr
    garbage = tmp_path / "broken.parquet"
    garbage.write_bytes(b"this is not parquet")
    r = _gate(workspace, "--data", str(garbage), "--engine", "dask")
    assert r.exit_code == 2
    assert f"{garbage}: cannot read as Parquet" in r.stderr
    r = _gate(workspace, "--data", str(workspace["test"]), "--engine", "dask")
    assert r.exit_code == 2
    assert f"{workspace['test']}: --engine dask reads Parquet" in r.stderr


def test_a_glob_that_matches_no_file_is_exit_2_naming_it(workspace, tmp_path):
    pattern = str(tmp_path / "no_such_dir" / "*.parquet")
    r = _gate(workspace, "--data", pattern, "--engine", "dask")
    assert r.exit_code == 2, r.output
    assert f"{pattern}: no files match this pattern" in r.stderr
    assert "Traceback" not in r.output and "recorded as policy run" not in r.stderr


def _categorical(frame: pd.DataFrame, *, ordered: bool = False) -> pd.DataFrame:
    cats = sorted(frame["sex"].unique())
    return frame.assign(sex=pd.Categorical(frame["sex"], categories=cats, ordered=ordered))


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        (
            _categorical,
            lambda f: f,
            "column 'sex' is categorical of string in {0} and string in {1}",
        ),
        (
            lambda f: f,
            _categorical,
            "column 'sex' is string in {0} and categorical of string in {1}",
        ),
        (
            _categorical,
            lambda f: _categorical(f, ordered=True),
            "column 'sex' is categorical of string in {0} and ordered categorical of string in {1}",
        ),
        (
            lambda f: f,
            lambda f: f.drop(columns=["race"]),
            "{1}: no column 'race', which {0} has",
        ),
    ],
    ids=["category-then-string", "string-then-category", "ordered-and-not", "missing-column"],
)
def test_parquet_files_that_disagree_are_exit_2_naming_the_files_and_column(
    workspace, tmp_path, first, second, expected
):
    data = workspace["frame"]
    folder = tmp_path / "parts"
    folder.mkdir()
    files = [folder / "part-0.parquet", folder / "part-1.parquet", folder / "part-2.parquet"]
    first(data.iloc[:3_000]).to_parquet(files[0], index=False)
    second(data.iloc[3_000:6_000]).to_parquet(files[1], index=False)
    second(data.iloc[6_000:]).to_parquet(files[2], index=False)
    for source in (str(folder), str(folder / "*.parquet")):
        r = _gate(workspace, "--data", source, "--engine", "dask")
        assert r.exit_code == 2, r.output
        assert expected.format(files[0], files[1]) in r.stderr
        assert "Traceback" not in r.output and "recorded as policy run" not in r.stderr


def test_missing_columns_and_targets_are_input_errors_before_any_rule(workspace, adult_model):
    data = workspace["frame"]
    policy = load_policy(workspace["dir"] / "policy.yaml")
    with dask.config.set(scheduler="synchronous"):
        lacking = dd.from_pandas(data.drop(columns=["sex"]), npartitions=2)
        with pytest.raises(InputError, match=r"lacks 1 column\(s\) it needs: 'sex' \(group"):
            evaluate(policy, None, lacking, model=adult_model, target="income")
        gaps = data.copy()
        gaps.loc[gaps.index[-1], "income"] = None
        with pytest.raises(InputError, match="target column 'income' has 1 missing value"):
            evaluate(
                policy,
                None,
                dd.from_pandas(gaps, npartitions=3),
                model=adult_model,
                target="income",
            )
        reserved = dd.from_pandas(data.assign(__govkit_prediction__=1), npartitions=2)
        with pytest.raises(InputError, match="reserved for the model output"):
            evaluate(policy, None, reserved, model=adult_model, target="income")
        frame = dd.from_pandas(data, npartitions=2, sort=False)
        with pytest.raises(InputError, match="give the recorded predictions as a column of it"):
            evaluate(policy, None, frame, predictions=np.zeros(len(data)), target="income")
        broken = dd.from_pandas(data.assign(age="old"), npartitions=2)
        with pytest.raises(InputError, match="the model cannot predict on this data"):
            evaluate(policy, None, broken, model=adult_model, target="income")


def test_the_python_api_refuses_mismatched_engines(workspace, tmp_path):
    policy = workspace["dir"] / "policy.yaml"
    with Store.open(workspace["db"]) as store:
        kw = dict(model="credit@1", store=store, trusted_types=[HGB_TYPE], record=False)
        with pytest.raises(InputError, match="got a pandas DataFrame"):
            check(policy, data=workspace["frame"], engine="dask", **kw)
        with pytest.raises(InputError, match="pass engine='dask'"):
            check(policy, data=dd.read_parquet(workspace["parquet"]), **kw)
        with pytest.raises(InputError, match="engine must be 'pandas' or 'dask'; got 'spark'"):
            check(policy, data=workspace["test"], engine="spark", **kw)


def test_without_the_dask_extra_the_error_says_how_to_install_it(workspace, monkeypatch):
    for name in list(sys.modules):
        if name == "dask" or name.startswith(("dask.", "distributed")):
            monkeypatch.setitem(sys.modules, name, None)
    with Store.open(workspace["db"]) as store:
        with pytest.raises(MissingDependencyError, match=r"pip install 'govkit\[dask\]'"):
            check(
                workspace["dir"] / "policy.yaml",
                data=workspace["parquet"],
                engine="dask",
                model="credit@1",
                store=store,
                trusted_types=[HGB_TYPE],
            )
    r = _gate(workspace, "--data", str(workspace["parquet"]), "--engine", "dask")
    assert r.exit_code == 2
    assert "pip install 'govkit[dask]'" in r.stderr


def test_a_declared_decision_threshold_decides_the_labels_on_dask_too(adult_model, adult_test):
    """metadata decision.threshold 0.2: the Dask engine judges the same decided labels as
    the in-memory run (positive-class probability >= 0.2), candidate and champion alike."""
    from datetime import UTC, datetime

    from govkit.evaluate import Champion
    from govkit.policy import parse_policy
    from govkit.records import DecisionSpec, ModelMetadata, ModelVersionRecord

    def record(version: int, threshold: float) -> ModelVersionRecord:
        return ModelVersionRecord(
            name="credit",
            version=version,
            artifact_uri="file:///model.skops",
            artifact_sha256="0" * 64,
            artifact_format="skops",
            flavour="sklearn",
            estimator="Pipeline",
            metadata=ModelMetadata(
                target="income", positive_label=">50K", decision=DecisionSpec(threshold=threshold)
            ),
            created_at=datetime.now(UTC),
        )

    policy = parse_policy(
        "schema_version: 1\nname: p\nrules:\n"
        "  - {id: acc, kind: performance, metric: accuracy, threshold: 0.5}\n"
        "  - {id: dp, kind: fairness, metric: demographic_parity_ratio,"
        " sensitive_features: [sex], threshold: 0.0}\n"
        "  - {id: cc, kind: champion_challenger, champion: credit@1, metrics: {accuracy: 1.0}}\n"
    )
    data = adult_test.iloc[:6000]
    score = adult_model.predict_proba(data[list(adult_model.feature_names_in_)])[:, 1]
    y = (data["income"] == ">50K").to_numpy()
    kw = dict(
        model=adult_model,
        champions={"credit@1": Champion(record=record(1, 0.5), model=adult_model)},
    )
    in_memory = evaluate(policy, record(2, 0.2), data, **kw)
    with dask.config.set(scheduler="synchronous"):
        frame = dd.from_pandas(data, npartitions=3, sort=False)
        on_dask = evaluate(policy, record(2, 0.2), frame, **kw)
    for result in (in_memory, on_dask):
        acc, _, cc = result.checks
        assert acc.value == pytest.approx(float(np.mean((score >= 0.2) == y)), abs=1e-12)
        (row,) = cc.evidence.comparisons
        assert row.champion == pytest.approx(float(np.mean((score >= 0.5) == y)), abs=1e-12)
        assert result.decision_threshold == 0.2
    assert on_dask.checks[1].value == pytest.approx(in_memory.checks[1].value, abs=1e-12)
