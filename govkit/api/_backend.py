"""What the HTTP API needs from the rest of govkit, as a protocol.

The API (layer 4) never imports the store, the report renderer or the explain
engine: ``govkit serve`` builds a :class:`govkit.service.DecisionService` (layer 5),
which satisfies :class:`DecisionBackend`, and hands it to :func:`create_app`.

Errors the backend raises, and the HTTP status the API gives them:

- ``InvalidFieldsError`` (problems per field, no values) -> 422
- ``InputError`` (anything else the caller got wrong) -> 422
- ``ErasedError`` (the subject's data was erased) -> 410
- ``NotFoundError`` (no such model version / decision, or another tenant's) -> 404
- ``RenderError`` -> 503 (the letter could not be rendered in time)
- ``StoreError`` -> 503 (database unreachable / read-only)
- ``MissingDependencyError`` -> 501
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Protocol

from govkit.decisions import ApiPrincipal, Decision, JsonScalar, SubjectRecords

__all__ = ["DecisionBackend"]


class DecisionBackend(Protocol):
    """``wait=False`` (on the event loop's thread): the call must not wait (a database
    round trip, a lock, loading a model) nor run long; when it would, it raises
    :class:`~govkit.exceptions.WouldWait`, whose ``finish`` the API runs in a worker
    thread, before anything was recorded."""

    def authenticate(self, token: str, *, wait: bool = True) -> ApiPrincipal | None:
        """The principal for an API key, or None when the key is unknown or revoked."""
        ...

    def decide(
        self,
        principal: ApiPrincipal,
        model: str,
        version: int,
        features: Mapping[str, JsonScalar],
        *,
        subject_id: str | None = None,
        counterfactual: bool | None = None,
        wait: bool = True,
    ) -> Decision:
        """Predict, explain and record one decision (one audit append) in the tenant."""
        ...

    def resolve_alias(self, model: str, alias: str, *, wait: bool = True) -> int:
        """The version an alias (``production`` ...) of ``model`` names now; NotFoundError."""
        ...

    def record_outcome(
        self, principal: ApiPrincipal, decision_id: str, outcome: JsonScalar
    ) -> bool:
        """Attach the observed outcome to a decision of the tenant; True when it replaced one."""
        ...

    def get_decision(self, principal: ApiPrincipal, decision_id: str) -> Decision:
        """A decision of the principal's tenant; NotFoundError for any other."""
        ...

    def letter(
        self, principal: ApiPrincipal, decision_id: str, fmt: Literal["html", "pdf"]
    ) -> bytes:
        """The decision letter as UTF-8 HTML or PDF bytes."""
        ...

    def subject_records(self, principal: ApiPrincipal, subject_id: str) -> SubjectRecords:
        """Every decision about a subject of the principal's tenant, newest first, with the
        outcomes observed, the disclosure recorded in the audit log; NotFoundError when
        there is no such subject."""
        ...

    def erase_subject(self, principal: ApiPrincipal, subject_id: str) -> int:
        """Crypto-shred a subject of the principal's tenant; the number of decisions erased."""
        ...

    def ready(self) -> str | None:
        """None when the backend can serve (database reachable); otherwise the reason."""
        ...
