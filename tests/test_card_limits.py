"""Card size limits hold at registration too: metadata a card would refuse is not registered.

The limits are defined once (:mod:`govkit._size_limits`); `govkit card` refuses an input over
them (see test_card_pdf.py), and `govkit model register` refuses metadata over them, naming
FILE:LINE:COL, the field and the limit, and recording nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from govkit._size_limits import MAX_ITEMS, MAX_TEXT_CHARS
from govkit.cli._app import app
from govkit.exceptions import InputError
from govkit.records import ModelMetadata
from govkit.store import Store
from govkit.workflows import register_model

HGB_TYPE = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"


def _register(tmp_path: Path, files: dict[str, Path], meta_file: Path) -> tuple[Result, str]:
    db = f"sqlite:///{tmp_path / 'gk.db'}"
    data = ["dataset", "register", str(files["train"]), "--name", "train", "--db", db]
    assert CliRunner().invoke(app, data).exit_code == 0
    args = ["model", "register", str(files["model"]), "--name", "big", "--meta", str(meta_file)]
    args += ["--training-data", "train@1", "--trust-type", HGB_TYPE, "--db", db]
    return CliRunner().invoke(app, args), db


def _events(db: str) -> list[str]:
    with Store.open(db) as store:
        return [e.event_type for e in store.audit_events()]


@pytest.mark.parametrize(
    ("meta", "where", "message"),
    [
        (
            {"owner": "team", "description": "lorem ipsum dolor sit amet " * 4000},
            ":1:14:",
            f"metadata field 'description' has 108,000 characters; a model card field holds "
            f"at most {MAX_TEXT_CHARS:,} (`govkit card` would refuse it). Keep long documents "
            "next to the model and give their link instead",
        ),
        (
            {"owner": "team", "out_of_scope_uses": [f"use {i}" for i in range(9000)]},
            ":2:1:",
            f"metadata field 'out_of_scope_uses' has 9,000 entries; a model card takes at most "
            f"{MAX_ITEMS:,} (`govkit card` would refuse it)",
        ),
    ],
    ids=["long-description", "many-uses"],
)
def test_register_refuses_metadata_a_card_would_refuse(  # type: ignore[no-untyped-def]
    tmp_path, adult_files, meta, where, message
) -> None:
    """A 108,000-character description or 9,000 out-of-scope uses registered (exit 0) and
    then `govkit card` refused the version forever; now registration refuses them."""
    meta_file = tmp_path / "meta.yaml"
    meta_file.write_text(yaml.safe_dump(meta, width=80))
    r, db = _register(tmp_path, adult_files, meta_file)
    assert r.exit_code == 2, r.output
    assert f"{meta_file}{where} {message}" in r.stderr
    assert "Traceback" not in r.output
    assert "model.registered" not in _events(db)


def test_register_refuses_oversized_metadata_given_as_an_object(tmp_path, adult_files) -> None:  # type: ignore[no-untyped-def]
    meta = ModelMetadata(owner="team", factors="x" * (MAX_TEXT_CHARS + 1))
    with Store.open(f"sqlite:///{tmp_path / 'gk.db'}") as store:
        with pytest.raises(InputError, match=r"^metadata: metadata field 'factors' has 100,001 "):
            register_model(
                adult_files["model"],
                store=store,
                name="big",
                metadata=meta,
                trusted_types=[HGB_TYPE],
            )
        assert store.list_model_versions() == []


def test_metadata_at_the_limits_registers_and_cards(tmp_path, adult_files) -> None:  # type: ignore[no-untyped-def]
    meta_file = tmp_path / "meta.yaml"
    meta_file.write_text(yaml.safe_dump({"owner": "team", "description": "x" * MAX_TEXT_CHARS}))
    r, db = _register(tmp_path, adult_files, meta_file)
    assert r.exit_code == 0, r.output
    out = tmp_path / "card.md"
    r = CliRunner().invoke(app, ["card", "big", "--format", "md", "--output", str(out), "--db", db])
    assert r.exit_code == 0, r.output
