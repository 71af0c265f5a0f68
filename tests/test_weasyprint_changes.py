"""What govkit's changes to WeasyPrint share: each is installed only on the WeasyPrint
versions it was checked against (``govkit.report._patching``).

Each change's own tests compare its output with WeasyPrint's; here, every change
refuses other major versions (its switch back to WeasyPrint's code is then a no-op),
the changes that promise WeasyPrint's own bytes give them for the Adult card, and the
benchmarks' baseline, WeasyPrint as it comes, switches every one of them off.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from types import ModuleType, SimpleNamespace

import pytest
from adult_card import adult_card_inputs, synthetic_adult

from govkit.report import _svg_paths, _text_layouts, render_card_html
from govkit.report._weasy import (
    _weasyprint,
    changes,
    render_pdf_in_process,
    weasyprint_as_it_comes,
)

#: each change, and its switch back to WeasyPrint's own code for a block
CHANGES = list(changes())
IDS = [module.__name__.rsplit(".", 1)[-1] for module, _ in CHANGES]


@pytest.mark.parametrize(("module", "switch"), CHANGES, ids=IDS)
def test_every_change_is_installed_where_pdfs_are_made(
    module: ModuleType, switch: Callable[[], AbstractContextManager[None]]
) -> None:
    weasyprint = _weasyprint()
    assert module.installed()
    assert module.install(weasyprint) is True  # idempotent
    assert module.CHECKED_MAJORS == (int(weasyprint.__version__.split(".")[0]),)


@pytest.mark.parametrize("version", ["69.0", "71.0", "dev"])
@pytest.mark.parametrize(("module", "switch"), CHANGES, ids=IDS)
def test_other_weasyprint_versions_are_left_alone(
    monkeypatch: pytest.MonkeyPatch,
    module: ModuleType,
    switch: Callable[[], AbstractContextManager[None]],
    version: str,
) -> None:
    monkeypatch.setattr(module, "_state", {})
    assert module.install(SimpleNamespace(__version__=version)) is False
    assert not module.installed()
    with switch():  # nothing to switch
        pass
    assert not module.installed()


def test_the_benchmarks_baseline_switches_every_change_off() -> None:
    _weasyprint()
    assert {module.__name__.rsplit(".", 1)[-1] for module, _ in CHANGES} == {
        "_svg_text",
        "_svg_paths",
        "_text_layouts",
        "_leaders",
        "_target_counters",
    }
    # what each change replaces in WeasyPrint, as it is now (govkit's) and inside the block
    inline = importlib.import_module("weasyprint.layout.inline")
    targets = importlib.import_module("weasyprint.css.targets")
    line_break = importlib.import_module("weasyprint.text.line_break")
    svg = importlib.import_module("weasyprint.svg")

    def current() -> list[object]:
        return [
            svg.TAGS["text"],
            svg.TAGS["path"],
            svg.SVG.set_graphical_state,
            line_break.Layout.reactivate,
            inline.handle_leader,
            targets.TargetCollector.collect_missing_counters,
        ]

    ours = current()
    with weasyprint_as_it_comes():
        theirs = current()
    assert all(a is not b for a, b in zip(ours, theirs, strict=True))
    assert current() == ours  # back after the block


@pytest.fixture(scope="module")
def adult_html() -> str:
    inputs = adult_card_inputs(synthetic_adult())
    return render_card_html(inputs.model, **inputs.kwargs())


# _target_counters' own test also counts the pages made; _svg_text and _leaders move
# glyphs by fractions of a point, and are compared by position in their own tests
@pytest.mark.parametrize(
    "switch",
    [_svg_paths.parsed_each_time, _text_layouts.rebuilt_each_time],
    ids=["_svg_paths", "_text_layouts"],
)
def test_the_adult_card_is_the_same_pdf(
    adult_html: str, switch: Callable[[], AbstractContextManager[None]]
) -> None:
    _weasyprint()
    ours = render_pdf_in_process(adult_html)
    with switch():
        own = render_pdf_in_process(adult_html)
    assert ours == own
