"""Which registered version a champion_challenger rule's ``champion`` names.

``champion`` in a policy is one of:

* ``NAME@VERSION`` -- that version;
* ``NAME@ALIAS`` -- the version the alias names now (``NAME@production``: the version in
  production; a stage name the model's bound policy gives ``production`` works too);
* ``NAME`` -- the version currently serving: the one in production. When no version of
  NAME has been promoted yet, the latest version other than the candidate stands in,
  and the rule's message says so.

A champion the registry cannot resolve is the policy's mistake: a
:class:`~govkit.exceptions.PolicyError` naming the policy file, the line of the rule's
``champion`` and, for a misspelt model or alias, the closest registered name -- raised
before anything runs or is recorded. A champion that resolves to nothing to compare
with (nothing else registered, nothing in production, the candidate itself serving) is
``Champion(unavailable=...)``: the rule is then N/A with that reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from govkit._registration import _as_model_ref
from govkit.evaluate import Champion
from govkit.exceptions import InputError, NotFoundError, PolicyError, closest
from govkit.policy import ChampionChallengerRule, LoadedPolicy
from govkit.records import ModelRef, ModelVersionRecord
from govkit.store import Store

__all__ = ["resolve_champions"]

log = logging.getLogger(__name__)

PRODUCTION = "production"


def resolve_champions(
    loaded: LoadedPolicy,
    specs: Sequence[str],
    *,
    store: Store,
    candidate: ModelVersionRecord,
    load: Callable[[ModelVersionRecord], Any],
) -> dict[str, Champion]:
    """The champion each spec names, its model loaded with ``load`` (see the module doc)."""
    out: dict[str, Champion] = {}
    for spec in specs:
        found, basis = _resolve(loaded, spec, store=store, candidate=candidate)
        if isinstance(found, str):
            out[spec] = Champion(unavailable=found)
            continue
        log.info("champion %s: %s (%s)", spec, found.ref, basis)
        out[spec] = Champion(record=found, model=load(found), basis=basis)
    return out


def _resolve(
    loaded: LoadedPolicy, spec: str, *, store: Store, candidate: ModelVersionRecord
) -> tuple[ModelVersionRecord | str, str | None]:
    """(the champion's record and how it was chosen) or (why there is none, None)."""
    name, _, selector = spec.partition("@")
    names = sorted({m.name for m in store.list_model_versions()})
    if name not in names:
        guess = closest(name, names)
        raise _policy_error(
            loaded,
            spec,
            f"no model named '{name}' is registered"
            + (f"; registered models: {', '.join(names[:20])}" if names else ""),
            hint=f"did you mean '{guess}'?" if guess else None,
        )
    if selector.isdigit():
        ref = _as_model_ref(spec, option=f"champion '{spec}'")
        try:
            record = store.get_model_version(ref)
        except NotFoundError as exc:
            raise _policy_error(loaded, spec, str(exc)) from None
        if record.ref == candidate.ref:
            raise _policy_error(
                loaded,
                spec,
                f"champion {spec} is the candidate {candidate.ref} itself",
                hint="name another version",
            )
        return record, None  # as named: nothing to explain
    lifecycle = store.model_lifecycle(name)
    aliases: dict[str, int] = lifecycle["aliases"]
    if not selector:
        if PRODUCTION in aliases:
            why = "the version in production"
            return _serving(store, name, aliases[PRODUCTION], why, candidate)
        return _latest_other(store, name, candidate)
    alias = _as_alias(loaded, spec, selector, aliases, lifecycle["names"])
    if alias not in aliases:  # production, and nothing promoted yet
        return f"no champion: no version of '{name}' is in production", None
    why = "the version in production" if alias == PRODUCTION else f"alias '{alias}'"
    return _serving(store, name, aliases[alias], why, candidate)


def _as_alias(
    loaded: LoadedPolicy, spec: str, selector: str, aliases: dict[str, int], names: Any
) -> str:
    """The alias ``selector`` names: an alias, or the (configured) name of production."""
    if selector in aliases:
        return selector
    try:
        stage = names.resolve(selector)  # a stage id, or a name the bound policy gives one
    except InputError:
        stage = None
    if stage == PRODUCTION:
        return PRODUCTION
    if stage is not None:
        raise _policy_error(
            loaded,
            spec,
            f"'{selector}' is a lifecycle stage, which may hold several versions; a champion "
            "is one version",
            hint=f"name a version, an alias or {spec.partition('@')[0]}@production",
        )
    known = sorted(set(aliases) | {PRODUCTION})
    guess = closest(selector, known)
    raise _policy_error(
        loaded,
        spec,
        f"model '{spec.partition('@')[0]}' has no alias '{selector}'; its aliases: "
        f"{', '.join(known)}",
        hint=f"did you mean '{guess}'?" if guess else "set one with govkit model alias",
    )


def _serving(
    store: Store, name: str, version: int, why: str, candidate: ModelVersionRecord
) -> tuple[ModelVersionRecord | str, str | None]:
    ref = ModelRef(name=name, version=version)
    if ref == candidate.ref:
        return f"no champion: {why} is the candidate {candidate.ref} itself", None
    return store.get_model_version(ref), why


def _latest_other(
    store: Store, name: str, candidate: ModelVersionRecord
) -> tuple[ModelVersionRecord | str, str | None]:
    others = [m for m in store.list_model_versions() if m.name == name and m.ref != candidate.ref]
    if not others:
        return (
            f"no champion: no version of '{name}' other than the candidate {candidate.ref} "
            "is registered"
        ), None
    latest = max(others, key=lambda m: m.version)
    return latest, (
        f"no version of '{name}' is in production, so the latest version other than the "
        "candidate"
    )


def _policy_error(
    loaded: LoadedPolicy, spec: str, message: str, *, hint: str | None = None
) -> PolicyError:
    """``message`` at the ``champion`` of the first rule naming ``spec``."""
    file, line, column, path = loaded.source, None, None, "champion"
    for rule in loaded.policy.rules:
        if not isinstance(rule, ChampionChallengerRule) or rule.champion != spec:
            continue
        file, line = loaded.origin_of(rule.id)
        path = f"rules[{rule.id!r}].champion"
        if file == loaded.source:
            i = _own_index(loaded, line)
            if i is not None:
                line, column = loaded.marks.get(("rules", i, "champion"), (line, None))
                path = f"rules[{i}].champion"
        break
    return PolicyError(
        message, file=file, line=line, column=column, path=path, hint=hint
    )


def _own_index(loaded: LoadedPolicy, line: int | None) -> int | None:
    """The index in the file's own ``rules`` of the rule that starts on ``line``."""
    i = 0
    while ("rules", i) in loaded.marks:
        if loaded.marks[("rules", i)][0] == line:
            return i
        i += 1
    return None
