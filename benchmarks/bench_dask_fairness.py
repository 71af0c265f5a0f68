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
resident memory of the driver during (d), and of each worker.

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

from govkit.fairness import connect, group_table, group_tables_dask, read_parquet

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
        parts = read_parquet(folder).npartitions
        print(f"(d) Dask, {parts} partitions, 4 tables in one pass      {t_dask:8.3f} s")
        scope = "" if exact else " (process peak: no reset possible)"
        print(
            f"    driver RSS before {mib(before)}, peak during the runs {mib(driver_peak)}"
            f"{scope}; worker peaks " + ", ".join(mib(v) for v in workers.values())
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


if __name__ == "__main__":
    main()
