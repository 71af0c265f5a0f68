"""Every command's --help says what its source says: no word dropped or cropped.

Rich markup once took ``[@VER]`` and ``[dask]`` in help texts for style tags and dropped
them (``NAME[@VER]`` printed as ``NAME``, ``pip install 'govkit[dask]'`` as
``pip install 'govkit'``), and rich's tables cropped long words with "…".
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from govkit.cli._app import app  # importing it registers every command


def _commands():
    def walk(cmd, path):
        yield path, cmd
        for name in sorted(getattr(cmd, "commands", {}) or {}):
            yield from walk(cmd.commands[name], [*path, name])

    yield from walk(typer.main.get_command(app), [])


COMMANDS = list(_commands())


def _flat(text: str) -> str:
    """Whitespace as one space; a line broken after a hyphen (click wraps there) joined."""
    return re.sub(r"-\s+", "-", re.sub(r"\s+", " ", text)).strip()


@pytest.mark.parametrize("width", ["80", "200"])
def test_every_help_text_is_printed_whole(width) -> None:
    runner = CliRunner()
    checked = 0
    for path, command in COMMANDS:
        r = runner.invoke(app, [*path, "--help"], env={"COLUMNS": width})
        assert r.exit_code == 0, (path, r.output)
        shown = _flat(r.output)
        assert "…" not in shown, (path, shown)
        texts = [command.help or ""] if path else []
        texts += [getattr(p, "help", None) or "" for p in command.params]
        for text in texts:
            # the first paragraph of a docstring, or an option's whole help
            wanted = _flat(text.split("\n\n")[0])
            if wanted:
                assert wanted in shown, (path, wanted, shown)
                checked += 1
    assert len(COMMANDS) >= 40 and checked >= 190, (len(COMMANDS), checked)


def test_square_brackets_survive_in_the_installed_command() -> None:
    """The entry point as a user runs it, in a terminal-sized window."""
    show = subprocess.run(
        [str(Path(sys.executable).parent / "govkit"), "model", "show", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "80"},
        check=True,
    ).stdout
    assert "NAME[@VER] (default: the latest version)" in _flat(show)
    check = CliRunner().invoke(app, ["check", "--help"], env={"COLUMNS": "80"}).output
    assert "pip install 'govkit[dask]'" in _flat(check)
    assert "mlflow:models:/NAME/VERSION or mlflow:models:/NAME@ALIAS" in _flat(check)


def test_every_option_names_its_value_not_a_python_type() -> None:
    """``--checkpoint FILE``, not typer's ``--checkpoint <list[Path]>`` (a list in one
    value?) or ``--data <str>``: an option that takes a value names it (a metavar) or
    lists its choices, as the README's command table does."""
    from typer.core import TyperOption

    runner = CliRunner()
    named = 0
    for path, command in COMMANDS:
        options = [
            p
            for p in command.params
            if isinstance(p, TyperOption)
            and not (p.is_flag or p.count or p.hidden)  # a hidden alias (keygen --out)
            and p.name != "help"
        ]
        if not options:
            continue
        shown = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"}).output
        for option in options:
            # the first column: "--data PATH", or "-o, --output FILE"
            names = ", ".join(sorted([*option.opts, *option.secondary_opts], key=len))
            column = next(
                c
                for x in shown.splitlines()
                if (c := x.strip().split("  ")[0]).startswith(names + " ")
            )
            value = column[len(names) :].strip()
            if option.metavar is None:  # only choices may go without: <text|json>
                assert re.fullmatch(r"<[\w-]+(\|[\w-]+)+>", value), (path, option.opts, value)
            else:
                assert value == option.metavar and re.fullmatch(r"[A-Z_@\[\]=]+", value), (
                    path,
                    option.opts,
                    value,
                )
                named += 1
        listed = shown.split("Options:", 1)[1]  # (arguments show typer's <type> after the name)
        assert "<str>" not in listed and "<path>" not in listed and "list[" not in listed, path
    assert named >= 70, named
    serve = _flat(runner.invoke(app, ["serve", "--help"], env={"COLUMNS": "80"}).output)
    for expected in ("--checkpoint FILE", "--preload MODEL", "--port PORT", "--db URL"):
        assert expected in serve, expected
