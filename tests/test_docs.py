"""Docs that cannot drift: the README lists every check id and CLI command."""

from __future__ import annotations

import re
from pathlib import Path

from govkit.checks import all_checks
from govkit.cli._app import app

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_readme_check_table_matches_the_registry():
    rows = re.findall(r"^\| `([a-z_]+\.[a-z_0-9]+)` \| ([^|]*) \|", README, flags=re.M)
    documented = {cid: set(re.findall(r"`([a-z_]+)`", params)) for cid, params in rows}
    registry = all_checks()
    assert set(documented) == set(registry)
    for cid, spec in registry.items():
        assert documented[cid] == set(spec.parameters), cid


def _commands(typer_app, prefix=""):
    import typer.main

    group = typer.main.get_command(typer_app)
    stack = [(prefix, group)]
    while stack:
        name, cmd = stack.pop()
        sub = getattr(cmd, "commands", None)
        if sub:
            stack.extend((f"{name} {k}".strip(), v) for k, v in sub.items())
        else:
            yield name


def test_readme_documents_every_cli_command():
    for command in _commands(app):
        assert f"govkit {command}" in README, f"'govkit {command}' is not in README.md"


def test_readme_opens_with_the_two_commands():
    block = README.split("```")[1]
    assert "make demo" in block and "make test" in block


def test_readme_documents_every_api_error_code():
    from govkit.api import ERROR_CODES

    rows = dict(re.findall(r"^\| `([a-z_]+)` \| (\d+|as sent) \|", README, flags=re.M))
    for code, spec in ERROR_CODES.items():
        assert code in rows, f"API error code {code!r} is not in README.md"
        assert rows[code] == (str(spec.status) if spec.status else "as sent"), code


def test_make_docs_builds_the_site_with_warnings_as_errors():
    makefile = (Path(__file__).resolve().parent.parent / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^docs: venv-dev\n\t(.+)$", makefile, flags=re.M)
    assert recipe, "the Makefile has no 'docs: venv-dev' target"
    assert "mkdocs build --strict" in recipe.group(1) and "build/site" in recipe.group(1)
    assert re.search(r"^\.PHONY:.*\bdocs\b", makefile, flags=re.M)
