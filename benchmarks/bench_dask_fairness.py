"""Benchmark 2 of issue 4: the fairness gate on Parquet through Dask vs in memory.

Writes ``--rows`` seeded rows (three categorical sensitive features, 0/1 labels and
predictions) to Parquet files of ``--file-rows`` rows in a temporary directory, a chunk
at a time (the driver never holds them all). Then times

(d) ``group_tables_dask`` on ``read_parquet(dir)`` through a LocalCluster of
    ``--workers`` worker processes x 1 thread: the four tables of the gate (each feature
    and their intersection) in one pass, reading the files included;
(m) ``group_table`` for the same four tables on the same rows held in memory in this
    process (reading them not included),

checks the tables are equal, and prints the ratio d/m (target <= 1.25) and the peak
resident memory of the driver during (d), and of each worker. Then the whole gate,
``govkit.evaluate`` of a policy of four fairness and two performance rules on the
recorded predictions (what ``govkit check --engine dask`` runs):

(g) on ``read_parquet(dir)`` through the same cluster (validation, label facts and
    every rule's aggregates: two reads of the files), against
(G) on the rows held in memory (reading them not included),

checks the rules' statuses and values are equal, and prints g/G and g/d (the gate's
cost over the bare tables) and the driver's peak memory during (g).

    .venv/bin/python benchmarks/bench_dask_fairness.py [--rows 100000000] [--no-in-memory]
"""

from __future__ import annotations

import argparse
import gc
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from _sysinfo import contention, mib, peak_rss, reset_peak, rss

from govkit.evaluate import evaluate
from govkit.fairness import connect, group_table, group_tables_dask, read_parquet
from govkit.policy import load_policy

FEATURES = {"region": 8, "age_band": 6, "group": 5}  # name: number of levels
NAMES = list(FEATURES)
TARGETS: list[str | list[str]] = [*NAMES, NAMES]


def write_parquet(folder: Path, n_rows: int, file_rows: int, seed: int = 0) -> int:
    """Seeded rows in files of ``file_rows`` rows; returns the bytes written."""
    rng = np.random.default_rng(seed)
    written = 0
    for i, start in enumerate(range(0, n_rows, file_rows)):
        n = min(file_rows, n_rows - start)
        columns = {
            name: pa.DictionaryArray.from_arrays(
                pa.array(rng.integers(0, k, n, dtype=np.int8)),
                pa.array([f"{name}_{j}" for j in range(k)]),
            )
            for name, k in FEATURES.items()
        }
        y_true = rng.integers(0, 2, n, dtype=np.int8)
        flip = rng.random(n) < 0.2
        columns["y_true"] = pa.array(y_true)
        columns["y_pred"] = pa.array(np.where(flip, 1 - y_true, y_true).astype(np.int8))
        path = folder / f"part-{i:05d}.parquet"
        pq.write_table(pa.table(columns), path, row_group_size=file_rows)
        written += path.stat().st_size
    return written


def dask_gate(folder: Path) -> list:
    return group_tables_dask(
        read_parquet(folder),
        y_true="y_true",
        y_pred="y_pred",
        sensitive_features=TARGETS,
        pos_label=1,
    )


def memory_gate(df: pd.DataFrame) -> list:
    return [
        group_table(df["y_true"], df["y_pred"], sensitive_features=df[t], pos_label=1)
        for t in TARGETS
    ]


GATE_POLICY = """\
schema_version: 1
name: bench-gate
rules:
  - {id: dp-region, kind: fairness, metric: demographic_parity_ratio,
     sensitive_features: [region], threshold: 0.8}
  - {id: dp-age, kind: fairness, metric: demographic_parity_ratio,
     sensitive_features: [age_band], threshold: 0.8}
  - {id: tpr-group, kind: fairness, metric: true_positive_rate, sensitive_features: [group],
     threshold: 0.5}
  - {id: eo-all, kind: fairness, metric: equalized_odds_difference,
     sensitive_features: [region, age_band, group], threshold: {max: 0.1}}
  - {id: acc, kind: performance, metric: accuracy, threshold: 0.7}
  - {id: bal-by-region, kind: performance, metric: balanced_accuracy, by: [region],
     threshold: 0.7}
"""


def gate(policy, data) -> object:
    """The policy on recorded predictions: a Dask DataFrame or one in memory."""
    predictions = data["y_pred"] if hasattr(data, "dask") else data["y_pred"].to_numpy()
    return evaluate(policy, None, data, predictions=predictions, target="y_true", positive_label=1)


def _worker_peak() -> int:
    """Peak RSS of a worker process since it started (runs on the worker)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--file-rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--no-in-memory",
        action="store_true",
        help="skip the in-memory baseline (for row counts that do not fit in memory)",
    )
    args = parser.parse_args()
    logging.getLogger("distributed").setLevel(logging.WARNING)
    print(
        f"rows={args.rows:,} in files of {args.file_rows:,}; LocalCluster {args.workers} "
        f"workers x 1 thread; best of {args.repeats}; {contention()}"
    )

    with tempfile.TemporaryDirectory(prefix="govkit-bench-") as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        size = write_parquet(folder, args.rows, args.file_rows)
        print(f"wrote {mib(size)} of Parquet in {time.perf_counter() - start:.1f} s")

        with connect(n_workers=args.workers, threads_per_worker=1) as client:
            dask_gate(folder)  # warm-up: imports on the workers
            gc.collect()
            before = rss()
            exact = reset_peak()
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                tables = dask_gate(folder)
                times.append(time.perf_counter() - start)
            t_dask = min(times)
            driver_peak = peak_rss()
            workers = client.run(_worker_peak)

            policy_file = folder.parent / f"{folder.name}-policy.yaml"
            policy_file.write_text(GATE_POLICY)
            policy = load_policy(policy_file)
            gc.collect()
            reset_peak()
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                dask_result = gate(policy, read_parquet(folder))
                times.append(time.perf_counter() - start)
            t_gate = min(times)
            gate_peak = peak_rss()
            policy_file.unlink()
        parts = read_parquet(folder).npartitions
        print(f"(d) Dask, {parts} partitions, 4 tables in one pass      {t_dask:8.3f} s")
        scope = "" if exact else " (process peak: no reset possible)"
        print(
            f"    driver RSS before {mib(before)}, peak during the runs {mib(driver_peak)}"
            f"{scope}; worker peaks " + ", ".join(mib(v) for v in workers.values())
        )

        print(f"(g) Dask, the gate: 6 rules                           {t_gate:8.3f} s")
        print(
            f"    driver peak during the gate {mib(gate_peak)}; gate / bare tables "
            f"{t_gate / t_dask:.2f}x; statuses "
            + ", ".join(f"{c.rule_id} {c.status.value}" for c in dask_result.checks)
        )
        if args.no_in_memory:
            print(f"(d) rows per second {args.rows / t_dask:,.0f}")
            return
        start = time.perf_counter()
        df = pd.read_parquet(folder)
        print(
            f"read into memory in {time.perf_counter() - start:.1f} s "
            f"({mib(df.memory_usage().sum())})"
        )
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        expected = memory_gate(df)
        times.append(time.perf_counter() - start)
    t_memory = min(times)
    print(f"(m) in memory, one process, 4 tables                  {t_memory:8.3f} s")
    for ours, theirs in zip(tables, expected, strict=True):
        assert ours.groups == theirs.groups
        assert np.array_equal(ours.counts, theirs.counts)
        assert np.array_equal(ours.sizes, theirs.sizes)
    print("tables equal: yes (groups, sizes and counts identical)")
    print(f"Dask / in memory                {t_dask / t_memory:8.2f}x  (target <= 1.25)")
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        memory_result = gate(policy, df)
        times.append(time.perf_counter() - start)
    t_memory_gate = min(times)
    print(f"(G) in memory, the gate: 6 rules                      {t_memory_gate:8.3f} s")
    for a, b in zip(dask_result.checks, memory_result.checks, strict=True):
        assert a.status == b.status, (a.rule_id, a.message, b.message)
        assert a.value == b.value or abs(a.value - b.value) <= 1e-12, (a.rule_id, a.value, b.value)
    print("gate results equal: yes (statuses, values to 1e-12)")
    print(f"gate: Dask / in memory          {t_gate / t_memory_gate:8.2f}x")


if __name__ == "__main__":
    main()
