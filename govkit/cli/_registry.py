"""Registry inspection: ``govkit model list|show`` and ``govkit dataset list|show``.

The database is opened read-only: nothing is written, not even to the audit log, and a
missing database file is an error rather than a new empty registry. ``--format json``
prints the records as the library returns them (``model_dump``), with the stage and the
latest policy run added to a model version. Exit codes: 0 shown (an empty registry too);
2 an unknown name or version, a malformed NAME@VER, or no database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from govkit._text import one_line
from govkit.cli._app import (
    DbOption,
    TextJsonOption,
    _guard,
    _store,
    dataset_app,
    echo_json,
    model_app,
)

if TYPE_CHECKING:
    from govkit.records import DatasetRecord, ModelVersionRecord
    from govkit.store import RunHeadline, Store

NOT_PROVIDED = "not provided"


def _rows(pairs: list[tuple[str, str | None]]) -> None:
    """Label-value lines; free text on one line, a missing value as "not provided"."""
    width = max(len(label) for label, _ in pairs)
    for label, value in pairs:
        shown = one_line(value) if value else NOT_PROVIDED
        typer.echo(f"  {label:<{width}}  {shown}")


def _when(record: ModelVersionRecord | DatasetRecord) -> str:
    by = f" by {record.created_by}" if record.created_by else ""
    return f"{record.created_at:%Y-%m-%d %H:%M:%S %Z}".strip() + by


def _run_line(run: RunHeadline | None) -> str:
    if run is None:
        return "never checked (govkit check)"
    tally = ", ".join(f"{n} {status}" for status, n in run.counts.items() if n)
    return (
        f"{run.status} ({tally}) against policy {one_line(run.policy_name)}, "
        f"{run.finished_at:%Y-%m-%d %H:%M}, run {run.run_id} at audit sequence "
        f"{run.anchor.sequence} ({run.anchor.hash[:16]}…)"
    )


def _run_json(run: RunHeadline | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "run_id": run.run_id,
        "status": run.status,
        "counts": dict(run.counts),
        "policy_name": run.policy_name,
        "policy_digest": run.policy_digest,
        "finished_at": run.finished_at.isoformat(),
        "audit_sequence": run.anchor.sequence,
        "audit_hash": run.anchor.hash,
    }


def _stages(store: Store, names: set[str]) -> dict[tuple[str, int], str]:
    """(model, version) -> stage, under the names the bound policy gives the stages."""
    out: dict[tuple[str, int], str] = {}
    for name in sorted(names):
        info = store.model_lifecycle(name)
        for version, stage in info["stages"].items():
            out[name, version] = info["names"].label(stage)
    return out


# ---------------------------------------------------------------- models
@model_app.command("list")
def model_list(fmt: TextJsonOption = "text", db: DbOption = None) -> None:
    """Every registered model version: stage, estimator, training data, last policy check."""

    def body() -> None:
        with _store(db, read_only=True) as store:
            records = store.list_model_versions()
            stages = _stages(store, {r.name for r in records})
            latest = store.latest_run_headlines()
            runs = {r.ref: latest.get(r.ref) for r in records}
        if fmt == "json":
            echo_json(
                [
                    {
                        **r.model_dump(mode="json"),
                        "stage": stages[r.name, r.version],
                        "latest_run": _run_json(runs[r.ref]),
                    }
                    for r in records
                ]
            )
            return
        if not records:
            typer.echo("no model versions registered yet (govkit model register)")
            return
        for r in records:
            trained = f"trained on {r.training_data}" if r.training_data else "no training data"
            stage, estimator = one_line(stages[r.name, r.version]), one_line(r.estimator)
            typer.echo(f"{r.ref}  {stage}  {estimator} ({r.flavour})  {trained}")
            typer.echo(f"    last check: {_run_line(runs[r.ref])}")

    _guard(body)


@model_app.command("show")
def model_show(
    model: Annotated[
        str, typer.Argument(metavar="NAME[@VER]", help="NAME[@VER] (default: the latest version).")
    ],
    fmt: TextJsonOption = "text",
    db: DbOption = None,
) -> None:
    """One model version: artifact digest, metadata, data lineage, stage and last check."""
    from govkit.cards import select_run
    from govkit.records import parse_ref
    from govkit.store import RunHeadline

    def body() -> None:
        ref = parse_ref(model, what="model", option="NAME[@VER]")
        with _store(db, read_only=True) as store:
            record = store.get_model_version(ref)
            stage = _stages(store, {record.name})[record.name, record.version]
            chosen = select_run(store, record)  # the run the card reports, and why that one
            run = None if chosen.run is None else RunHeadline.of(chosen.run)
            lineage = store.lineage(record.training_data) if record.training_data else []
            evaluation = (
                store.get_dataset(record.evaluation_data) if record.evaluation_data else None
            )
        if fmt == "json":
            echo_json(
                {
                    **record.model_dump(mode="json"),
                    "stage": stage,
                    "latest_run": _run_json(run),
                    "latest_run_is": chosen.why,
                    "training_lineage": [d.model_dump(mode="json") for d in lineage],
                }
            )
            return
        meta = record.metadata
        typer.echo(str(record.ref))
        _rows(
            [
                ("estimator", f"{record.estimator} ({record.flavour})"),
                ("artifact", f"{record.artifact_uri} ({record.artifact_format})"),
                ("sha256", record.artifact_sha256),
                *_mlflow_rows(record),
                ("registered", _when(record)),
                ("stage", stage),
                ("owner", meta.owner),
                ("contact", meta.contact),
                ("intended use", meta.intended_use),
                ("risk tier", meta.risk_tier),
                ("sensitive", ", ".join(meta.sensitive_features)),
                ("training data", _lineage_line(lineage) if lineage else NOT_PROVIDED),
                (
                    "evaluation data",
                    _dataset_line(evaluation) if evaluation is not None else NOT_PROVIDED,
                ),
                ("last check", f"{_run_line(run)}; {chosen.why}"),
            ]
        )

    _guard(body)


def _mlflow_rows(record: ModelVersionRecord) -> list[tuple[str, str | None]]:
    """Where a version registered from MLflow came from (nothing for a file)."""
    source = record.metadata.mlflow
    if source is None:
        return []
    return [
        (
            "from MLflow",
            f"{source.registered_model} version {source.version} ({source.model_uri}), "
            f"run {source.run_id or '-'}, flavour {source.flavour}",
        )
    ]


def _dataset_line(record: DatasetRecord) -> str:
    return f"{record.name}@{record.version} ({record.row_count:,} rows, {record.fingerprint})"


def _origin(record: DatasetRecord) -> str:
    """Its parents, else its source, else that none is recorded."""
    parents = ", ".join(str(p) for p in record.parents)
    return parents or one_line(record.source_uri or "") or "no recorded source"


def _lineage_line(lineage: list[DatasetRecord]) -> str:
    """The dataset, then each ancestor (breadth-first) with where it came from."""
    parts = []
    for d in lineage:
        parts.append(f"{d.name}@{d.version} <- {_origin(d)}")
    return "; ".join(parts)


# ---------------------------------------------------------------- datasets
@dataset_app.command("list")
def dataset_list(fmt: TextJsonOption = "text", db: DbOption = None) -> None:
    """Every registered dataset version: rows, columns, fingerprint, parents or source."""

    def body() -> None:
        with _store(db, read_only=True) as store:
            records = store.list_datasets()
        if fmt == "json":
            echo_json([r.model_dump(mode="json") for r in records])
            return
        if not records:
            typer.echo("no datasets registered yet (govkit dataset register)")
            return
        for r in records:
            typer.echo(
                f"{r.name}@{r.version}  {r.row_count:,} rows × {len(r.columns)} columns  "
                f"{r.fingerprint[:19]}…  from {_origin(r)}"
            )

    _guard(body)


@dataset_app.command("show")
def dataset_show(
    dataset: Annotated[
        str, typer.Argument(metavar="NAME[@VER]", help="NAME[@VER] (default: the latest version).")
    ],
    fmt: TextJsonOption = "text",
    db: DbOption = None,
) -> None:
    """One dataset version: fingerprint, schema, source, parents and its whole lineage."""
    from govkit.records import parse_ref

    def body() -> None:
        ref = parse_ref(dataset, what="dataset", option="NAME[@VER]")
        with _store(db, read_only=True) as store:
            lineage = store.lineage(ref)
        record = lineage[0]
        if fmt == "json":
            echo_json(
                {
                    **record.model_dump(mode="json"),
                    "lineage": [d.model_dump(mode="json") for d in lineage[1:]],
                }
            )
            return
        typer.echo(f"{record.name}@{record.version}")
        _rows(
            [
                (
                    "fingerprint",
                    record.fingerprint + (" (any row order)" * record.order_independent),
                ),
                ("rows", f"{record.row_count:,}"),
                ("registered", _when(record)),
                ("source", record.source_uri),
                ("parents", ", ".join(str(p) for p in record.parents) or "none"),
                ("transformation", record.transformation),
                ("lineage", _lineage_line(lineage[1:]) if len(lineage) > 1 else "none"),
                ("columns", str(len(record.columns))),
            ]
        )
        width = max(len(c.name) for c in record.columns) if record.columns else 0
        for c in record.columns:
            typer.echo(f"    {c.name:<{width}}  {c.dtype}")

    _guard(body)
