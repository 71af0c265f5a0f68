"""The CLI reference page, generated from every command's ``--help``.

The help is rendered in-process through click (typer's plain formatter, not the rich
one), at a fixed width of :data:`WIDTH` columns, so the page is the same on every
machine and is exactly what ``govkit COMMAND --help`` says.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from _docgen.mdtext import anchor, cell, code, table

__all__ = ["WIDTH", "commands", "help_text", "render"]

WIDTH = 100


def commands() -> Iterator[tuple[str, Any]]:
    """(``govkit model register``, click command) for the root, every group and command."""
    import typer.main

    import govkit.cli._app as cli  # importing it registers every command module

    def walk(cmd: Any, path: str) -> Iterator[tuple[str, Any]]:
        yield path, cmd
        for name in sorted(getattr(cmd, "commands", {}) or {}):
            yield from walk(cmd.commands[name], f"{path} {name}")

    yield from walk(typer.main.get_command(cli.app), "govkit")


def help_text(path: str, command: Any) -> str:
    """What ``PATH --help`` prints, in plain text at :data:`WIDTH` columns."""
    from typer import _click
    from typer.core import MARKUP_MODE_KEY

    ctx = _click.Context(command, info_name=path, terminal_width=WIDTH, max_content_width=WIDTH)
    # typer's plain (non-rich) help path: no markup mode, click's own formatter
    ctx.ensure_object(dict)[MARKUP_MODE_KEY] = None
    formatter = ctx.make_formatter()
    super(type(command), command).format_help(ctx, formatter)
    return formatter.getvalue().rstrip() + "\n"


def _summary(command: Any) -> str:
    return command.get_short_help_str(limit=WIDTH) if hasattr(command, "get_short_help_str") else ""


def render() -> str:
    """The whole page as Markdown."""
    entries = list(commands())
    rows = [
        [f"[{code(path)}](#{anchor(path)})", cell(_summary(cmd))]
        for path, cmd in entries
        if path != "govkit"
    ]
    out = [
        "# CLI reference",
        "",
        '!!! note "Generated"',
        "    This page is generated from each command's `--help` "
        f"(rendered at {WIDTH} columns) each time the site is built.",
        "",
        "Exit codes: **0** success (the gate passed), **1** the gate or a verification failed, "
        "**2** a usage or input error, with the message on stderr. Every command that reads "
        "the registry or the audit log takes `--db URL` (or `GOVKIT_DATABASE_URL`; default "
        "`sqlite:///./govkit.db`). Reports go to stdout or `--output`, logs to stderr.",
        "",
        table(["command", "what it does"], rows),
        "",
    ]
    for path, cmd in entries:
        level = "##" if path.count(" ") <= 1 else "###"  # a group's commands under it
        out += [
            f"{level} {path} {{#{anchor(path)}}}",
            "",
            "```text",
            help_text(path, cmd).rstrip(),
            "```",
            "",
        ]
    return "\n".join(out)
