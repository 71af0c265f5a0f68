"""Read and clean the bundled UCI Adult files (CC BY 4.0, see examples/data/README.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd

DATA_DIR = Path(__file__).resolve().parent.parent / "data"

COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
    "income",
]
CATEGORICAL = [
    "workclass",
    "education",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "native-country",
]
NUMERIC = ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
TARGET = "income"
POSITIVE = ">50K"


def load_adult(
    split: Literal["train", "test"] = "train",
    *,
    data_dir: Path = DATA_DIR,
    clean: bool = True,
) -> pd.DataFrame:
    """One split as a DataFrame with a header; '?' read as missing.

    ``clean=True`` (default) replaces missing categorical values by "Unknown" and strips the
    test split's trailing '.' from labels; ``clean=False`` keeps the values as published.
    """
    path = data_dir / ("adult.data.gz" if split == "train" else "adult.test.gz")
    df = pd.read_csv(
        path,
        header=None,
        names=COLUMNS,
        sep=",",
        skipinitialspace=True,
        na_values="?",
        skiprows=1 if split == "test" else 0,
        compression="gzip",
    )
    if clean:
        df[TARGET] = df[TARGET].str.rstrip(".")
        for col in CATEGORICAL:
            df[col] = df[col].fillna("Unknown")
    return df.reset_index(drop=True)
