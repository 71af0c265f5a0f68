"""The `govkit check` command (the policy gate in CI) and `govkit card` (the model card).

Exit codes of `check`: 0 the policy passed, 1 it failed (a rule at severity error), 2 bad
input or an error (file, line and field named). Both write their files atomically.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

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
)
from govkit.exceptions import GovkitError

if TYPE_CHECKING:
    from govkit.records import ModelRef
    from govkit.store import Store


# ---------------------------------------------------------------- check
@app.command("check")
def check_cmd(
    policy: Annotated[Path, typer.Argument(metavar="POLICY", help="Policy YAML file.")],
    data: Annotated[
        str,
        typer.Option(
            "--data",
            metavar="PATH",
            help="Evaluation data (CSV with header, or Parquet); with --engine dask, Parquet: "
            "a file, a directory of files, a quoted glob or a URL (s3://...).",
        ),
    ],
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            metavar="MODEL",
            help="NAME or NAME@VER of a registered model, or an MLflow model: "
            "mlflow:models:/NAME/VERSION or mlflow:models:/NAME@ALIAS ($MLFLOW_TRACKING_URI; "
            "registered in govkit on first use).",
        ),
    ] = None,
    engine: Annotated[
        Literal["pandas", "dask"],
        typer.Option(
            "--engine",
            help="pandas: read the data into memory; dask: read Parquet partition by partition "
            "(data too big for memory), same results (pip install 'govkit[dask]').",
        ),
    ] = "pandas",
    dask_scheduler: Annotated[
        str | None,
        typer.Option(
            "--dask-scheduler",
            metavar="ADDRESS",
            help="Address of the Dask scheduler to run on (tcp://host:8786), with --engine "
            "dask; default: threads in this process.",
        ),
    ] = None,
    dask_timeout: Annotated[
        float | None,
        typer.Option(
            "--dask-timeout",
            metavar="SECONDS",
            min=0.1,
            help="Seconds to wait for --dask-scheduler to answer (default 30).",
        ),
    ] = None,
    prediction_column: Annotated[
        str | None,
        typer.Option(
            "--prediction-column",
            metavar="COLUMN",
            help="Audit recorded predictions in this column instead of running the model.",
        ),
    ] = None,
    positive_label: Annotated[
        str | None,
        typer.Option(
            "--positive-label",
            metavar="LABEL",
            help="The favourable outcome (default: from the model metadata).",
        ),
    ] = None,
    score_column: Annotated[
        str | None,
        typer.Option(
            "--score-column",
            metavar="COLUMN",
            help="Recorded positive-class scores (with --prediction-column).",
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            "--target", metavar="COLUMN", help="Target column (default: from the model metadata)."
        ),
    ] = None,
    reference_data: Annotated[
        Path | None,
        typer.Option(
            "--reference-data",
            metavar="FILE",
            help="The model's registered training data (CSV or Parquet), the reference of "
            "drift rules; its fingerprint must match the registry.",
        ),
    ] = None,
    champion_prediction_column: Annotated[
        str | None,
        typer.Option(
            "--champion-prediction-column",
            metavar="COLUMN",
            help="Recorded champion predictions, for champion_challenger rules without running "
            "the champion.",
        ),
    ] = None,
    champion_score_column: Annotated[
        str | None,
        typer.Option(
            "--champion-score-column",
            metavar="COLUMN",
            help="Recorded champion scores (with --champion-prediction-column).",
        ),
    ] = None,
    format: Annotated[
        Literal["text", "json", "junit", "sarif", "github", "markdown"],
        typer.Option("--format", help="Format on stdout (or of a plain --output FILE)."),
    ] = "text",
    output: Annotated[
        list[str] | None,
        typer.Option(
            "--output",
            metavar="[FORMAT=]FILE",
            help="FILE (in --format, instead of stdout) or FORMAT=FILE (besides stdout); "
            "repeatable. FORMAT=- writes FORMAT to stdout instead of --format (one format "
            "on stdout at most).",
        ),
    ] = None,
    fail_on_warn: Annotated[
        bool, typer.Option("--fail-on-warn", help="Warnings fail the gate too.")
    ] = False,
    mlflow_log: Annotated[
        bool,
        typer.Option(
            "--mlflow-log",
            help="Also log the run to MLflow ($MLFLOW_TRACKING_URI): rule metrics, verdict "
            "tags, evaluation JSON and model card (pip install 'govkit[mlflow]').",
        ),
    ] = False,
    mlflow_experiment: Annotated[
        str | None,
        typer.Option(
            "--mlflow-experiment",
            metavar="NAME",
            help="MLflow experiment for --mlflow-log (created if missing; default: the "
            "experiment of the run that logged the MLflow model).",
        ),
    ] = None,
    trust: TrustOption = False,
    trust_type: TrustTypeOption = None,
    db: DbOption = None,
) -> None:
    """Evaluate a model against a policy; exit 0 pass, 1 fail, 2 input error."""
    from govkit.output import FORMATS, render, write_step_summary
    from govkit.workflows import check

    def body() -> int:
        targets = _parse_outputs(output or [], default=format, formats=FORMATS)
        if mlflow_experiment is not None and not mlflow_log:
            raise GovkitError("--mlflow-experiment applies with --mlflow-log only")
        if mlflow_log:
            from govkit.integrations._mlflow_client import require_mlflow, tracking_uri

            require_mlflow("--mlflow-log")
            tracking_uri()  # fail before the run when MLflow is not configured
            if model is None:
                raise GovkitError("--mlflow-log needs a --model")
        with _store(db) as store, _progress() as progress:
            outcome = check(
                policy,
                model=model,
                data=data,
                store=store,
                target=target,
                prediction_column=prediction_column,
                score_column=score_column,
                positive_label=positive_label,
                trust=trust,
                trusted_types=trust_type or (),
                progress=progress,
                reference_data=reference_data,
                champion_prediction_column=champion_prediction_column,
                champion_score_column=champion_score_column,
                engine=engine,
                dask_scheduler=dask_scheduler,
                dask_timeout=dask_timeout,
            )
            source = _mlflow_source(store, model, outcome.result.model)

        def rendered(fmt: str) -> str:
            return render(outcome.result, fmt, policy=outcome.policy, fail_on_warn=fail_on_warn)

        for fmt, path in targets:
            if path is not None:
                _write_atomic(path, rendered(fmt).encode("utf-8"))
        on_stdout = _stdout_format(output or [], targets, default=format)
        if on_stdout is not None:
            typer.echo(rendered(on_stdout), nl=False)
        if format == "github" or any(fmt == "github" for fmt, _ in targets):
            write_step_summary(outcome.result, policy=outcome.policy, fail_on_warn=fail_on_warn)
        if outcome.anchor is None:
            typer.echo("not recorded in the audit log (no registered --model given)", err=True)
        else:
            typer.echo(
                f"recorded as policy run {outcome.run_id} at audit sequence "
                f"{outcome.anchor.sequence} ({outcome.anchor.hash[:16]}…)",
                err=True,
            )
        if source is not None:
            typer.echo(source, err=True)
        if mlflow_log:
            from govkit.workflows import log_to_mlflow

            with _store(db) as store:
                logged = log_to_mlflow(outcome, store=store, experiment=mlflow_experiment)
            typer.echo(f"logged to MLflow run {logged.mlflow_run_id}", err=True)
        return outcome.result.exit_code(fail_on_warn=fail_on_warn)

    raise typer.Exit(_guard(body))


def _mlflow_source(store: Store, model: str | None, ref: ModelRef) -> str | None:
    """Where a model named by an MLflow URI came from: version, run, file and digest."""
    if not (model or "").startswith("mlflow:"):
        return None
    record = store.get_model_version(ref)
    source = record.metadata.mlflow
    if source is None:
        return None
    return (
        f"model {record.ref} is MLflow {source.model_uri} (version {source.version}, run "
        f"{source.run_id or '-'}, {source.model_file} sha256 {record.artifact_sha256[:16]}…)"
    )


def _parse_outputs(
    values: list[str], *, default: str, formats: Mapping[str, object]
) -> list[tuple[str, Path | None]]:
    """``FILE`` → (default format, FILE); ``FORMAT=FILE`` → (FORMAT, FILE); ``FORMAT=-`` →
    (FORMAT, None): stdout. Checked up front."""
    targets: list[tuple[str, Path | None]] = []
    for value in values:
        fmt, sep, name = value.partition("=")
        if not sep:
            fmt, name = default, value
        if fmt not in formats:
            raise GovkitError(
                f"--output {value}: unknown format '{fmt}'; expected one of: "
                f"{', '.join(formats)} (as FORMAT=FILE)"
            )
        if not name:
            raise GovkitError(f"--output {value}: no file name after '='")
        if name == "-":
            if any(other is None for _, other in targets):
                raise GovkitError(
                    f"--output {value}: a second format for stdout ('-'); one format can go "
                    "to stdout, write the others to files"
                )
            targets.append((fmt, None))
            continue
        path = Path(name)
        _check_output(path, given=f"--output {value}")
        if any(other is not None and path.resolve() == other.resolve() for _, other in targets):
            raise GovkitError(f"--output {value}: the same file twice; one file per format")
        targets.append((fmt, path))
    return targets


def _stdout_format(
    values: list[str], targets: list[tuple[str, Path | None]], *, default: str
) -> str | None:
    """The format printed on stdout: that of ``FORMAT=-`` (or a plain ``-``), else
    ``--format``, unless a plain FILE took it; None: nothing on stdout."""
    for fmt, path in targets:
        if path is None:
            return fmt
    plain_file = any("=" not in value for value in values)
    return None if plain_file else default


@contextmanager
def _progress() -> Iterator[Callable[[str], None] | None]:
    """A progress line on a terminal (stderr); nothing when stderr is a pipe or file."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("checking {task.description}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("", total=None)
        yield lambda rule_id: bar.update(task, description=rule_id)


# ---------------------------------------------------------------- card
@app.command("card")
def card_cmd(
    model: Annotated[
        str, typer.Argument(metavar="NAME[@VER]", help="NAME or NAME@VER of a registered model.")
    ],
    output: Annotated[Path, typer.Option("--output", metavar="FILE", help="File to write.")],
    format: Annotated[
        Literal["html", "pdf", "md", "json"],
        typer.Option(
            "--format",
            help="html, pdf, md (Markdown with Hugging Face metadata) or json (Model Card "
            "Toolkit fields).",
        ),
    ] = "html",
    page_size: Annotated[
        Literal["A4", "Letter"], typer.Option("--page-size", help="Paper size.")
    ] = "A4",
    pdfa: Annotated[
        bool, typer.Option("--pdfa", help="PDF/A-3b for archiving (--format pdf only).")
    ] = False,
    tagged: Annotated[
        bool,
        typer.Option(
            "--tagged",
            help="Tagged PDF for screen readers: headings, tables, figures read as their "
            "text alternatives (--format pdf only; about a quarter more PDF writing time).",
        ),
    ] = False,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            metavar="SECONDS",
            min=1,
            help="Seconds the PDF layout may take (at most a day, 86,400).",
        ),
    ] = 60.0,
    policy: Annotated[
        str | None,
        typer.Option("--policy", metavar="NAME", help="Report the latest run of this policy."),
    ] = None,
    run_id: Annotated[
        int | None, typer.Option("--run", metavar="ID", help="Report this recorded run.")
    ] = None,
    generated_at: Annotated[
        str | None,
        typer.Option(
            "--generated-at",
            metavar="TIME",
            help="Card time (ISO 8601), e.g. the generated_at logged with a card, to re-render it.",
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Render the model card with the latest run of the bound policy (or --policy / --run);
    its digest goes to the audit log."""
    if format == "pdf":  # the PDF renderer imports WeasyPrint while this process imports the rest
        from govkit.report._child import start_spare

        start_spare()
    from govkit.cards import card, parse_generated_at

    def body() -> None:
        _check_output(output)
        moment = parse_generated_at(generated_at) if generated_at is not None else None
        with _store(db) as store:
            content = card(
                model,
                store=store,
                format=format,
                page_size=page_size,
                pdf_variant="pdf/a-3b" if pdfa else None,
                tagged=tagged,
                timeout=timeout,
                policy=policy,
                run_id=run_id,
                generated_at=moment,
            )
        _write_atomic(output, content)
        typer.echo(f"wrote {output} ({len(content):,} bytes)")

    _guard(body)
