"""``govkit monitor`` (a policy run over recorded decisions) and ``decision outcomes import``.

Exit codes: 0 the monitored window passes (or could not be judged: N/A), 1 an
error-severity rule fails, 2 bad input.
"""

from __future__ import annotations

import csv
import re
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from govkit.cli._app import (
    DbOption,
    TrustOption,
    TrustTypeOption,
    _guard,
    _store,
    app,
    command_group,
)
from govkit.cli._decide import decision_app
from govkit.exceptions import InputError, NotFoundError

outcomes_app = command_group("Observed outcomes of recorded decisions.")
decision_app.add_typer(outcomes_app, name="outcomes")

MAX_ROWS = 1_000_000


def _read_outcomes(path: Path) -> list[tuple[int, str, object]]:
    """``(line, decision_id, outcome)`` of every data row; InputError naming FILE:LINE."""
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file ({type(exc).__name__})") from None
    try:
        with handle:
            return _parse_outcomes(path, csv.DictReader(handle))
    except UnicodeDecodeError as exc:
        from govkit.data import not_utf8

        raise not_utf8(path, path, exc, plain=True) from None


def _parse_outcomes(path: Path, reader: csv.DictReader[str]) -> list[tuple[int, str, object]]:
    if reader.fieldnames is None or not {"decision_id", "outcome"} <= set(reader.fieldnames):
        raise InputError(
            f"{path}: expected a CSV header with columns decision_id,outcome; found "
            f"{','.join(reader.fieldnames or []) or 'no header'}"
        )
    rows: list[tuple[int, str, object]] = []
    first_line: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        decision_id, raw = (row.get("decision_id") or "").strip(), (row.get("outcome") or "")
        if not decision_id or not raw.strip():
            raise InputError(f"{path}:{line}: decision_id and outcome must both be given")
        if decision_id in first_line:
            raise InputError(
                f"{path}:{line}: decision_id {decision_id!r} is given twice (first at "
                f"{path}:{first_line[decision_id]}); one outcome per decision"
            )
        first_line[decision_id] = line
        value: object = raw.strip()
        if raw.strip().lstrip("-").isdigit():
            value = int(raw.strip())
        rows.append((line, decision_id, value))
        if len(rows) > MAX_ROWS:
            raise InputError(f"{path}: more than {MAX_ROWS:,} rows; split the file")
    if not rows:
        raise InputError(f"{path}: no rows")
    return rows


_ROW = re.compile(r"^outcome (\d+) ")


def _where(path: Path, lines: list[tuple[int, str, object]], exc: Exception) -> str:
    """``FILE:LINE`` of the row an error names as ``outcome N (...)``, else ``FILE``."""
    match = _ROW.match(str(exc))
    index = int(match.group(1)) - 1 if match else -1
    return f"{path}:{lines[index][0]}" if 0 <= index < len(lines) else str(path)


@outcomes_app.command("import")
def outcomes_import(
    path: Annotated[
        Path, typer.Argument(metavar="FILE", help="CSV with columns decision_id,outcome.")
    ],
    tenant: Annotated[
        str | None,
        typer.Option("--tenant", metavar="TENANT", help="Only decisions of this tenant."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Attach observed outcomes (labels) to recorded decisions, one audit event each."""
    from govkit.monitor import conform_outcomes
    from govkit.workflows import current_actor

    def body() -> None:
        lines = _read_outcomes(path)
        rows = [(decision_id, value) for _line, decision_id, value in lines]
        with _store(db) as store:
            try:  # one transaction: a bad row leaves nothing recorded
                rows = conform_outcomes(store, rows, tenant=tenant)
                replaced = store.record_outcomes(rows, tenant=tenant, actor=current_actor())
            except (InputError, NotFoundError) as exc:
                raise InputError(
                    f"{_where(path, lines, exc)}: {exc}; nothing was recorded"
                ) from None
        typer.echo(f"{len(rows)} outcomes recorded ({replaced} replaced earlier ones)")

    _guard(body)


@app.command("monitor")
def monitor_cmd(
    model: Annotated[
        str, typer.Argument(metavar="NAME[@VER]", help="NAME (the production version) or NAME@VER.")
    ],
    policy: Annotated[
        Path, typer.Option("--policy", metavar="FILE", help="Monitoring policy YAML.")
    ],
    window: Annotated[
        str, typer.Option("--window", metavar="DURATION", help="How far back: 30d, 12h, 90m.")
    ],
    reference_data: Annotated[
        Path | None,
        typer.Option(
            "--reference-data",
            metavar="FILE",
            help="The registered training data (drift rules); default: the file at its "
            "recorded location (dataset register --source file://...) if unchanged.",
        ),
    ] = None,
    attributes: Annotated[
        Path | None,
        typer.Option(
            "--attributes",
            metavar="FILE",
            help="CSV decision_id,<attribute>,... with the sensitive attributes fairness "
            "rules group by (decisions do not record them); read for this run only.",
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--end", metavar="TIME", help="End of the window (ISO 8601; default now)."),
    ] = None,
    trust: TrustOption = False,
    trust_type: TrustTypeOption = None,
    db: DbOption = None,
) -> None:
    """Evaluate drift, fairness and performance over recorded decisions; exit 1 on failure."""
    from govkit.monitor import monitor, parse_window

    def body() -> int:
        span = parse_window(window)
        until = None
        if end is not None:
            try:
                until = datetime.fromisoformat(end)
            except ValueError:
                raise InputError(f"--end: expected an ISO 8601 time; got {end[:40]!r}") from None
            if until.tzinfo is None:
                raise InputError("--end: give a time zone, e.g. 2025-01-31T00:00:00+00:00")
        with _store(db) as store:
            out = monitor(
                model,
                policy=policy,
                window=span,
                store=store,
                reference_data=reference_data,
                attributes=attributes,
                trust=trust,
                trusted_types=trust_type or (),
                end=until,
            )
        r = out.result
        typer.echo(
            f"{r.model}: {r.status.value} over {out.decisions} decisions "
            f"({out.outcomes} with outcomes, {out.erased} erased excluded) "
            f"from {out.since:%Y-%m-%d %H:%M} to {out.until:%Y-%m-%d %H:%M}; run {out.run_id}"
        )
        for note in out.notes:
            typer.echo(f"  {note}")
        for c in r.checks:
            typer.echo(f"  {c.status.value:<6} {c.rule_id}: {c.message}")
        if out.alerted:
            typer.echo("alert sent")
        return r.exit_code()

    raise typer.Exit(_guard(body))
