"""The Dask backend of the fairness engine equals group_table on the same rows in memory.

Property tests run on dask's synchronous scheduler (fast); a LocalCluster of two worker
processes reads Parquet and runs the same computation for real.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")
pytest.importorskip("distributed")

from govkit.exceptions import InputError, MissingDependencyError  # noqa: E402
from govkit.fairness import (  # noqa: E402
    COUNT_METRICS,
    DISPARITY_METRICS,
    FairnessInputError,
    GroupTable,
    connect,
    group_table,
    group_table_dask,
    group_tables_dask,
    is_dask_collection,
    read_parquet,
)

HYPOTHESIS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_same_table(ours: GroupTable, theirs: GroupTable, *, weighted: bool) -> None:
    """Equal tables: exactly for counts of rows, to float rounding for weighted sums."""
    assert ours.features == theirs.features
    assert ours.groups == theirs.groups
    assert [tuple(map(type, g)) for g in ours.groups] == [
        tuple(map(type, g)) for g in theirs.groups
    ]
    assert (ours.has_labels, ours.weighted, ours.pos_label) == (
        theirs.has_labels,
        theirs.weighted,
        theirs.pos_label,
    )
    np.testing.assert_array_equal(ours.sizes, theirs.sizes)
    close = {"rtol": 1e-13, "atol": 1e-12} if weighted else {"rtol": 0, "atol": 0}
    for arr in ("counts", "selected", "weight"):
        np.testing.assert_allclose(getattr(ours, arr), getattr(theirs, arr), **close)
    for name in ours.metrics:
        np.testing.assert_allclose(ours.metric(name), theirs.metric(name), **close)
        np.testing.assert_allclose(ours.overall(name), theirs.overall(name), **close)
    for name in ours.disparities:
        np.testing.assert_allclose(ours.disparity(name), theirs.disparity(name), **close)
    pd.testing.assert_frame_equal(ours.to_frame(), theirs.to_frame(), check_exact=not weighted)


def partitioned(df: pd.DataFrame, bounds: list[int]) -> dd.DataFrame:
    """A Dask DataFrame whose partitions are df[b_i:b_i+1] (some may be empty)."""
    cuts = [0, *bounds, len(df)]
    parts = [df.iloc[a:b] for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    return dd.from_delayed([dask.delayed(p) for p in parts], meta=df.iloc[:0], verify_meta=False)


# -- generated data ---------------------------------------------------------------------------

LEVELS = {
    "str": ["b", "a", "d", "c"],
    "int": [3, 1, 7, 2],
    "bool": [True, False],
    "float": [0.5, -1.25, 2.0],
    "category": ["z", "m", "a", "q"],  # category order is not value order
}
LABELS = {"int": (0, 1), "str": ("no", "yes"), "bool": (False, True)}


@st.composite
def frames(draw):
    n = draw(st.integers(1, 40))
    df = pd.DataFrame(index=range(n))
    features = []
    for j in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(sorted(LEVELS)))
        levels = LEVELS[kind][: draw(st.integers(1, len(LEVELS[kind])))]
        values = draw(st.lists(st.sampled_from(levels), min_size=n, max_size=n))
        name = f"f{j}_{kind}"
        if kind == "category":
            categories = LEVELS[kind] if draw(st.booleans()) else sorted(set(values))
            df[name] = pd.Categorical(values, categories=categories)
        else:
            df[name] = values
        features.append(name)
    neg, pos = LABELS[draw(st.sampled_from(sorted(LABELS)))]
    bits = st.lists(st.booleans(), min_size=n, max_size=n)
    df["y_true"] = [pos if b else neg for b in draw(bits)]
    df["y_pred"] = [pos if b else neg for b in draw(bits)]
    if pos not in set(df["y_true"]) | set(df["y_pred"]):
        df.loc[draw(st.integers(0, n - 1)), "y_pred"] = pos
    df["w"] = draw(st.lists(st.floats(0.001, 1000.0), min_size=n, max_size=n))
    bounds = sorted(draw(st.lists(st.integers(0, n), max_size=5)))  # repeats: empty partitions
    return df, features, pos, bounds


@HYPOTHESIS
@given(frames(), st.booleans(), st.booleans())
def test_tables_equal_the_in_memory_engine(data, labels, weighted):
    df, features, pos, bounds = data
    # without labels the positive label must occur in y_pred (both engines refuse otherwise;
    # test_an_absent_positive_label_is_refused_by_both_engines below)
    assume(labels or pos in set(df["y_pred"]))
    ddf = partitioned(df, bounds)
    feature_sets = [*features, features]  # each feature, then their intersection
    with dask.config.set(scheduler="synchronous"):
        tables = group_tables_dask(
            ddf,
            y_true="y_true" if labels else None,
            y_pred="y_pred",
            sensitive_features=feature_sets,
            pos_label=pos,
            sample_weight="w" if weighted else None,
        )
    assert len(tables) == len(feature_sets)
    for fs, table in zip(feature_sets, tables, strict=True):
        expected = group_table(
            df["y_true"] if labels else None,
            df["y_pred"],
            sensitive_features=df[fs],
            pos_label=pos,
            sample_weight=df["w"] if weighted else None,
        )
        assert_same_table(table, expected, weighted=weighted)


def test_an_absent_positive_label_is_refused_by_both_engines():
    from govkit.fairness._errors import FairnessInputError

    df = pd.DataFrame({"g": ["a", "b", "a"], "y_pred": [False, False, False]})
    for compute in (
        lambda: group_table(None, df["y_pred"], sensitive_features=df["g"], pos_label=True),
        lambda: group_tables_dask(
            partitioned(df, [1]), y_true=None, y_pred="y_pred", sensitive_features=["g"],
            pos_label=True,
        ),
    ):  # fmt: skip
        with pytest.raises(FairnessInputError, match=r"pos_label=True does not occur in y_pred"):
            with dask.config.set(scheduler="synchronous"):
                compute()


def test_groups_absent_from_some_partitions_are_ordered_like_the_whole_column():
    df = pd.DataFrame(
        {
            "region": ["south", "north", "east", "west", "north", "south"],
            "band": pd.Categorical(["c", "a", "a", "b", "c", "b"], categories=["c", "b", "a", "x"]),
            "y": [1, 0, 1, 1, 0, 0],
            "p": [1, 1, 0, 1, 0, 0],
        }
    )
    ddf = partitioned(df, [2, 2, 4])  # [0:2], [], [2:4], [4:6]
    with dask.config.set(scheduler="synchronous"):
        table = group_table_dask(
            ddf, y_true="y", y_pred="p", sensitive_features=["region", "band"], pos_label=1
        )
    expected = group_table(df["y"], df["p"], sensitive_features=df[["region", "band"]], pos_label=1)
    assert_same_table(table, expected, weighted=False)
    assert table.groups[:3] == (("east", "a"), ("east", "b"), ("east", "c"))
    assert table.sizes[0] == 1 and table.sizes[1] == 0  # an empty combination: NaN metrics
    assert np.isnan(table.metric("selection_rate")[1])


def test_every_metric_is_available(tmp_path):
    df = pd.DataFrame({"g": ["a", "b"] * 10, "y": [0, 1, 1, 0] * 5, "p": [1, 1, 0, 0] * 5})
    with dask.config.set(scheduler="synchronous"):
        table = group_table_dask(
            dd.from_pandas(df, npartitions=3),
            y_true="y",
            y_pred="p",
            sensitive_features="g",
            pos_label=1,
        )
    assert table.metrics == COUNT_METRICS and table.disparities == DISPARITY_METRICS
    assert table.features == ("g",)


# -- errors ------------------------------------------------------------------------------------


def _sync(**kwargs):
    with dask.config.set(scheduler="synchronous"):
        return group_table_dask(**kwargs)


def test_missing_values_name_the_partition():
    df = pd.DataFrame({"g": ["a", "b", "a", None, "b"], "y": [1, 0, 1, 0, 1], "p": [1] * 5})
    ddf = partitioned(df, [2, 3])
    with pytest.raises(FairnessInputError) as err:
        _sync(data=ddf, y_true="y", y_pred="p", sensitive_features="g", pos_label=1)
    assert str(err.value).startswith(
        "partition 2 of 3 (row numbers within it): sensitive feature 'g' has 1 missing values "
        "(rows 0); fairlearn refuses them too."
    )


def test_absent_pos_label_lists_the_labels_of_all_partitions():
    df = pd.DataFrame({"g": ["a", "b", "a", "b"], "y": ["no", "no", "maybe", "no"]})
    df["p"] = df["y"]
    with pytest.raises(FairnessInputError) as err:
        _sync(
            data=partitioned(df, [2]),
            y_true="y",
            y_pred="p",
            sensitive_features="g",
            pos_label="yes",
        )
    assert str(err.value) == (
        "pos_label='yes' does not occur in either y_true or y_pred; labels found: "
        "['maybe', 'no']. Pass the value that marks a positive (favourable) outcome, with its "
        "type (e.g. 1 and '1' differ)"
    )


def test_too_many_groups_across_partitions(monkeypatch):
    import govkit.fairness._counts as counts

    monkeypatch.setattr(counts, "MAX_GROUPS", 3)
    df = pd.DataFrame({"g": ["a", "b", "c", "d"], "y": [1, 0, 1, 0]})
    # each partition has two levels (under the limit); all four together are over it
    with pytest.raises(FairnessInputError, match=r"form 4 groups \(levels per feature: 'g': 4\)"):
        _sync(
            data=partitioned(df, [2]), y_true="y", y_pred="y", sensitive_features="g", pos_label=1
        )


def test_unknown_column_is_named_with_a_close_match():
    ddf = dd.from_pandas(pd.DataFrame({"gender": ["a"], "y": [1]}), npartitions=1)
    with pytest.raises(FairnessInputError) as err:
        group_table_dask(ddf, y_true="y", y_pred="y", sensitive_features="gendr", pos_label=1)
    assert str(err.value) == (
        "the Dask DataFrame lacks 1 column(s): 'gendr' (did you mean 'gender'?); "
        "columns found: gender, y"
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"sensitive_features": [["g", "g"]]}, r"sensitive feature names must be unique; repeated"),
        ({"sensitive_features": []}, "sensitive_features is empty"),
        ({"sensitive_features": "g"}, "sensitive_features must be a list of feature sets"),
        ({"pos_label": [1]}, "pos_label must be a single value"),
        ({"split_every": 1}, "split_every must be a whole number >= 2; got 1"),
    ],
)
def test_bad_arguments(kwargs, message):
    ddf = dd.from_pandas(pd.DataFrame({"g": ["a"], "y": [1]}), npartitions=1)
    args = {"y_true": "y", "y_pred": "y", "sensitive_features": ["g"], "pos_label": 1, **kwargs}
    with pytest.raises(FairnessInputError, match=message):
        group_tables_dask(ddf, **args)


def test_a_pandas_frame_is_pointed_to_group_table():
    df = pd.DataFrame({"g": ["a"], "y": [1]})
    assert not is_dask_collection(df)
    with pytest.raises(FairnessInputError, match="for a pandas DataFrame use group_table"):
        group_table_dask(df, y_true="y", y_pred="y", sensitive_features="g", pos_label=1)


def test_read_parquet_reports_a_missing_path(tmp_path):
    with pytest.raises(InputError, match="nothing.parquet: Parquet data not found"):
        read_parquet(tmp_path / "nothing.parquet")


def test_without_dask_the_error_says_how_to_install_it(monkeypatch):
    for module in [m for m in sys.modules if m == "dask" or m.startswith(("dask.", "distributed"))]:
        monkeypatch.delitem(sys.modules, module)
    for module in ("dask", "dask.dataframe", "distributed"):
        monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError
    hint = r"pip install 'govkit\[dask\]'"
    with pytest.raises(MissingDependencyError, match=rf"optional package 'distributed'.*{hint}"):
        connect()
    with pytest.raises(MissingDependencyError, match=rf"optional package 'dask'.*{hint}"):
        read_parquet("data.parquet")
    with pytest.raises(MissingDependencyError, match=rf"optional package 'dask'.*{hint}"):
        group_table_dask(object(), y_true="y", y_pred="p", sensitive_features="g", pos_label=1)


def test_connect_to_nowhere_says_what_to_check():
    with pytest.raises(InputError, match=r"cannot connect to the Dask scheduler at 'tcp://127\.0"):
        connect("tcp://127.0.0.1:9", timeout=1)
    with pytest.raises(InputError, match="apply to a local cluster only"):
        connect("tcp://127.0.0.1:9", n_workers=2)


# -- a real cluster --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client():
    with connect(n_workers=2, threads_per_worker=1) as c:
        yield c


def test_parquet_on_a_local_cluster_equals_the_in_memory_engine(client, tmp_path):
    rng = np.random.default_rng(7)
    n = 30_000
    df = pd.DataFrame(
        {
            "region": pd.Categorical.from_codes(rng.integers(0, 6, n), list("uvwxyz")),
            "age": rng.choice(["18-25", "26-40", "41-65", "65+"], n),
            "flag": rng.integers(0, 2, n).astype(bool),
            "y": rng.integers(0, 2, n),
            "p": rng.integers(0, 2, n),
            "w": rng.random(n),
        }
    )
    folder = tmp_path / "scores"
    folder.mkdir()
    for i, start in enumerate(range(0, n, 7_000)):
        df.iloc[start : start + 7_000].to_parquet(folder / f"part-{i}.parquet")
    data = read_parquet(folder)
    assert data.npartitions == 5
    sets = ["region", "age", "flag", ["region", "age", "flag"]]
    for weighted in (False, True):
        tables = group_tables_dask(
            data,
            y_true="y",
            y_pred="p",
            sensitive_features=sets,
            pos_label=1,
            sample_weight="w" if weighted else None,
            split_every=2,
        )
        for fs, table in zip(sets, tables, strict=True):
            expected = group_table(
                df["y"],
                df["p"],
                sensitive_features=df[fs],
                pos_label=1,
                sample_weight=df["w"] if weighted else None,
            )
            assert_same_table(table, expected, weighted=weighted)


def test_errors_on_workers_reach_the_caller(client):
    df = pd.DataFrame({"g": ["a", "b", "a", "b"], "y": [1, 0, 1, 0], "w": [1.0, -1.0, 1.0, 1.0]})
    with pytest.raises(FairnessInputError, match="partition 0 of 2 .*sample_weight must be finite"):
        group_table_dask(
            dd.from_pandas(df, npartitions=2),
            y_true="y",
            y_pred="y",
            sensitive_features="g",
            pos_label=1,
            sample_weight="w",
        )
