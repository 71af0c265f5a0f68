"""Lifecycle stage names: the canonical ids, and what a bound policy calls them.

The store and the audit log record only the ids (``candidate``, ``approved``,
``production``, ``retired``), so logs read the same for every team. A policy may give
display names (``lifecycle.stage_names``); they are recorded with the binding, accepted
wherever a stage is typed (as are the ids) and used in messages and listings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from govkit.exceptions import InputError, closest
from govkit.policy import LIFECYCLE_STAGES

__all__ = ["STAGES", "StageNameMap", "check_stage_names"]

STAGES: tuple[str, ...] = LIFECYCLE_STAGES


def check_stage_names(names: Mapping[str, str] | None) -> dict[str, str] | None:
    """``names`` validated as a policy's ``lifecycle.stage_names`` (id -> name, ids dropped).

    None or no name that differs from its id: None. Invalid: InputError naming the problem.
    """
    if not names:
        return None
    from pydantic import ValidationError

    from govkit.policy import StageNames

    try:
        declared = StageNames.model_validate(dict(names)).declared()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'stage_names'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise InputError(f"invalid stage_names: {problems}") from None
    return declared or None


@dataclass(frozen=True)
class StageNameMap:
    """The stage names in force for one model (from its binding; none bound: the ids)."""

    names: Mapping[str, str] = field(default_factory=dict)  # id -> name, differing only
    policy: str | None = None

    def name(self, stage: str) -> str:
        """What ``stage`` (an id) is called."""
        return self.names.get(stage, stage)

    def label(self, stage: str) -> str:
        """The name, with the id in brackets when they differ: ``live [production]``."""
        name = self.name(stage)
        return name if name == stage else f"{name} [{stage}]"

    def resolve(self, text: Any) -> str:
        """The stage id ``text`` names (a configured name or an id); InputError otherwise."""
        by_name = {name: stage for stage, name in self.names.items()}
        if isinstance(text, str):
            if text in by_name:
                return by_name[text]
            if text in STAGES:
                return text
        valid = [self.label(s) for s in STAGES]
        where = f" (names from policy {self.policy!r})" if self.names and self.policy else ""
        guess = closest(str(text), [*by_name, *STAGES])
        raise InputError(
            f"unknown stage {str(text)[:40]!r}; stages{where}: {', '.join(valid)}"
            + (f" (did you mean {guess!r}?)" if guess else "")
        )
