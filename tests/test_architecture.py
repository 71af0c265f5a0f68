"""The layering of ../shared/STYLE.md, enforced: data flows one way, `import govkit` is cheap."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "govkit"

# module (first component under govkit) -> layer; a module may import only lower layers
# (or itself): modules on the same layer never import each other, so store / report /
# output / api (L4) stay independent. Fractions order the foundation modules.
LAYERS = {
    "exceptions": 0,
    "_lazy": 0,
    "_text": 0,
    "_optional": 0.5,
    "_resources": 0.5,
    "_yaml": 0.5,
    "_size_limits": 0.5,
    "_i18n": 0.6,
    "_html_repr": 0.6,
    "_subject_key": 0.6,
    "records": 1,
    "results": 1.2,
    "decisions": 1.2,
    "data": 1.2,
    "policy": 1.4,
    "fairness": 2,
    "explainers": 2,
    "artifacts": 2,
    "curves": 2,
    "checks": 2.5,
    "evaluate": 3,
    "store": 4,
    "report": 4,
    "output": 4,
    "api": 4,
    "integrations": 4.5,
    "_registration": 4.8,
    "_champions": 4.85,
    "cards": 4.9,
    "workflows": 5,
    "service": 5,
    "policy_tests": 5,
    "dashboard": 5,
    "lifecycle": 5,
    "monitor": 5,
    "decide": 5.5,
    "cli": 6,
}
ROOT_MODULE = "__init__"  # govkit/__init__.py re-exports lazily, so it is exempt


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return {m.split(".")[1] for m in found if m.startswith("govkit.") and m.count(".") >= 1}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        top = rel.parts[0].removesuffix(".py")
        if top == ROOT_MODULE:
            continue
        yield path, top


def test_every_module_has_a_layer():
    unknown = {top for _, top in _modules() if top not in LAYERS}
    assert not unknown, f"add these modules to LAYERS: {unknown}"


@pytest.mark.parametrize("path,top", list(_modules()), ids=lambda v: str(v)[-40:])
def test_imports_go_down_the_layers(path, top):
    layer = LAYERS[top]
    for imported in _imports(path):
        if imported == top or imported == "__version__" or imported not in LAYERS:
            continue
        assert imported != "cli", f"{path}: nothing imports govkit.cli"
        assert LAYERS[imported] < layer, (
            f"{path} (layer {layer}) imports govkit.{imported} (layer {LAYERS[imported]})"
        )


def test_import_govkit_is_cheap_and_silent(tmp_path):
    code = (
        "import sys, govkit; "
        "heavy = [m for m in ('pandas', 'sklearn', 'shap', 'sqlalchemy', 'weasyprint', "
        "'fairlearn', 'typer') if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    assert out.stdout.strip() == ""
    assert out.stderr == ""
    assert list(tmp_path.iterdir()) == []  # wrote no files


def test_public_api_resolves_lazily():
    import govkit

    for name in govkit.__all__:
        assert getattr(govkit, name) is not None, name
    assert govkit.check.__module__ == "govkit.workflows"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        govkit.nope  # noqa: B018


def test_all_lists_exactly_the_lazy_exports():
    import govkit

    assert set(govkit.__all__) == {"__version__", *govkit._EXPORTS}


def test_the_report_package_exports_lazily() -> None:
    import govkit.report

    assert set(govkit.report.__all__) == set(govkit.report._EXPORTS)
    for name in govkit.report.__all__:
        assert getattr(govkit.report, name) is not None, name
    assert govkit.report.render_card_pdf.__module__ == "govkit.report._pdf"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        govkit.report.nope  # noqa: B018


def test_the_pdf_worker_starts_without_the_cards_modules() -> None:
    """The PDF child imports WeasyPrint and little else: not the templates, records,
    plots or data libraries (each new child would pay for them before its first page)."""
    import subprocess
    import sys

    code = (
        "import sys, govkit.report._worker\n"
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('govkit', 'jinja2', 'pydantic', 'pandas', 'numpy', 'matplotlib', 'sqlalchemy'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "govkit.report._worker" in out
    heavy = [m for m in out if not m.startswith(("govkit.report._worker", "govkit.report"))]
    assert heavy == ["govkit", "govkit._lazy"], heavy
    assert [m for m in out if m.startswith("govkit.report.")] == ["govkit.report._worker"]
