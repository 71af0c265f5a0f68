"""Per-decision explanations from the command line, and the HTTP service.

``govkit explain`` decides, explains and records one decision and writes it as JSON
or as a letter; ``govkit decision show`` prints a recorded one; ``govkit serve`` runs
the HTTP API; ``govkit apikey`` manages API keys; ``govkit subject`` creates the
pseudonymisation key and erases a data subject. Exit codes as everywhere: 0 done,
2 an input or database error.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Literal, cast

import typer

from govkit.cli._app import (
    DbOption,
    TrustOption,
    TrustTypeOption,
    _check_output,
    _guard,
    _store,
    _write_atomic,
    app,
    command_group,
)
from govkit.decisions import Scope
from govkit.exceptions import GovkitError, InputError

decision_app = command_group("Recorded decisions.")
apikey_app = command_group("API keys of the HTTP service.")
subject_app = command_group("Data subjects: the pseudonymisation key, access requests, erasure.")
app.add_typer(decision_app, name="decision")
app.add_typer(apikey_app, name="apikey")
app.add_typer(subject_app, name="subject")

LetterFormat = Literal["json", "html", "pdf"]

SubjectKeyOption = Annotated[
    Path | None,
    typer.Option(
        "--subject-key-file",
        metavar="FILE",
        help="File holding the subject key (default: $GOVKIT_SUBJECT_KEY).",
    ),
]
TenantOption = Annotated[
    str, typer.Option("--tenant", metavar="TENANT", help="Tenant the decision belongs to.")
]
FormatOption = Annotated[
    LetterFormat,
    typer.Option("--format", help="json (the decision), html or pdf (the letter)."),
]
OutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output", "-o", metavar="FILE", help="Write here (atomically); required for pdf."
    ),
]


def _subject_key(path: Path | None, *, required: bool) -> bytes | None:
    from govkit.service import SUBJECT_KEY_ENV, load_subject_key

    if path is None and not os.environ.get(SUBJECT_KEY_ENV) and not required:
        return None
    return load_subject_key(path)


def _check_emit(fmt: str, output: Path | None) -> None:
    """What :func:`_emit` would refuse, checked before anything is decided or recorded."""
    if output is not None:
        _check_output(output)
    elif fmt == "pdf":
        raise InputError("--format pdf needs --output FILE")


def _emit(content: bytes, fmt: str, output: Path | None) -> None:
    if output is not None:
        _write_atomic(output, content, private=True)  # a decision is personal data
        typer.echo(f"wrote {output} ({len(content):,} bytes)", err=True)
    elif fmt == "pdf":
        raise InputError("--format pdf needs --output FILE")
    else:
        typer.echo(content.decode("utf-8"))


@app.command("explain")
def explain(
    model: Annotated[
        str, typer.Argument(metavar="NAME@VER", help="Registered model NAME@VERSION.")
    ],
    input: Annotated[
        Path,
        typer.Option(
            "--input", "-i", metavar="FILE", help="JSON object of the input feature values."
        ),
    ],
    format: FormatOption = "json",
    output: OutputOption = None,
    subject_id: Annotated[
        str | None,
        typer.Option(
            "--subject-id", metavar="ID", help="Who the decision is about (stored pseudonymised)."
        ),
    ] = None,
    counterfactual: Annotated[
        bool | None,
        typer.Option(
            "--counterfactual/--no-counterfactual",
            help="Search for the smallest change that flips the outcome (default: the "
            "model metadata's decision.counterfactual).",
            show_default=False,
        ),
    ] = None,
    background: Annotated[
        Path | None,
        typer.Option(
            "--background", metavar="FILE", help="Reference data (CSV/Parquet) for non-tree models."
        ),
    ] = None,
    tenant: TenantOption = "default",
    subject_key_file: SubjectKeyOption = None,
    trust: TrustOption = False,
    trust_type: TrustTypeOption = None,
    db: DbOption = None,
) -> None:
    """Decide, explain and record one decision; print it as JSON or write its letter."""
    from govkit.decide import explain as explain_
    from govkit.decide import letter
    from govkit.service import parse_features_json

    def body() -> None:
        _check_emit(format, output)
        try:
            text = input.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(f"--input {input}: file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"--input {input}: cannot read ({type(exc).__name__})") from None
        features = parse_features_json(text, source=str(input))
        key = _subject_key(subject_key_file, required=subject_id is not None)
        with _store(db) as store:
            # NAME alone: the latest version (the registry resolves it, with a close-name hint)
            decision = explain_(
                model,
                features,
                store=store,
                subject_id=subject_id,
                subject_key=key,
                counterfactual=counterfactual,
                background=background,
                tenant=tenant,
                trust=trust,
                trusted_types=trust_type or (),
            )
            content = letter(decision, store=store, format=format)
        _emit(content, format, output)
        exp = decision.explanation
        typer.echo(
            f"decision {decision.decision_id}: {exp.outcome} (score {exp.score:.4f}) "
            f"recorded at audit sequence {decision.audit_sequence}"
            + ("" if exp.reliable else "; WARNING: the explanation failed its additivity check"),
            err=True,
        )

    _guard(body)


@decision_app.command("show")
def decision_show(
    decision_id: Annotated[
        str, typer.Argument(metavar="DECISION_ID", help="Decision id (dec_...).")
    ],
    format: FormatOption = "json",
    output: OutputOption = None,
    tenant: TenantOption = "default",
    db: DbOption = None,
) -> None:
    """Print a recorded decision as JSON, or write its letter."""
    from govkit.decide import letter

    def body() -> None:
        _check_emit(format, output)
        with _store(db) as store:
            content = letter(decision_id, store=store, format=format, tenant=tenant)
        _emit(content, format, output)

    _guard(body)


@app.command("serve")
def serve(
    host: Annotated[
        str, typer.Option("--host", metavar="HOST", help="Interface to listen on.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", metavar="PORT", min=0, max=65535, help="TCP port.")
    ] = 8000,
    rate_limit: Annotated[
        int | None,
        typer.Option(
            "--rate-limit",
            metavar="N",
            min=1,
            help="Requests per minute per API key (default: off).",
        ),
    ] = None,
    auth_failure_limit: Annotated[
        int,
        typer.Option(
            "--auth-failure-limit",
            metavar="N",
            min=0,
            help="Failed API-key attempts per minute per client address before its "
            "requests are refused with 429, except those with a key that authenticated "
            "in the last 5 minutes (a valid key not used lately waits too: it cannot be "
            "told from a guess without looking it up); 0: off.",
        ),
    ] = 30,
    decide_in_threads: Annotated[
        bool,
        typer.Option(
            "--decide-in-threads",
            help="Make every decision in a worker thread (default: on the event loop's "
            "thread when nothing in it waits; see docs/concepts/decisions.md).",
        ),
    ] = False,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            "--forwarded-allow-ips",
            metavar="ADDRESSES",
            help="Comma-separated addresses of reverse proxies trusted to name the client "
            "(X-Forwarded-For), or '*'; default: none, the peer is the client.",
        ),
    ] = None,
    background: Annotated[
        Path | None,
        typer.Option(
            "--background", metavar="FILE", help="Reference data (CSV/Parquet) for non-tree models."
        ),
    ] = None,
    subject_key_file: SubjectKeyOption = None,
    checkpoint: Annotated[
        list[Path] | None,
        typer.Option(
            "--checkpoint",
            metavar="FILE",
            help="Signed audit checkpoint the dashboard checks the chain against (repeatable).",
        ),
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key", metavar="FILE", help="Trusted Ed25519 public key of the checkpoints."
        ),
    ] = None,
    preload: Annotated[
        list[str] | None,
        typer.Option(
            "--preload",
            metavar="MODEL",
            help="Model NAME@VERSION, NAME@ALIAS or NAME (latest) to load before the server "
            "listens, so its first decision does not wait (repeatable; an error stops serve).",
        ),
    ] = None,
    trust: TrustOption = False,
    trust_type: TrustTypeOption = None,
    db: DbOption = None,
) -> None:
    """Serve the decision API (OpenAPI docs at /docs) and the dashboard (/dashboard/)."""
    from govkit._optional import import_optional
    from govkit.service import DecisionService

    def body() -> None:
        from govkit.store import load_public_key, read_checkpoint

        checkpoints = [read_checkpoint(path) for path in checkpoint or []]
        verify_key = load_public_key(public_key) if public_key is not None else None
        from govkit.api import ApiSettings, create_app
        from govkit.dashboard import DashboardData
        from govkit.store import Store

        key = _subject_key(subject_key_file, required=False)
        uvicorn = import_optional("uvicorn", feature="govkit serve")
        store = Store.open(db)
        try:
            service = DecisionService(
                store,
                subject_key=key,
                background=background,
                trust=trust,
                trusted_types=trust_type or (),
            )
            settings = ApiSettings(
                rate_limit=rate_limit,
                auth_failure_limit=auth_failure_limit or None,
                decide_inline=not decide_in_threads,
            )
            application = create_app(
                service,
                settings=settings,
                dashboard=DashboardData(store, checkpoints=checkpoints, public_key=verify_key),
            )
            if key is None:
                typer.echo(
                    "note: no subject key ($GOVKIT_SUBJECT_KEY / --subject-key-file): "
                    "requests with a subject_id will be refused",
                    err=True,
                )
            for model in preload or []:  # before the port opens: ready means warm
                started = time.perf_counter()
                try:
                    record = service.preload(model)
                except GovkitError as exc:
                    raise _preload_error(model, exc) from None
                seconds = time.perf_counter() - started
                typer.echo(f"preloaded {record.ref} ({model}) in {seconds:.1f} s", err=True)
            uvicorn.run(
                application,
                host=host,
                port=port,
                log_level="warning",
                proxy_headers=forwarded_allow_ips is not None,
                forwarded_allow_ips=forwarded_allow_ips,
            )
        finally:
            store.close()

    _guard(body)


def _preload_error(model: str, exc: GovkitError) -> GovkitError:
    """``exc`` with the --preload value it is about in front of its message."""
    message = f"--preload {model}: {exc}"
    try:
        return type(exc)(message)
    except TypeError:  # an error type with more required arguments
        return InputError(message)


@apikey_app.command("create")
def apikey_create(
    tenant: Annotated[
        str, typer.Option("--tenant", metavar="TENANT", help="Tenant the key acts for.")
    ],
    scope: Annotated[
        list[str],
        typer.Option("--scope", metavar="SCOPE", help="decide, read or admin (repeatable)."),
    ],
    name: Annotated[
        str | None, typer.Option("--name", metavar="LABEL", help="A label for the key.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Create an API key; the token is printed once and stored only as a hash."""
    from govkit.workflows import current_actor

    def body() -> None:
        with _store(db) as store:
            info, token = store.create_api_key(  # the store checks each scope's name
                tenant=tenant, scopes=cast("list[Scope]", scope), name=name, actor=current_actor()
            )
        typer.echo(
            f"created API key {info.key_id} for tenant {info.tenant} "
            f"(scopes: {', '.join(info.scopes)}); the token is shown only now:",
            err=True,
        )
        typer.echo(token)

    _guard(body)


@apikey_app.command("list")
def apikey_list(
    tenant: Annotated[
        str | None, typer.Option("--tenant", metavar="TENANT", help="Only this tenant.")
    ] = None,
    db: DbOption = None,
) -> None:
    """List API keys (never their tokens)."""

    def body() -> None:
        with _store(db) as store:
            keys = store.list_api_keys(tenant=tenant)
        for k in keys:
            state = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "active"
            typer.echo(
                f"{k.key_id}  {k.tenant}  {','.join(k.scopes)}  {state}  {k.name or ''}".rstrip()
            )

    _guard(body)


@apikey_app.command("revoke")
def apikey_revoke(
    key_id: Annotated[
        str, typer.Argument(metavar="KEY_ID", help="Key id (from `govkit apikey list`).")
    ],
    db: DbOption = None,
) -> None:
    """Revoke an API key (the service stops accepting it within seconds)."""
    from govkit.workflows import current_actor

    def body() -> None:
        with _store(db) as store:
            info = store.revoke_api_key(key_id, actor=current_actor())
        typer.echo(f"revoked API key {info.key_id} of tenant {info.tenant}")

    _guard(body)


@subject_app.command("keygen")
def subject_keygen(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="File to write the key to (mode 0600); required.",
        ),
    ] = None,
    out: Annotated[  # its old name, hidden, kept so that scripts keep working
        Path | None, typer.Option("--out", metavar="FILE", hidden=True)
    ] = None,
) -> None:
    """Create a subject key; keep it outside the database (file or $GOVKIT_SUBJECT_KEY)."""
    from govkit.service import generate_subject_key

    def body() -> None:
        if output is not None and out is not None:
            raise InputError("give --output once (--out is its old name)")
        target = output or out
        if target is None:
            raise InputError("--output FILE is required: the file to write the key to")
        if target.exists():
            raise InputError(f"--output {target} exists; refusing to overwrite a key")
        _write_atomic(target, (generate_subject_key() + "\n").encode("ascii"), private=True)
        typer.echo(f"wrote subject key to {target} (mode 0600)")

    _guard(body)


@subject_app.command("access")
def subject_access(
    subject_id: Annotated[
        str, typer.Argument(metavar="SUBJECT_ID", help="The subject id used in decisions.")
    ],
    tenant: TenantOption = "default",
    subject_key_file: SubjectKeyOption = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Write the JSON here (atomically), not to stdout.",
        ),
    ] = None,
    letters: Annotated[
        Path | None,
        typer.Option(
            "--letters",
            metavar="FOLDER",
            help="Also write each decision's letter as PDF into this existing folder "
            "(decision-ID.pdf).",
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Answer an access request (GDPR Art. 15): every decision about the subject, with the
    outcome observed for it (observed_outcome, null if none), as JSON.

    The disclosure is recorded in the audit log (subject.accessed: the subject's random
    key id and the count, never the subject id).
    """
    import json

    from govkit.service import DecisionService, local_principal
    from govkit.workflows import current_actor

    def body() -> None:
        if letters is not None and not letters.is_dir():
            raise InputError(f"--letters {letters}: expected an existing folder")
        _check_emit("json", output)  # (the access is recorded: check first)
        key = _subject_key(subject_key_file, required=True)
        principal = local_principal(tenant)
        with _store(db) as store:
            service = DecisionService(store, subject_key=key, actor=current_actor())
            records = service.subject_records(principal, subject_id)
            # every letter is rendered before any file is written
            pdfs = {
                d.decision_id: service.letter(principal, d.decision_id, "pdf")
                for d in (records.decisions if letters is not None else ())
            }
        decisions = records.decisions
        document = {
            "count": len(decisions),
            "decisions": [
                {
                    **d.model_dump(mode="json"),
                    "observed_outcome": records.outcomes.get(d.decision_id),
                }
                for d in decisions
            ],
        }
        content = json.dumps(document, indent=2, sort_keys=True).encode()
        if letters is not None:
            for decision_id, pdf in pdfs.items():
                _write_atomic(letters / f"decision-{decision_id}.pdf", pdf, private=True)
        _emit(content, "json", output)
        typer.echo(
            f"{len(decisions)} decision(s) about the subject"
            + (f"; {len(pdfs)} letter(s) written to {letters}" if letters is not None else ""),
            err=True,
        )

    _guard(body)


@subject_app.command("erase")
def subject_erase(
    subject_id: Annotated[
        str, typer.Argument(metavar="SUBJECT_ID", help="The subject id used in decisions.")
    ],
    tenant: TenantOption = "default",
    subject_key_file: SubjectKeyOption = None,
    db: DbOption = None,
) -> None:
    """Erase a data subject: destroy their key, so their decisions can no longer be read."""
    from govkit.service import DecisionService, local_principal
    from govkit.workflows import current_actor

    def body() -> None:
        key = _subject_key(subject_key_file, required=True)
        with _store(db) as store:
            service = DecisionService(store, subject_key=key, actor=current_actor())
            count = service.erase_subject(local_principal(tenant), subject_id)
        typer.echo(f"erased the subject: {count} decision(s) can no longer be read")

    _guard(body)
