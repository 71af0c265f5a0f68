"""Reading tables and fingerprinting their content."""

from __future__ import annotations

import gzip
import hashlib
import struct

import numpy as np
import pandas as pd
import pytest

from govkit.data import fingerprint, read_table, schema_of
from govkit.exceptions import InputError


@pytest.fixture
def frame():
    return pd.DataFrame(
        {
            "age": [25, 38, 28],
            "gain": [0.0, np.nan, -0.0],
            "sex": ["Male", None, "Female"],
            "ok": [True, False, True],
        }
    )


def test_fingerprint_matches_a_hand_computation():
    df = pd.DataFrame({"a": [1, 2], "b": ["x", None]})
    h = hashlib.sha256(b"govkit-fingerprint\x001\x00")
    h.update(struct.pack("<Q", 2))
    h.update(b"a\x00int\x00" + struct.pack("<qq", 1, 2))
    h.update(b"b\x00string\x00" + struct.pack("<Q", 1) + b"x" + struct.pack("<Q", 2**64 - 1))
    assert fingerprint(df) == "sha256:" + h.hexdigest()


def test_fingerprint_is_stable_across_csv_and_parquet(tmp_path, frame):
    frame.to_csv(tmp_path / "d.csv", index=False)
    frame.to_parquet(tmp_path / "d.parquet")
    fp = fingerprint(frame)
    assert fingerprint(read_table(tmp_path / "d.csv")) == fp
    assert fingerprint(read_table(tmp_path / "d.parquet")) == fp


def test_fingerprint_sees_every_change(frame):
    fp = fingerprint(frame)
    changed = frame.copy()
    changed.loc[1, "age"] = 39
    renamed = frame.rename(columns={"age": "years"})
    assert len({fp, fingerprint(changed), fingerprint(renamed), fingerprint(frame.iloc[:2])}) == 4
    # None and the string "None" differ; NaN and -0.0 are canonical
    assert fingerprint(pd.DataFrame({"s": [None]})) != fingerprint(pd.DataFrame({"s": ["None"]}))
    assert fingerprint(pd.DataFrame({"x": [-0.0]})) == fingerprint(pd.DataFrame({"x": [0.0]}))


def test_row_order_matters_unless_asked(frame):
    shuffled = frame.iloc[[2, 0, 1]]
    assert fingerprint(shuffled) != fingerprint(frame)
    assert fingerprint(shuffled, order_independent=True) == fingerprint(
        frame, order_independent=True
    )


def test_schema_of(frame):
    assert [(c.name, c.dtype) for c in schema_of(frame)] == [
        ("age", "int"),
        ("gain", "float"),
        ("sex", "string"),
        ("ok", "bool"),
    ]


@pytest.mark.parametrize(
    "name,content,match",
    [
        ("d.xlsx", b"x", "unsupported data file type"),
        ("d.parquet", b"not parquet", "cannot read data"),
        ("d.csv", b"", "cannot read data"),
        ("d.csv", b"a,a\n1,2\n", "duplicate column names"),
        # an extra field on the first data row: pandas made it the row index and shifted
        # every value one column over
        (
            "d.csv",
            b"a,b\n1,2,3\n4,5\n",
            r"d\.csv:2: expected 2 fields \(as in the header\), found 3",
        ),
        ("d.csv", b"a,b\n\n1,2,3\n", r"d\.csv:3: expected 2 fields"),
        (
            "d.csv",
            b"a,b\n1,2\n4,5,6\n",
            r"d\.csv:3: expected 2 fields \(as in the header\), found 3",
        ),
        ("d.csv", b"a,b\n1,2\n\xff\xfe,2\n", r"d\.csv:3: not UTF-8 text \(byte 0xff\)"),
        ("d.csv.gz", gzip.compress(b"a,b\n1,2,3\n"), r"the first data row: expected 2 fields"),
        # a header alone registered as a 0-row dataset
        ("d.csv", b"a,b\n", r"d\.csv: no data rows \(only a header\); expected at least one row"),
        ("d.csv", b"a,b\n\n\n", r"d\.csv: no data rows \(only a header\)"),
    ],
)
def test_bad_tables(tmp_path, name, content, match):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(InputError, match=match) as info:
        read_table(p)
    assert str(p) in str(info.value)


def test_missing_table(tmp_path):
    with pytest.raises(InputError, match="data file not found"):
        read_table(tmp_path / "none.csv")
