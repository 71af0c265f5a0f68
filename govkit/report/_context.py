"""What a card shows beyond the version's record and its policy run: the registry's context.

:class:`CardContext` is filled by :func:`govkit.cards.card` from the store (the report
package never reads the store): which run the card shows and why, the registered dataset
whose fingerprint that run evaluated, the version's lifecycle stage, aliases and
approvals, the policy the model is bound to, and the lineage of its evaluation data.
Every field is optional: a card rendered without a context shows none of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from govkit.records import DatasetRecord

__all__ = ["CardApproval", "CardBinding", "CardContext"]


@dataclass(frozen=True)
class CardApproval:
    """A recorded sign-off of the version (``govkit model approve``)."""

    approver: str
    note: str
    approved_at: datetime


@dataclass(frozen=True)
class CardBinding:
    """The policy the model is bound to (``govkit model bind``), as recorded."""

    policy_name: str
    policy_digest: str
    approval_required: bool
    approval_independent: bool


@dataclass(frozen=True)
class CardContext:
    """The registry's context of a card (see the module docstring)."""

    #: why the card shows its run: "the latest run of the bound policy credit-scoring"
    run_choice: str | None = None
    run_id: int | None = None
    #: the registered dataset with the fingerprint the run evaluated (None: unregistered)
    run_data: DatasetRecord | None = None
    stage: str | None = None  # lifecycle stage, under the bound policy's name for it
    aliases: tuple[str, ...] = ()
    binding: CardBinding | None = None
    approvals: tuple[CardApproval, ...] = ()
    #: the evaluation dataset's ancestors (store.lineage of it, itself first)
    evaluation_lineage: tuple[DatasetRecord, ...] = ()
