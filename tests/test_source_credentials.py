"""A dataset's source URI is recorded for good (registry, audit log, cards): no credentials.

``--source https://user:password@host/...`` or a pre-signed URL used to be stored as given,
so its password or signature stayed in the append-only audit log. They are taken out before
anything is written, with a warning saying what; the rest of the URI (host, path, other
query parameters such as an object version) stays, so source allow-lists still match it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from govkit.cli._app import app
from govkit.records import DatasetRef, clean_source_uri
from govkit.store import Store
from govkit.workflows import register_dataset

SECRET = "Pw-s3cret-1234"
SIGNATURE = "c2lnbmF0dXJl0042"


@pytest.mark.parametrize(
    "uri,clean,removed",
    [
        (
            f"https://reader:{SECRET}@data.example.org/adult.csv?versionId=7&sig={SIGNATURE}",
            "https://data.example.org/adult.csv?versionId=7&sig=***",
            ["the password", "the value of 'sig'"],
        ),
        (
            f"https://{SECRET}@github.com/org/data.git",
            "https://github.com/org/data.git",
            ["the user name"],
        ),
        (  # an S3 pre-signed URL: the algorithm and expiry stay, the secrets go
            "https://b.s3.amazonaws.com/k.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            f"&X-Amz-Credential=AKIA%2F20260101&X-Amz-Expires=900&X-Amz-Signature={SIGNATURE}"
            f"&X-Amz-Security-Token={SECRET}",
            "https://b.s3.amazonaws.com/k.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=***&X-Amz-Expires=900&X-Amz-Signature=***"
            "&X-Amz-Security-Token=***",
            [
                "the value of 'X-Amz-Credential'",
                "the value of 'X-Amz-Signature'",
                "the value of 'X-Amz-Security-Token'",
            ],
        ),
        (  # an Azure SAS URL
            f"https://acct.blob.core.windows.net/c/x.csv?sv=2022-11-02&sp=r&sig={SIGNATURE}%2B",
            "https://acct.blob.core.windows.net/c/x.csv?sv=2022-11-02&sp=r&sig=***",
            ["the value of 'sig'"],
        ),
        (
            f"https://api.example.org/x.csv?access_token={SECRET}&format=csv",
            "https://api.example.org/x.csv?access_token=***&format=csv",
            ["the value of 'access_token'"],
        ),  # fmt: skip
        ("s3://bucket/adult/train.parquet", "s3://bucket/adult/train.parquet", []),
        ("file:///data/adult.csv", "file:///data/adult.csv", []),
        (
            "https://archive.ics.uci.edu/dataset/2/adult",
            "https://archive.ics.uci.edu/dataset/2/adult",
            [],
        ),
        ("UCI Machine Learning Repository", "UCI Machine Learning Repository", []),
        ("https://example.org/x.csv?sig=", "https://example.org/x.csv?sig=", []),
        (  # every byte but the secret's stays as written: no re-encoding, order, repeats
            f"https://example.org/x.csv?prefix=a%2Fb+c&q=%7e~&flag&v=1&v=2&Token={SECRET}#f",
            "https://example.org/x.csv?prefix=a%2Fb+c&q=%7e~&flag&v=1&v=2&Token=***#f",
            ["the value of 'Token'"],
        ),
        (  # a token in the fragment (OAuth's implicit grant)
            f"https://example.org/x.csv#access_token={SECRET}&expires_in=3600",
            "https://example.org/x.csv#access_token=***&expires_in=3600",
            ["the value of 'access_token'"],
        ),
        ("https://example.org/doc.html#section-2", "https://example.org/doc.html#section-2", []),
        (  # an encoded parameter name is still recognised
            f"https://example.org/x.csv?api%5Fkey={SECRET}&n=1",
            "https://example.org/x.csv?api%5Fkey=***&n=1",
            ["the value of 'api_key'"],
        ),
    ],
)
def test_credentials_are_taken_out_and_the_rest_kept(uri, clean, removed):
    assert clean_source_uri(uri) == (clean, removed)


def test_the_cli_records_the_clean_uri_and_says_what_it_removed(tmp_path, caplog):
    data = tmp_path / "d.csv"
    pd.DataFrame({"a": [1, 2, 3], "b": [4.0, 5.0, 6.0]}).to_csv(data, index=False)
    db = f"sqlite:///{tmp_path / 'govkit.db'}"
    source = f"https://reader:{SECRET}@data.example.org/d.csv?versionId=7&sig={SIGNATURE}"
    caplog.set_level(logging.WARNING)
    r = CliRunner().invoke(
        app, ["dataset", "register", str(data), "--name", "d", "--source", source, "--db", db]
    )
    assert r.exit_code == 0, r.output
    assert "dataset d: the password, the value of 'sig' removed from the source URI" in (
        caplog.text
    )
    export = tmp_path / "audit.jsonl"
    assert (
        CliRunner().invoke(app, ["audit", "export", "--output", str(export), "--db", db]).exit_code
        == 0
    )
    with Store.open(db) as store:
        record = store.get_dataset(DatasetRef(name="d", version=1))
        assert store.verify_chain().ok
    assert record.source_uri == "https://data.example.org/d.csv?versionId=7&sig=***"
    written = b"".join(p.read_bytes() for p in Path(tmp_path).glob("govkit.db*"))
    for secret in (SECRET, SIGNATURE):
        assert secret not in r.output and secret not in caplog.text
        assert secret not in export.read_text() and secret.encode() not in written


def test_the_python_api_records_the_clean_uri_too(tmp_path):
    with Store.open(f"sqlite:///{tmp_path / 'govkit.db'}") as store:
        record, _ = register_dataset(
            pd.DataFrame({"a": [1, 2]}),
            name="frame",
            store=store,
            source_uri=f"https://{SECRET}@data.example.org/frame.csv",
        )
    assert record.source_uri == "https://data.example.org/frame.csv"
