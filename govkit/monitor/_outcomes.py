"""Observed outcomes as the labels of their decisions' model versions."""

from __future__ import annotations

import pandas as pd

from govkit.exceptions import InputError
from govkit.records import ModelRef
from govkit.store import Store

__all__ = ["conform_outcomes", "labels"]


def conform_outcomes(
    store: Store, outcomes: list[tuple[str, object]], *, tenant: str | None
) -> list[tuple[str, object]]:
    """Each outcome as the label of its decision's model version (``1`` for the label ``"1"``).

    InputError naming the row (1-based) and the model's labels when an outcome is not
    one of them; the value itself is not repeated (an observed outcome is personal data).
    A version registered without ``classes`` (a regressor, or an older registration)
    takes any outcome; unknown decision ids are left to :meth:`Store.record_outcomes`.
    """
    wanted = {decision_id for decision_id, _ in outcomes}
    versions = {
        d.decision_id: ModelRef(name=d.model_name, version=d.model_version)
        for d in store.decision_summaries(tenant=tenant)
        if d.decision_id in wanted
    }
    classes = {ref: store.get_model_version(ref).metadata.classes for ref in set(versions.values())}
    out = []
    for i, (decision_id, value) in enumerate(outcomes, 1):
        ref = versions.get(decision_id)
        labels = classes[ref] if ref is not None else ()
        if labels:
            match = [c for c in labels if _same_label(c, value)]
            if not match:
                raise InputError(
                    f"outcome {i} (decision {decision_id}): not a label of {ref}; "
                    f"expected one of: {', '.join(map(str, labels))}"
                )
            value = match[0]
        out.append((decision_id, value))
    return out


def _same_label(label: str | int | bool, value: object) -> bool:
    if isinstance(label, bool):  # true/false/True/1/0 as written in a CSV file
        return str(value).lower() in (("true", "1") if label else ("false", "0"))
    return str(label) == str(value)


def labels(values: pd.Series) -> pd.Series:
    kinds = {type(v) for v in values}
    return values.astype(int) if kinds <= {int, bool} else values
