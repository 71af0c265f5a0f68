"""govkit's command line (typer). Nothing imports this package."""

from __future__ import annotations


def main() -> None:
    from govkit.cli._app import run

    run()
