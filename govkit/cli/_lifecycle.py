"""Model lifecycle commands: ``govkit model bind|approve|promote|rollback|alias|stages``.

Exit codes: 0 done; 1 a promotion refused by the gate (the reasons on stderr; the refusal
is in the audit log); 2 bad input (unknown stage or alias, a retired version, ...).
Stages are shown and accepted under the names the bound policy gives them
(``lifecycle.stage_names``); the ids are accepted too and are what the audit log records.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from govkit.cli._app import DbOption, _guard, _store, model_app

ReasonOption = Annotated[
    str | None, typer.Option("--reason", metavar="TEXT", help="Why (recorded in the audit log).")
]


@model_app.command("bind")
def model_bind(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Model NAME (every version).")],
    policy: Annotated[
        Path, typer.Option("--policy", metavar="FILE", help="Policy YAML the model must pass.")
    ],
    db: DbOption = None,
) -> None:
    """Bind a model to the policy its versions must pass before production."""
    from govkit.lifecycle import bind_policy

    def body() -> None:
        with _store(db) as store:
            bound = bind_policy(name, policy, store=store)
        need = "none"
        if bound.approval_required:
            need = "independent (four-eyes)" if bound.approval_independent else "required"
        typer.echo(
            f"{name} bound to policy {bound.policy_name} ({bound.policy_digest}); approval: {need}"
        )
        if bound.stage_names:
            named = ", ".join(f"{stage} as {n}" for stage, n in bound.stage_names.items())
            typer.echo(f"stage names: {named}")

    _guard(body)


@model_app.command("approve")
def model_approve(
    ref: Annotated[str, typer.Argument(metavar="NAME@VER", help="NAME@VER to sign off.")],
    approver: Annotated[
        str, typer.Option("--approver", metavar="ID", help="Who signs off (an id).")
    ],
    note: Annotated[str, typer.Option("--note", metavar="TEXT", help="Why: what was reviewed.")],
    db: DbOption = None,
) -> None:
    """Record a sign-off of a model version; a candidate becomes approved."""
    from govkit.lifecycle import approve

    def body() -> None:
        with _store(db) as store:
            approval = approve(ref, approver=approver, note=note, store=store)
        typer.echo(f"{approval.model} approved by {approval.approver}")

    _guard(body)


@model_app.command("promote")
def model_promote(
    ref: Annotated[str, typer.Argument(metavar="NAME@VER", help="NAME@VER to move.")],
    to: Annotated[
        str,
        typer.Option(
            "--to",
            metavar="STAGE",
            help="Target stage: production or retired (or the bound policy's names).",
        ),
    ],
    reason: ReasonOption = None,
    db: DbOption = None,
) -> None:
    """Promote a version to production through the gate (exit 1 if refused), or retire it."""
    from govkit.lifecycle import promote

    def body() -> int:
        with _store(db) as store:
            outcome = promote(ref, to=to, store=store, reason=reason)
        if not outcome.promoted:
            said = outcome.to_name or outcome.to_stage
            typer.echo(f"govkit: promotion of {outcome.model} to {said} refused:", err=True)
            for why in outcome.reasons:
                typer.echo(f"  - {why}", err=True)
            return 1
        was = f" (was {outcome.previous})" if outcome.previous is not None else ""
        typer.echo(f"{outcome.model} is now {outcome.to_name or outcome.to_stage}{was}")
        return 0

    raise typer.Exit(_guard(body))


@model_app.command("rollback")
def model_rollback(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Model NAME.")],
    reason: ReasonOption = None,
    db: DbOption = None,
) -> None:
    """Serve the previous production version again, in one step."""
    from govkit.lifecycle import rollback

    def body() -> None:
        with _store(db) as store:
            outcome = rollback(name, store=store, reason=reason)
        typer.echo(
            f"{name}: production is now version {outcome.model.version} (was {outcome.previous})"
        )

    _guard(body)


@model_app.command("alias")
def model_alias(
    ref: Annotated[str, typer.Argument(metavar="NAME@VER", help="NAME@VER the alias names.")],
    alias: Annotated[
        str, typer.Argument(metavar="ALIAS", help="Alias name, e.g. champion (not production).")
    ],
    db: DbOption = None,
) -> None:
    """Point an alias (other than production) at a model version."""
    from govkit.lifecycle import set_alias

    def body() -> None:
        with _store(db) as store:
            set_alias(ref, alias, store=store)
        typer.echo(f"{alias} -> {ref}")

    _guard(body)


@model_app.command("stages")
def model_stages(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Model NAME.")],
    db: DbOption = None,
) -> None:
    """Each version's stage, the aliases, the bound policy, approvals and stage history."""
    from govkit.records import parse_ref

    def body() -> None:
        ref = parse_ref(name, what="model", option="NAME")
        with _store(db) as store:
            info = store.model_lifecycle(ref.name)
        names = info["names"]  # the bound policy's stage names: "live [production]"
        for version, stage in info["stages"].items():
            typer.echo(f"{ref.name}@{version}  {names.label(stage)}")
        for alias, version in info["aliases"].items():
            typer.echo(f"alias {alias} -> {ref.name}@{version}")
        bound = info["binding"]
        typer.echo(
            "policy: none bound"
            if bound is None
            else f"policy: {bound.policy_name} ({bound.policy_digest}), bound by {bound.bound_by}"
        )
        for a in info["approvals"]:
            typer.echo(
                f"approved {a.model} by {a.approver} at {a.approved_at:%Y-%m-%d %H:%M}: {a.note}"
            )
        for c in info["history"]:
            why = f" ({c.reason})" if c.reason else ""
            typer.echo(
                f"{c.changed_at:%Y-%m-%d %H:%M:%S} {c.model} {names.label(c.from_stage)} -> "
                f"{names.label(c.to_stage)} "
                f"by {c.changed_by}{why} [event {c.audit_sequence}]"
            )

    _guard(body)
