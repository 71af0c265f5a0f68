"""The govkit command line. Exit codes: 0 pass, 1 gate failed, 2 usage or input error."""

from __future__ import annotations

import logging
import os
import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, BinaryIO, Literal, TypeVar

import typer

from govkit._text import json_text
from govkit.exceptions import GovkitError

if TYPE_CHECKING:
    from govkit.store import Store


def command_group(help: str, **kwargs: object) -> typer.Typer:
    """A group of commands; its help is printed as written.

    No rich markup: with it, text in square brackets is taken for a style tag and
    dropped, so ``NAME[@VER]`` printed as ``NAME`` and ``pip install 'govkit[dask]'`` as
    ``pip install 'govkit'``. Plain help also keeps every word (rich's table cropped
    long ones with "…") and is what the CLI reference page shows.
    """
    return typer.Typer(help=help, no_args_is_help=True, rich_markup_mode=None, **kwargs)  # type: ignore[arg-type]


app = command_group(
    "Governance, explainability and audit for machine-learning models.",
    name="govkit",
    pretty_exceptions_enable=False,
    add_completion=False,
)
dataset_app = command_group("Register and inspect datasets.")
model_app = command_group("Register and inspect model versions.")
audit_app = command_group("The tamper-evident audit log.")
policy_app = command_group("Policy files.")
app.add_typer(dataset_app, name="dataset")
app.add_typer(model_app, name="model")
app.add_typer(audit_app, name="audit")
app.add_typer(policy_app, name="policy")

T = TypeVar("T")

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        metavar="URL",
        envvar="GOVKIT_DATABASE_URL",
        help="Database URL (default sqlite:///./govkit.db).",
        show_envvar=True,
    ),
]
TrustOption = Annotated[
    bool,
    typer.Option(
        "--trust",
        help="Trust the artifact's source: allows pickle/joblib and every type in a skops file.",
    ),
]
TrustTypeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--trust-type",
        metavar="TYPE",
        help="A type in a skops file to trust after review (repeatable).",
    ),
]


TextJsonOption = Annotated[
    Literal["text", "json"],
    typer.Option("--format", help="text (for people) or json (for scripts)."),
]


def echo_json(data: object) -> None:
    """``data`` as indented JSON on stdout, control characters escaped (see govkit._text)."""
    typer.echo(json_text(data))


def _fail(message: str) -> typer.Exit:
    typer.echo(f"govkit: error: {message}", err=True)
    return typer.Exit(2)


def _guard(fn: Callable[[], T]) -> T:
    """Run a command body; user errors become a message on stderr and exit code 2."""
    try:
        return fn()
    except GovkitError as exc:
        raise _fail(str(exc)) from None


@contextmanager
def _store(db: str | None, *, read_only: bool = False) -> Iterator[Store]:
    from govkit.store import Store

    store = Store.open(db, read_only=read_only)
    try:
        yield store
    finally:
        store.close()


def _check_output(path: Path, option: str = "--output", *, given: str | None = None) -> Path:
    """Refuse an output path that cannot take a file, before any work is done or recorded:
    a directory ("." or an existing one), or a file in a folder that does not exist.

    Messages start with ``OPTION PATH`` (``--output out.json``), or ``given`` when the
    option's value is more than the path (``--output junit=.``)."""
    where = given or f"{option} {path}"
    if path.name in ("", ".", "..") or path.is_dir():
        raise GovkitError(f"{where}: is a directory; expected a file to write")
    folder = path.resolve().parent
    if not folder.is_dir():
        raise GovkitError(f"{where}: output folder {folder} does not exist")
    return folder


def _write_atomic(path: Path, data: bytes, *, private: bool = False) -> None:
    """Write a file completely or not at all (temp file in the same folder, then rename).

    ``private`` (keys, decisions and letters: personal data) makes it mode 0600; other
    files (reports, cards, public keys) get the mode any new file gets (0666 less the umask).
    """
    _check_output(path)
    with _atomic_file(path, private=private) as fh:
        fh.write(data)


@contextmanager
def _atomic_file(path: Path, *, private: bool = False) -> Iterator[BinaryIO]:
    """A new file beside ``path``, renamed onto it when the block ends without an error."""
    folder = path.resolve().parent
    mode = 0o600 if private else 0o666  # the kernel takes the umask off
    for _attempt in range(100):
        tmp = folder / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            break
        except FileExistsError:
            continue
        except OSError as exc:
            raise GovkitError(
                f"{path}: cannot write the file ({exc.strerror or type(exc).__name__})"
            ) from None
    else:  # pragma: no cover - 100 collisions of 48 random bits
        raise GovkitError(f"{path}: cannot create a temporary file in {folder}")
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            installed = version("govkit")
        except PackageNotFoundError:  # run from a source tree that was never installed
            from govkit import __version__ as installed
        typer.echo(f"govkit {installed}")
        raise typer.Exit(0)


@app.callback()
def _main(
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More logging on stderr.")
    ] = 0,
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print govkit's version and exit.",
        ),
    ] = False,
) -> None:
    _setup_logging(verbose)


# ---------------------------------------------------------------- datasets
@dataset_app.command("register")
def dataset_register(
    path: Annotated[
        Path, typer.Argument(metavar="FILE", help="CSV (with header) or Parquet file.")
    ],
    name: Annotated[str, typer.Option("--name", metavar="NAME", help="Dataset name.")],
    version: Annotated[
        int | None,
        typer.Option("--version", metavar="VERSION", min=1, help="Version (default: next)."),
    ] = None,
    source: Annotated[
        str | None, typer.Option("--source", metavar="URI", help="Where the data came from (URI).")
    ] = None,
    parent: Annotated[
        list[str] | None,
        typer.Option(
            "--parent", metavar="NAME@VER", help="NAME@VER this was derived from (repeatable)."
        ),
    ] = None,
    transformation: Annotated[
        str | None,
        typer.Option(
            "--transformation", metavar="TEXT", help="How it was derived from its parents."
        ),
    ] = None,
    order_independent: Annotated[
        bool, typer.Option("--order-independent", help="Fingerprint ignores row order.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Register a dataset version: fingerprint, schema, source and parents."""
    from govkit.workflows import register_dataset

    def body() -> None:
        with _store(db) as store:
            record, created = register_dataset(
                path,
                name=name,
                store=store,
                version=version,
                source_uri=source,
                parents=parent or (),
                transformation=transformation,
                order_independent=order_independent,
            )
        state = "registered" if created else "already registered (same content)"
        typer.echo(
            f"{record.name}@{record.version} {state}: "
            f"{record.row_count:,} rows, {record.fingerprint}"
        )

    _guard(body)


# ---------------------------------------------------------------- models
@model_app.command("register")
def model_register(
    artifact: Annotated[
        str,
        typer.Argument(
            metavar="ARTIFACT",
            help="Model file: .skops (safe), XGBoost .ubj/.json (safe), .joblib or .pkl "
            "(need --trust); or a model in an MLflow registry: mlflow:models:/NAME/VERSION "
            "or mlflow:models:/NAME@ALIAS (at $MLFLOW_TRACKING_URI).",
        ),
    ],
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            metavar="NAME",
            help="Model name (required for a file; from MLflow: the name the MLflow version "
            "was last registered under, else the MLflow model's).",
        ),
    ] = None,
    training_data: Annotated[
        str | None,
        typer.Option(
            "--training-data",
            metavar="NAME@VER",
            help="NAME@VER of the registered training data (required for a file; from MLflow: "
            "the dataset the run logged with mlflow.log_input).",
        ),
    ] = None,
    version: Annotated[
        int | None,
        typer.Option(
            "--version", metavar="VERSION", min=1, help="Version (default: next; not with MLflow)."
        ),
    ] = None,
    evaluation_data: Annotated[
        str | None,
        typer.Option(
            "--evaluation-data",
            metavar="NAME@VER",
            help="NAME@VER of the registered evaluation data.",
        ),
    ] = None,
    meta: Annotated[
        Path | None,
        typer.Option(
            "--meta", metavar="FILE", help="Model metadata YAML (owner, intended use, ...)."
        ),
    ] = None,
    trust: TrustOption = False,
    trust_type: TrustTypeOption = None,
    db: DbOption = None,
) -> None:
    """Register a model version with its artifact digest, metadata and data links.

    An MLflow model version registered again reuses its latest govkit version, unless --meta,
    --training-data or --evaluation-data differ from it: then a new govkit version of the
    same file is registered, which `govkit check --model mlflow:...` uses from then on.
    """
    from govkit.workflows import register_model_or_reuse

    mlflow = artifact.startswith("mlflow:")
    if not mlflow and training_data is None and name is not None:  # no --name: said first
        raise _fail(
            f"--training-data is required to register a model file ({artifact}): NAME@VER of "
            "its registered training dataset (govkit dataset register); only an "
            "mlflow:models:/... model takes it from the MLflow run"
        )

    def body() -> None:
        with _store(db) as store:
            record, created = register_model_or_reuse(
                artifact,
                name=name,
                store=store,
                training_data=training_data,
                version=version,
                evaluation_data=evaluation_data,
                metadata=meta,
                trust=trust,
                trusted_types=trust_type or (),
            )
        described = f"{record.estimator} ({record.flavour}), sha256 {record.artifact_sha256}"
        source = record.metadata.mlflow
        if not mlflow or source is None:
            typer.echo(f"{record.ref} registered: {described}")
        elif created:
            typer.echo(
                f"{record.ref} registered from MLflow {artifact.removeprefix('mlflow:')} "
                f"(version {source.version}, run {source.run_id or '-'}): {described}"
            )
        else:
            typer.echo(
                f"{record.ref} already registered from MLflow "
                f"{artifact.removeprefix('mlflow:')} (same metadata and data links): {described}"
            )

    _guard(body)


# ---------------------------------------------------------------- policy
@policy_app.command("lint")
def policy_lint(
    path: Annotated[Path, typer.Argument(metavar="POLICY", help="Policy YAML file.")],
) -> None:
    """Validate a policy file; exit 2 with file:line and a hint on any problem."""
    from govkit.policy import load_policy

    loaded = _guard(lambda: load_policy(path))
    typer.echo(f"{path}: ok ({len(loaded.policy.rules)} rules, {loaded.digest})")


@policy_app.command("schema")
def policy_schema() -> None:
    """Print the JSON Schema of policy files (for editor completion)."""
    import json

    from govkit.policy import Policy

    schema = Policy.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "govkit policy (schema_version 1)"
    typer.echo(json.dumps(schema, indent=2, sort_keys=True))


@policy_app.command("test")
def policy_test(
    directory: Annotated[
        Path, typer.Argument(metavar="FOLDER", help="Folder of policy test files (*.yaml).")
    ],
) -> None:
    """Run policy unit tests: recorded decisions with expected verdicts; exit 1 on a mismatch."""
    from govkit.policy_tests import run_policy_tests

    def body() -> int:
        outcomes = run_policy_tests(directory)
        for o in outcomes:
            typer.echo(f"{'ok  ' if o.ok else 'FAIL'} {Path(o.file).name}: {o.case} ({o.detail})")
        failed = sum(not o.ok for o in outcomes)
        typer.echo(f"{len(outcomes) - failed} passed, {failed} failed")
        return 1 if failed else 0

    raise typer.Exit(_guard(body))


# ---------------------------------------------------------------- audit
# The `audit` and `db` commands live in _audit.py; importing it registers them on
# audit_app and app (it imports DbOption, _guard and _write_atomic from here).
# _decide: explain, decision, serve, apikey, subject; _lifecycle: model bind/promote/...;
# _monitor: monitor, decision outcomes import; _registry: model and dataset list/show;
# _check: check and card (imported first: the order of registration is the order of
# `govkit --help`)
from govkit.cli import _check, _audit, _decide, _lifecycle, _monitor, _registry  # noqa: E402,F401,I001


def run() -> None:
    app()
