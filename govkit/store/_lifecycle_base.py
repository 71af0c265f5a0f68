"""What the lifecycle modules share: checking their input, and how they meet the audit log.

- input: a stage id (:func:`check_stage`), an alias name (:func:`check_alias`), free
  text such as an approval note or a reason (:func:`check_text`, also used by
  :mod:`govkit.lifecycle` on what a person typed) and a model ref that names its
  version (:func:`version_of`); each refuses with InputError;
- the audit log: the event subject of a model or model version (:func:`model_subject`)
  and timestamps read back from the lifecycle tables as UTC (:func:`log_time`).

The lifecycle itself is described in :mod:`govkit.store._lifecycle`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal, overload

from govkit.exceptions import InputError
from govkit.records import ModelRef
from govkit.store._stages import StageNameMap

__all__ = ["check_stage", "check_alias", "check_text", "version_of", "model_subject", "log_time"]

_ALIAS_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_MAX_TEXT = 4000


def check_stage(stage: Any) -> str:
    """``stage`` when it is a stage id; InputError (with a close match) otherwise."""
    return StageNameMap().resolve(stage)


def check_alias(alias: Any) -> str:
    if not isinstance(alias, str) or not _ALIAS_RE.match(alias):
        raise InputError(
            "an alias is 1-32 characters: a lower-case letter, then lower-case letters, "
            f"digits, '_' or '-'; got {str(alias)[:40]!r}"
        )
    return alias


@overload
def check_text(value: Any, what: str, *, required: Literal[True] = True) -> str: ...
@overload
def check_text(value: Any, what: str, *, required: bool) -> str | None: ...
def check_text(value: Any, what: str, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{what} must be non-empty text")
    if len(value) > _MAX_TEXT:
        raise InputError(f"{what} is longer than {_MAX_TEXT} characters ({len(value)})")
    return value.strip()


def version_of(ref: ModelRef) -> int:
    if ref.version is None:
        raise InputError(f"name the version: {ref.name}@VERSION (got {ref.name})")
    return ref.version


def log_time(moment: datetime) -> datetime:
    from datetime import UTC

    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def model_subject(name: str, version: int | None = None) -> str:
    return f"model:{name}" if version is None else f"model:{name}@{version}"
