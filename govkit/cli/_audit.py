"""The `govkit audit` and `govkit db` commands: verify, checkpoint, export, keygen; upgrade.

Exit codes as everywhere: 0 intact (or done), 1 the audit log is not intact
(naming the first bad sequence number and what is wrong) or a registry table
disagrees with it (naming each row and field), 2 an input or
database error (bad key or checkpoint file, unreachable or read-only database).
Verification, checkpoints and exports open the database read-only.
"""

from __future__ import annotations

import dataclasses
import io
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from govkit._text import one_line
from govkit.cli._app import (
    DbOption,
    TextJsonOption,
    _atomic_file,
    _check_output,
    _guard,
    _write_atomic,
    app,
    audit_app,
    command_group,
    echo_json,
)
from govkit.exceptions import GovkitError

if TYPE_CHECKING:
    from govkit.store import Store
    from govkit.store._chain import AuditEvent, ChainReport

_NO_CHECKPOINT_NOTE = (
    "note: no checkpoint given: truncation of the tail or a rewrite of the whole chain "
    "cannot be detected (sign one with `govkit audit checkpoint` and keep it outside the "
    "database)"
)


@audit_app.command("verify")
def audit_verify(
    checkpoint: Annotated[
        list[Path] | None,
        typer.Option(
            "--checkpoint", metavar="FILE", help="Signed checkpoint file to check (repeatable)."
        ),
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            metavar="FILE",
            help="Trusted Ed25519 public key the checkpoints must be signed with.",
        ),
    ] = None,
    jsonl: Annotated[
        Path | None,
        typer.Option(
            "--jsonl",
            metavar="FILE",
            help="Verify this `govkit audit export` file instead of a database.",
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Recompute the audit hash chain and cross-check the registry tables against it.

    Exit 0 intact, 1 naming the first bad event or each registry row that differs.
    """
    from govkit.store import (
        RegistryReport,
        Store,
        load_public_key,
        read_checkpoint,
        verify_jsonl,
    )

    def body() -> int:
        checkpoints = [read_checkpoint(path) for path in checkpoint or []]
        key = load_public_key(public_key) if public_key is not None else None
        registry: RegistryReport | None = None
        if jsonl is not None:
            report = verify_jsonl(jsonl, checkpoints=checkpoints, public_key=key)
            what = f"audit export {jsonl}"
        else:
            with Store.open(db, read_only=True) as store:
                report = store.verify_chain(checkpoints=checkpoints, public_key=key)
                registry = store.verify_registry()
            what = "audit chain"
        for check in report.checkpoints:
            state = "ok" if check.ok else "FAILED"
            signer = check.key_id if check.pinned else f"{check.key_id}, NOT pinned"
            typer.echo(
                f"checkpoint {check.source}: {state} (event {check.sequence}, signed "
                f"{check.timestamp} by {signer})"
            )
        if not report.ok:
            typer.echo(_broken(what, report))
            return 1
        typer.echo(
            f"{what} intact: {report.events:,} events, head sequence "
            f"{report.head_sequence}, head hash {report.head_hash}"
        )
        if registry is not None and not registry.ok:
            for problem in registry.problems:
                typer.echo(f"registry MISMATCH {problem}")
            typer.echo(
                f"registry does NOT match the audit log: {len(registry.problems)} problem(s)"
            )
        elif registry is not None:
            typer.echo(
                f"registry matches the audit log: {registry.models_checked:,} model versions, "
                f"{registry.datasets_checked:,} datasets, {registry.lifecycle_checked:,} "
                f"lifecycle rows, {registry.runs_checked:,} policy runs and "
                f"{registry.api_keys_checked:,} API keys cross-checked"
            )
        if not checkpoints:
            typer.echo(_NO_CHECKPOINT_NOTE, err=True)
        else:
            newest = max(check.sequence for check in report.checkpoints)
            if key is None:
                typer.echo(
                    "note: checkpoint signatures were checked against the keys they carry; "
                    "pass --public-key to prove who signed them",
                    err=True,
                )
            if newest < report.head_sequence:
                typer.echo(
                    f"note: events {newest + 1} to {report.head_sequence} are newer than every "
                    "checkpoint: truncating or rewriting them cannot be detected",
                    err=True,
                )
        return 1 if registry is not None and not registry.ok else 0

    raise typer.Exit(_guard(body))


@audit_app.command("checkpoint")
def audit_checkpoint(
    key_file: Annotated[
        Path | None,
        typer.Option(
            "--key-file",
            metavar="FILE",
            help="Ed25519 private key (PEM or base64 seed); default $GOVKIT_AUDIT_SIGNING_KEY.",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", metavar="FILE", help="Write the checkpoint here (default stdout)."
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Verify the chain, then sign its head (Ed25519); keep the file outside the database."""
    from govkit.store import Store, load_signing_key

    def body() -> None:
        if output is not None:
            _check_output(output)
        key = load_signing_key(key_file)
        with Store.open(db, read_only=True) as store:
            checkpoint = store.checkpoint(key)
        document = checkpoint.to_json()
        if output is None:
            typer.echo(document, nl=False)
        else:
            _write_atomic(output, document.encode("utf-8"))
        typer.echo(
            f"signed checkpoint of event {checkpoint.sequence} ({checkpoint.head_hash[:16]}…) "
            f"with key {checkpoint.key_id}" + ("" if output is None else f": wrote {output}"),
            err=True,
        )

    _guard(body)


@audit_app.command("log")
def audit_log(
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            metavar="NAME[@VER]",
            help="Events about this model: NAME (every version) or NAME@VER.",
        ),
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset", metavar="NAME[@VER]", help="Events about this dataset: NAME or NAME@VER."
        ),
    ] = None,
    decision: Annotated[
        str | None,
        typer.Option("--decision", metavar="DECISION_ID", help="Events about this decision id."),
    ] = None,
    event_type: Annotated[
        list[str] | None,
        typer.Option(
            "--type",
            metavar="EVENT_TYPE",
            help="Only events of this type, e.g. policy.run (repeatable).",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="TIME",
            help="Only events at or after this UTC date or time (ISO 8601).",
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", metavar="N", min=0, help="At most this many events (0: all).")
    ] = 20,
    fmt: TextJsonOption = "text",
    db: DbOption = None,
) -> None:
    """Show the newest audit events, newest first, optionally about one model, dataset or
    decision. Reading does not verify the chain: `govkit audit verify` does."""
    from govkit.store import Store

    def body() -> None:
        moment = _since(since)
        with Store.open(db, read_only=True) as store:
            subjects = _subjects(store, model=model, dataset=dataset, decision=decision)
            events = store.find_audit_events(
                subjects=subjects,
                event_types=event_type or (),
                since=moment,
                limit=limit or None,
            )
            known = store.audit_event_types() if event_type else {}
        unknown = sorted(set(event_type or ()) - set(known))
        if unknown:  # a typo (policy.runs) reads as "nothing happened": say what there is
            there = ", ".join(f"{one_line(t)} ({n})" for t, n in known.items()) or "none"
            typer.echo(
                f"note: no event in this log has type {', '.join(map(repr, unknown))}; the "
                f"types in it (events): {there}",
                err=True,
            )
        if fmt == "json":
            echo_json([_event_json(e) for e in events])
            return
        if not events:
            typer.echo("no audit events match")
            return
        for e in events:
            by = f" by {one_line(e.actor)}" if e.actor else ""
            typer.echo(
                f"#{e.sequence} {e.hash[:16]}  {e.timestamp:%Y-%m-%d %H:%M:%S}  "
                f"{one_line(e.event_type)}  {one_line(e.subject or '-')}{by}"
            )
            summary = _payload_summary(e.payload)
            if summary:
                typer.echo(f"    {summary}")

    _guard(body)


def _since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise GovkitError(
            f"--since: expected an ISO 8601 date or time such as 2026-11-24 or "
            f"2026-11-24T09:30; got {text!r}"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _subjects(
    store: Store, *, model: str | None, dataset: str | None, decision: str | None
) -> list[str]:
    """The event subjects that mean the model, dataset or decision asked for."""
    from govkit.records import parse_ref

    subjects: list[str] = []
    if model is not None:
        ref = parse_ref(model, what="model", option="--model")
        versions = (
            [store.get_model_version(ref).version]
            if ref.version is not None
            else [r.version for r in store.list_model_versions() if r.name == ref.name]
        )
        if not versions:
            store.get_model_version(ref)  # the registry's "no model named ..." error
        # model-wide events (policy binding, rollback) name the model alone; cards rendered
        # before govkit logged them as "model:NAME@VER" named the version without the prefix
        subjects.append(f"model:{ref.name}")
        for v in versions:
            subjects += [f"model:{ref.name}@{v}", f"{ref.name}@{v}"]
    if dataset is not None:
        data = parse_ref(dataset, what="dataset", option="--dataset")
        if data.version is not None:
            subjects.append(f"dataset:{store.get_dataset(data).name}@{data.version}")
        else:
            found = [d for d in store.list_datasets() if d.name == data.name]
            if not found:
                store.get_dataset(data)  # the registry's "no dataset named ..." error
            subjects += [f"dataset:{d.name}@{d.version}" for d in found]
    if decision is not None:
        subjects.append(f"decision:{decision}")
    return subjects


def _payload_summary(payload: dict[str, object], width: int = 160) -> str:
    """``key=value`` for the payload's short scalar fields, cut to ``width`` characters."""
    parts = [
        f"{one_line(str(key))}={one_line(str(value))}"
        for key, value in sorted(payload.items())
        if isinstance(value, str | int | float | bool) and len(str(value)) <= 80
    ]
    text = " ".join(parts)
    return text if len(text) <= width else text[: width - 1] + "…"


def _event_json(event: AuditEvent) -> dict[str, object]:
    return {**dataclasses.asdict(event), "timestamp": event.timestamp.isoformat()}


@audit_app.command("find")
def audit_find(
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE", help="A model card as `govkit card` wrote it (html, pdf, md or json)."
        ),
    ],
    fmt: TextJsonOption = "text",
    db: DbOption = None,
) -> None:
    """Which audit event recorded this card file: found by its SHA-256, with the policy run
    the card reports, on a verified chain.

    Exit 0 found (and the chain verifies), 1 not found or the chain broken, 2 on an
    input error. A card is found only as written: a copy re-saved or printed to PDF has
    other bytes.
    """
    from govkit.store import Store

    def body() -> int:
        digest = _file_sha256(file)
        with Store.open(db, read_only=True) as store:
            cards = store.find_audit_events(event_types=["card.rendered"], limit=None)
            found = [e for e in reversed(cards) if e.payload.get("sha256") == digest]
            runs: dict[int, AuditEvent | None] = {}
            for event in found:
                sequence = event.payload.get("policy_run_sequence")
                if isinstance(sequence, int) and sequence > 0:
                    ran = store.audit_events(after=sequence - 1, limit=1)
                    runs[event.sequence] = ran[0] if ran and ran[0].sequence == sequence else None
            report = store.verify_chain()
        ok = bool(found) and report.ok
        if fmt == "json":
            echo_json(
                {
                    "file": str(file),
                    "sha256": digest,
                    "found": bool(found),
                    "events": [
                        {
                            **_event_json(e),
                            "policy_run": (
                                None if (run := runs.get(e.sequence)) is None else _event_json(run)
                            ),
                        }
                        for e in found
                    ],
                    "chain": {
                        "ok": report.ok,
                        "events": report.events,
                        "first_bad_sequence": report.first_bad_sequence,
                        "problem": report.problem,
                    },
                }
            )
            return 0 if ok else 1
        typer.echo(f"{file}  sha256 {digest}")
        if not found:
            typer.echo(
                "NOT FOUND: no card.rendered event records this digest. The file was not "
                "written by `govkit card` on this store, or it was changed afterwards (a copy "
                "re-saved or printed to PDF has other bytes)."
            )
        for e in found:
            payload = e.payload
            by = f" by {one_line(e.actor)}" if e.actor else ""
            typer.echo(
                f"recorded by event #{e.sequence} ({e.hash[:16]}…) at "
                f"{e.timestamp:%Y-%m-%d %H:%M:%S} UTC{by}: card of "
                f"{one_line(str(payload.get('model')))}, format "
                f"{one_line(str(payload.get('format')))}, generated at "
                f"{one_line(str(payload.get('generated_at')))}"
            )
            run = runs.get(e.sequence)
            if run is not None:
                typer.echo(
                    f"    it reports the policy run of event #{run.sequence}, hash {run.hash} "
                    "(the audit anchor printed on the card)"
                )
            else:
                typer.echo("    it reports no policy run (the model had none)")
        if report.ok:
            typer.echo(f"audit chain intact: {report.events:,} events")
        else:
            typer.echo(_broken("audit chain", report))
        return 0 if ok else 1

    raise typer.Exit(_guard(body))


def _broken(what: str, report: ChainReport) -> str:
    return (
        f"{what} BROKEN at sequence {report.first_bad_sequence} [{report.fault}]: {report.problem}"
    )


def _file_sha256(path: Path) -> str:
    import hashlib

    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise GovkitError(f"{path}: {what}")
    try:
        with path.open("rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise GovkitError(f"{path}: cannot be read ({reason})") from None


@audit_app.command("export")
def audit_export(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", metavar="FILE", help="Write the JSON Lines here (default stdout)."
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Write the audit log as JSON Lines that `govkit audit verify --jsonl` checks offline."""
    from govkit.store import Store

    def body() -> None:
        if output is not None:
            _check_output(output)
        with Store.open(db, read_only=True) as store:
            if output is None:
                count = store.export_jsonl(sys.stdout)
                sys.stdout.flush()
            else:
                count = _export_atomic(store, output)
        typer.echo(
            f"exported {count:,} audit events" + ("" if output is None else f" to {output}"),
            err=True,
        )

    _guard(body)


def _export_atomic(store: Store, path: Path) -> int:
    """Stream the export into a temp file beside ``path`` (checked by the caller), then
    rename it into place."""
    with _atomic_file(path) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
        count = store.export_jsonl(text)
        text.flush()
        text.detach()  # the binary file is closed by _atomic_file
    return int(count)


@audit_app.command("keygen")
def audit_keygen(
    output: Annotated[
        Path,
        typer.Option("--output", metavar="FILE", help="Private key file to create (mode 0600)."),
    ],
    public_output: Annotated[
        Path | None,
        typer.Option(
            "--public-output", metavar="FILE", help="Public key file (default: OUTPUT.pub)."
        ),
    ] = None,
) -> None:
    """Make an Ed25519 key pair for signing checkpoints (never store it in the database)."""
    from govkit.store import generate_signing_key

    def body() -> None:
        public = public_output or output.with_name(output.name + ".pub")
        for path, option in ((output, "--output"), (public, "--public-output")):
            _check_output(path, option)
            if path.exists():
                raise GovkitError(f"{path} already exists; refusing to overwrite a key")
        key = generate_signing_key()
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key.pem())
        _write_atomic(public, key.public_key.pem())
        typer.echo(f"wrote private key {output} (keep it secret) and public key {public}")
        typer.echo(f"key id {key.public_key.key_id}")

    _guard(body)


# ---------------------------------------------------------------- db
db_app = command_group("The audit store's database schema.")
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(db: DbOption = None) -> None:
    """Create the audit store's tables or upgrade them to this govkit's schema, atomically."""
    from govkit.store import SCHEMA_VERSION, redact_url, upgrade_database

    def body() -> None:
        before, after = upgrade_database(db)
        where = redact_url(db) if db else "the default database"
        if before is None:
            typer.echo(f"created the audit store in {where} (schema version {SCHEMA_VERSION})")
        elif before == after:
            typer.echo(f"{where} is already at schema version {SCHEMA_VERSION}")
        else:
            typer.echo(
                f"upgraded {where} from schema revision {before} to {after} "
                f"(schema version {SCHEMA_VERSION})"
            )

    _guard(body)
