"""The Python twins of ``govkit explain`` and ``govkit decision show``.

One call decides, explains and records a decision, as the command line does::

    import govkit
    with govkit.Store.open("sqlite:///govkit.db") as store:
        decision = govkit.explain("credit-model", {"age": 37, ...}, store=store)
        print(decision.explanation.outcome, decision.explanation.reasons[0].text)
        pdf = govkit.letter(decision, store=store, format="pdf")

For many decisions in one process (a service), build one
:class:`govkit.service.DecisionService` and call its ``decide``: it keeps the explainer of
each model version cached. ``explain`` builds one per call (~100 ms), as the CLI does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import pandas as pd

from govkit._registration import _as_model_ref, current_actor
from govkit.decisions import Decision, JsonScalar
from govkit.exceptions import InputError
from govkit.records import ModelRef
from govkit.service import LOCAL_TENANT, DecisionService, local_principal
from govkit.store import Store

__all__ = ["explain", "get_decision", "letter"]

LetterFormat = Literal["json", "html", "pdf"]


def _model_ref(model: ModelRef | str) -> ModelRef:
    if not isinstance(model, ModelRef | str):
        raise InputError(f"model: expected 'NAME' or 'NAME@VERSION'; got {type(model).__name__}")
    return _as_model_ref(model, "model")


def explain(
    model: ModelRef | str,
    features: Mapping[str, JsonScalar],
    *,
    store: Store,
    subject_id: str | None = None,
    subject_key: bytes | None = None,
    counterfactual: bool | None = None,
    background: pd.DataFrame | str | Path | None = None,
    tenant: str = LOCAL_TENANT,
    trust: bool = False,
    trusted_types: Sequence[str] = (),
    actor: str | None = None,
) -> Decision:
    """Decide, explain and record one decision: ``govkit explain MODEL --input FILE``.

    ``model`` is ``NAME`` (the latest version) or ``NAME@VERSION``; ``features`` maps
    every input the model needs to a JSON scalar, checked as the HTTP API checks them
    (:class:`govkit.exceptions.InvalidFieldsError` names each bad feature, never its value).
    A ``subject_id`` is stored pseudonymised under ``subject_key`` (32+ random bytes,
    e.g. from ``govkit subject keygen``), which is then required. ``counterfactual``
    overrides the model metadata's ``decision.counterfactual``.
    """
    if not isinstance(features, Mapping):
        raise InputError(
            f"features: expected a mapping of feature name to value; got {type(features).__name__}"
        )
    if subject_id is not None and subject_key is None:
        raise InputError(
            "subject_id needs subject_key: the id is stored as a keyed pseudonym "
            "(create a key with `govkit subject keygen`)"
        )
    ref = _model_ref(model)
    version = ref.version or store.get_model_version(ref).version
    service = DecisionService(
        store,
        subject_key=subject_key,
        background=background,
        trust=trust,
        trusted_types=trusted_types,
        actor=actor or current_actor(),
    )
    return service.decide(
        local_principal(tenant),
        ref.name,
        version,
        features,
        subject_id=subject_id,
        counterfactual=counterfactual,
    )


def get_decision(decision_id: str, *, store: Store, tenant: str = LOCAL_TENANT) -> Decision:
    """A recorded decision of ``tenant``: ``govkit decision show ID``.

    Raises :class:`govkit.exceptions.NotFoundError` for an unknown id (or another
    tenant's), :class:`govkit.exceptions.ErasedError` once its subject was erased.
    """
    return store.get_decision(decision_id, tenant=tenant)


def letter(
    decision: Decision | str,
    *,
    store: Store,
    format: LetterFormat = "pdf",
    tenant: str = LOCAL_TENANT,
) -> bytes:
    """The decision as JSON, or its letter as UTF-8 HTML or PDF: ``--format json|html|pdf``.

    ``decision`` is a :class:`~govkit.decisions.Decision` or its id; the letter is
    rendered from the recorded decision, so what the person reads is what was logged.
    """
    if format not in ("json", "html", "pdf"):
        raise InputError(f"format must be 'json', 'html' or 'pdf'; got {format!r}")
    if isinstance(decision, Decision):
        decision_id = decision.decision_id
        tenant = decision.tenant
    elif isinstance(decision, str):
        decision_id = decision
    else:
        raise InputError(
            f"decision: expected a Decision or a decision id; got {type(decision).__name__}"
        )
    if format == "json":
        recorded = get_decision(decision_id, store=store, tenant=tenant)
        return json.dumps(recorded.model_dump(mode="json"), indent=2, sort_keys=True).encode()
    return DecisionService(store).letter(local_principal(tenant), decision_id, format)
