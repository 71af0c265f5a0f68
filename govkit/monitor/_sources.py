"""What a monitoring run compares with: the reference data and the model itself.

Drift rules compare the window with the model version's registered training data: the
file given as ``--reference-data`` (checked by fingerprint; a different file is bad
input), else the file at the training data's recorded location (``dataset register
--source file:///...``) when it is still there with the registered fingerprint. Without
either, drift rules are N/A with a reason that says how to supply it.

Prediction drift also needs the model, to score the reference data; it is loaded from the
registered artifact as ``govkit check`` loads it (SHA-256 checked, skops types trusted only
when named). A model that cannot be loaded leaves those rules N/A with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pandas as pd

from govkit.data import fingerprint, read_table
from govkit.exceptions import GovkitError, InputError
from govkit.records import DatasetRecord, ModelVersionRecord
from govkit.store import Store

__all__ = ["Reference", "reference_data", "load_model"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reference:
    """The reference data and its record, or why there is none (``missing``)."""

    frame: pd.DataFrame | None
    record: DatasetRecord | None
    note: str | None = None  # where it came from, for the run's output
    missing: str | None = None  # why drift rules are N/A


def reference_data(store: Store, record: ModelVersionRecord, path: str | Path | None) -> Reference:
    """The given file (InputError unless it is the registered training data), else the
    training data at its recorded location, else a :class:`Reference` saying what is missing."""
    registered = store.lineage(record.training_data)[0] if record.training_data else None
    if path is not None:
        if registered is None:
            raise InputError(f"--reference-data: {record.ref} has no registered training data")
        frame = read_table(path)
        given = fingerprint(frame, order_independent=registered.order_independent)
        if given != registered.fingerprint:
            raise InputError(
                f"--reference-data {path}: not the registered training data of {record.ref} "
                f"(fingerprint {given}, {registered.name}@{registered.version} has "
                f"{registered.fingerprint})"
            )
        return Reference(frame, registered, note=f"{registered.ref}, read from {path}")
    if registered is None:
        return Reference(
            None,
            None,
            missing=f"needs reference data, and {record.ref} was registered without training "
            "data (model register --training-data); pass --reference-data FILE",
        )
    found, why = _at_recorded_location(registered)
    if found is None:
        return Reference(
            None,
            registered,
            missing=f"needs reference data: pass --reference-data FILE, the training data of "
            f"{record.ref} ({registered.ref}, {registered.fingerprint[:19]}…); {why}",
        )
    frame, where = found
    return Reference(
        frame,
        registered,
        note=f"{registered.ref}, read from its recorded location {where} (fingerprint "
        "matches; no --reference-data given)",
    )


def _at_recorded_location(
    registered: DatasetRecord,
) -> tuple[tuple[pd.DataFrame, Path] | None, str]:
    """((frame, file), "") when the recorded source is a local file with the registered
    fingerprint; else (None, why not)."""
    uri = registered.source_uri
    if not uri:
        return None, (
            "its registration records no location to read it from (training data "
            "registered with --source file:///PATH is read from there)"
        )
    parsed = urlparse(uri)
    if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
        return None, f"its recorded source {uri} is not a local file"
    where = Path(unquote(parsed.path))
    try:
        frame = read_table(where)
        given = fingerprint(frame, order_independent=registered.order_independent)
    except GovkitError as exc:
        log.info("reference data at %s unusable: %s", where, exc)
        return None, f"its recorded location {uri} cannot be read ({exc})"
    if given != registered.fingerprint:
        return None, (
            f"the file at its recorded location {uri} has changed since registration "
            f"(fingerprint {given[:19]}…)"
        )
    return (frame, where), ""


def load_model(
    record: ModelVersionRecord, *, trust: bool, trusted_types: Sequence[str]
) -> tuple[Any | None, str | None]:
    """(the registered model, None), or (None, why it cannot be loaded)."""
    from govkit._registration import artifact_file
    from govkit.artifacts import load_artifact

    try:
        model = load_artifact(
            artifact_file(record),
            expected_sha256=record.artifact_sha256,
            trust=trust,
            trusted_types=trusted_types,
        )
    except GovkitError as exc:
        return None, (
            f"needs the model {record.ref} to score the reference data, and its registered "
            f"artifact could not be loaded: {exc}"
        )
    return model, None
