"""Docs that cannot drift: the MkDocs site builds with warnings as errors, and its
generated reference pages name every check id, CLI command, API path and error code.

The site is built once (``mkdocs build --strict``, as ``make docs`` does) into a
temporary folder; the assertions read the built HTML and compare it with the code.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "mkdocs.yml"
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}


def _build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


class _Page(HTMLParser):
    """A built page as sections (heading text -> text, code spans, table rows) and assets."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: dict[str, dict[str, list]] = {}
        self.ids: set[str] = set()
        self.assets: list[str] = []  # src of scripts and images, href of stylesheets
        self._heading: list[str] | None = None
        self._current = self._section("")
        self._code: list[str] | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._skip = 0  # inside a heading's permalink

    def _section(self, title: str) -> dict[str, list]:
        return self.sections.setdefault(title, {"text": [], "code": [], "rows": []})

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"] or "")
        if tag in _HEADINGS:
            self._heading = []
        elif tag == "a" and "headerlink" in (a.get("class") or ""):
            self._skip += 1
        elif tag == "code":
            self._code = []
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        if tag in ("script", "img") and a.get("src"):
            self.assets.append(a["src"] or "")
        if tag == "link" and a.get("rel") == "stylesheet":
            self.assets.append(a.get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HEADINGS and self._heading is not None:
            self._current = self._section(" ".join("".join(self._heading).split()))
            self._heading = None
        elif tag == "a" and self._skip:
            self._skip -= 1
        elif tag == "code" and self._code is not None:
            self._current["code"].append("".join(self._code))
            self._code = None
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self._current["rows"].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._heading is not None:
            self._heading.append(data)
            return
        self._current["text"].append(data)
        if self._code is not None:
            self._code.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def text(self, section: str) -> str:
        return unescape("".join(self.sections[section]["text"]))


def _page(site: Path, path: str) -> _Page:
    page = _Page()
    page.feed((site / path).read_text(encoding="utf-8"))
    return page


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    done = _build(CONFIG, out)
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stdout}\n{done.stderr}"
    assert "WARNING" not in done.stderr, done.stderr
    return out


def test_every_page_of_the_nav_is_built(site: Path):
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))

    def pages(nav):
        for entry in nav:
            value = next(iter(entry.values())) if isinstance(entry, dict) else entry
            yield from pages(value) if isinstance(value, list) else [value]

    for md in pages(config["nav"]):
        built = site / Path(md).with_suffix(".html")
        assert built.is_file(), f"{md} was not built"
        assert _page(site, built.relative_to(site).as_posix()).sections, md


def test_policy_reference_lists_every_check_with_its_parameters(site: Path):
    from govkit.checks import all_checks

    page = _page(site, "reference/policy.html")
    rows = {row[0]: row for row in page.sections["Checks"]["rows"] if row and "." in row[0]}
    registry = all_checks()
    assert set(rows) == set(registry)
    for check_id, spec in registry.items():
        _, params, needs, summary = rows[check_id]
        assert set(re.findall(r"[a-z_]+", params.replace("—", ""))) == set(spec.parameters)
        assert summary == " ".join(spec.summary.split())
        assert ("the model" in needs) == spec.needs_model, check_id
        assert ("true labels" in needs) == spec.needs_labels, check_id


def test_policy_reference_lists_every_field_of_the_schema(site: Path):
    from govkit.policy import Policy

    page = _page(site, "reference/policy.html")
    schema = Policy.model_json_schema()
    models = {"The policy file": schema, **schema["$defs"]}
    assert len(models) > 10
    for section, model in models.items():
        assert section in page.sections, f"no section for {section}"
        documented = {row[0] for row in page.sections[section]["rows"]}
        fields = set(model["properties"])
        assert fields <= documented, f"{section}: {sorted(fields - documented)} not documented"


def test_cli_reference_has_the_help_of_every_command(site: Path):
    import typer.main

    from govkit.cli._app import app

    page = _page(site, "reference/cli.html")
    stack = [("govkit", typer.main.get_command(app))]
    seen = 0
    while stack:
        path, command = stack.pop()
        stack.extend((f"{path} {n}", c) for n, c in getattr(command, "commands", {}).items())
        assert path in page.sections, f"'{path}' has no section in the CLI reference"
        help_text = page.text(path)
        assert f"Usage: {path} " in help_text, path
        for param in command.params:
            for opt in param.opts if param.param_type_name == "option" else ():
                assert opt in help_text, f"{path}: option {opt} missing"
        seen += 1
    assert seen > 30  # every group and command, not just the root


def test_http_api_reference_has_every_path_and_error_code(site: Path):
    from govkit.api import ERROR_CODES, create_app

    spec = create_app(object()).openapi()
    page = _page(site, "reference/http-api.html")
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            heading = f"{method.upper()} {path}"
            assert heading in page.sections, f"{heading} is not in the HTTP API reference"
            statuses = {row[0] for row in page.sections[heading]["rows"]}
            assert set(operation["responses"]) <= statuses, heading
    codes = {row[0]: row[1] for row in page.sections["Error codes"]["rows"] if row[0] != "code"}
    assert codes == {
        code: str(spec_.status) if spec_.status else "as sent"
        for code, spec_ in ERROR_CODES.items()
    }
    for schema in spec["components"]["schemas"]:
        assert schema in page.sections, f"schema {schema} is not documented"


def test_python_api_reference_documents_every_public_name(site: Path):
    import govkit

    page = _page(site, "reference/python-api.html")
    for name in govkit.__all__:
        if name.startswith("__"):
            continue
        assert f"{govkit._EXPORTS[name]}.{name}" in page.ids, f"govkit.{name} is not documented"


def test_every_cli_command_has_a_python_twin_that_exists(site: Path):
    """The Python API mirrors the CLI: each command names the call doing its job, and the
    call is real (resolves by import), and the table is on the built page."""
    import typer.main

    from govkit.cli._app import app

    sys.path.insert(0, str(ROOT / "docs"))
    try:
        from _docgen.python_ref import PYTHON_TWINS, resolve
    finally:
        sys.path.remove(str(ROOT / "docs"))
    commands, stack = set(), [("", typer.main.get_command(app))]
    while stack:
        path, command = stack.pop()
        sub = getattr(command, "commands", None)
        if sub:
            stack.extend((f"{path} {n}".strip(), c) for n, c in sub.items())
        else:
            commands.add(path)
    assert set(PYTHON_TWINS) == commands
    page = _page(site, "reference/python-api.html")
    rows = {row[0]: row[1] for row in page.sections["Command line and Python"]["rows"]}
    for command, calls in PYTHON_TWINS.items():
        assert all(callable(resolve(call)) for call in calls), command
        assert rows[f"govkit {command}"] == ", ".join(calls), command


def test_threat_model_states_the_limits_of_the_audit_log(site: Path):
    page = _page(site, "threat-model.html")
    text = " ".join(page.text("The audit log").split())
    assert "Without a checkpoint" in text and "rewrite the whole log" in text
    privacy = " ".join(page.text("Personal data").split())
    assert "same database" in privacy and "Backups keep erased subjects readable" in privacy


def test_the_site_loads_nothing_from_elsewhere(site: Path):
    external = re.compile(r"^(?:[a-z]+:)?//", re.I)
    for html in site.rglob("*.html"):
        page = _page(site, html.relative_to(site).as_posix())
        remote = [a for a in page.assets if external.match(a)]
        assert not remote, f"{html.relative_to(site)} loads {remote}"


def test_a_broken_link_or_missing_page_fails_the_strict_build(tmp_path: Path):
    docs = tmp_path / "docs"
    shutil.copytree(ROOT / "docs", docs, ignore=shutil.ignore_patterns("__pycache__"))
    (docs / "broken.md").write_text(
        "# Broken\n\nSee [the policy reference](reference/policy.md#no-such-anchor).\n",
        encoding="utf-8",
    )
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    config["docs_dir"] = str(docs)
    config["hooks"] = [str(docs / "_docgen" / "hooks.py")]
    python = config["plugins"][1]["mkdocstrings"]["handlers"]["python"]
    python["paths"] = [str(ROOT)]
    python["options"]["extensions"] = [
        str(docs / "_docgen" / e.split("/")[-1]) for e in python["options"]["extensions"]
    ]
    config["nav"] += [{"Broken": "broken.md"}, {"Missing": "no-such-page.md"}]
    broken = tmp_path / "mkdocs.yml"
    broken.write_text(yaml.safe_dump(config), encoding="utf-8")

    done = _build(broken, tmp_path / "site")

    assert done.returncode != 0
    warnings = [line for line in done.stderr.splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 2, done.stderr  # the copy is otherwise the real, clean site
    assert "'no-such-page.md'" in warnings[0] and "not found" in warnings[0]
    assert "'#no-such-anchor'" in warnings[1]


# The hand-written pages are checked against the code too: a command, option or check id
# they mention must exist.
_WRITTEN = sorted(
    p
    for p in (ROOT / "docs").rglob("*.md")
    if "_docgen" not in p.parts and "integrations" not in p.parts  # those have their owners
)
_CODE = re.compile(r"```[^\n]*\n(.*?)```|`([^`\n]+)`", re.S)


def _command_lines(markdown: str):
    for block, span in _CODE.findall(markdown):
        text = re.sub(r"\\\n\s*", " ", block or span)  # join shell line continuations
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("govkit "):
                yield line


def test_written_pages_name_only_real_commands_and_options():
    import typer.main

    from govkit.cli._app import app

    root = typer.main.get_command(app)
    checked = 0
    for page in _WRITTEN:
        for line in _command_lines(page.read_text(encoding="utf-8")):
            words = line.split()[1:]
            command, path = root, "govkit"
            while words and words[0] in (getattr(command, "commands", None) or {}):
                command = command.commands[words[0]]
                path += " " + words.pop(0)
            assert not getattr(command, "commands", None), f"{page.name}: '{line}' names a group"
            options = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
            for word in words:
                option = re.match(r"\[?(--[a-z][a-z-]*)", word)
                if option:
                    assert option.group(1) in options, f"{page.name}: {path} has no {word}"
            checked += 1
    assert checked > 40


def test_written_pages_name_only_real_check_ids():
    from govkit.checks import all_checks

    kinds = {spec.kind for spec in all_checks().values()}
    mentioned = set()
    for page in _WRITTEN:
        for block, span in _CODE.findall(page.read_text(encoding="utf-8")):
            for kind, name in re.findall(r"\b([a-z_]+)\.([a-z_0-9]+)\b", block or span):
                if kind in kinds:
                    mentioned.add(f"{kind}.{name}")
    assert mentioned, "no check id mentioned: the pattern is broken"
    assert mentioned <= set(all_checks()), sorted(mentioned - set(all_checks()))
