"""Lookups and validation shared by the store's registry methods (dataset and model rows)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError
from sqlmodel import Session, col, select

from govkit.exceptions import InputError, NotFoundError
from govkit.records import MAX_VERSION, DatasetRef, ModelRef, parse_ref
from govkit.store._schema import DatasetRow, ModelVersionRow

__all__ = ["check_name", "check_version", "build", "find_dataset", "find_model", "next_version"]

Kind = Literal["dataset", "model"]
M = TypeVar("M", bound=BaseModel)
_Row = type[DatasetRow] | type[ModelVersionRow]


def check_name(name: str, kind: Kind) -> None:
    """Raise InputError unless ``name`` is a valid dataset or model name (see govkit.records)."""
    if not isinstance(name, str) or "@" in name:
        raise InputError(f"{kind} name must not contain '@' (give the version apart); got {name!r}")
    parse_ref(name, what=kind)


def check_version(version: int | None, kind: Kind) -> None:
    if version is None:
        return
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InputError(f"{kind} version must be a positive whole number; got {version!r}")
    if version > MAX_VERSION:  # the database would refuse it (SQLite: OverflowError)
        raise InputError(f"{kind} version must be at most {MAX_VERSION}; got {version}")


def build(model: type[M], what: str, **fields: Any) -> M:
    """``model(**fields)``, with validation problems as one readable InputError."""
    try:
        return model(**fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in err['loc']) or what}: {err['msg']}"
            for err in exc.errors(include_url=False)
        )
        raise InputError(f"invalid {what}: {problems}") from None


def next_version(session: Session, table: _Row, name: str) -> int:
    versions = session.exec(
        select(col(table.version))
        .where(col(table.name) == name)
        .order_by(col(table.version).desc())
    ).first()
    return 1 if versions is None else int(versions) + 1


def find_dataset(session: Session, ref: DatasetRef) -> DatasetRow:
    """The row of ``ref`` (latest version when ``ref.version`` is None) or NotFoundError."""
    stmt = select(DatasetRow).where(col(DatasetRow.name) == ref.name)
    if ref.version is None:
        stmt = stmt.order_by(col(DatasetRow.version).desc()).limit(1)
    else:
        stmt = stmt.where(col(DatasetRow.version) == ref.version)
    row = session.exec(stmt).first()
    if row is None:
        raise _not_found(session, DatasetRow, "dataset", ref)
    return row


def find_model(session: Session, ref: ModelRef) -> ModelVersionRow:
    """The row of ``ref`` (latest version when ``ref.version`` is None) or NotFoundError."""
    stmt = select(ModelVersionRow).where(col(ModelVersionRow.name) == ref.name)
    if ref.version is None:
        stmt = stmt.order_by(col(ModelVersionRow.version).desc()).limit(1)
    else:
        stmt = stmt.where(col(ModelVersionRow.version) == ref.version)
    row = session.exec(stmt).first()
    if row is None:
        raise _not_found(session, ModelVersionRow, "model", ref)
    return row


def _not_found(
    session: Session, table: _Row, kind: Kind, ref: DatasetRef | ModelRef
) -> NotFoundError:
    versions = session.exec(
        select(col(table.version)).where(col(table.name) == ref.name).order_by(col(table.version))
    ).all()
    if versions:
        return NotFoundError(
            f"{kind} {ref.name!r} has no version {ref.version}; registered versions: "
            f"{_versions_text(versions)} (latest: {ref.name}@{versions[-1]})"
        )
    names = sorted(session.exec(select(col(table.name)).distinct()).all())
    message = f"no {kind} named {ref.name!r} is registered"
    close = difflib.get_close_matches(ref.name, names, n=3, cutoff=0.6)
    if close:
        message += "; did you mean " + " or ".join(repr(name) for name in close) + "?"
    elif names:
        shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
        message += f"; registered {kind}s: {shown}"
    else:
        message += f"; no {kind}s are registered yet"
    return NotFoundError(message)


def _versions_text(versions: Sequence[int]) -> str:
    if len(versions) <= 10:
        return ", ".join(str(v) for v in versions)
    return f"{versions[0]} to {versions[-1]} ({len(versions)} versions)"
