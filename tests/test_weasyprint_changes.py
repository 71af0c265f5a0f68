"""What govkit's changes to WeasyPrint share: each is installed only on the WeasyPrint
versions it was checked against (``govkit.report._patching``).

Each change's own tests compare its output with WeasyPrint's; here, every change
refuses other major versions, and its switch back to WeasyPrint's code is then a
no-op.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from types import ModuleType, SimpleNamespace

import pytest

from govkit.report import _leaders, _svg_paths, _svg_text, _target_counters, _text_layouts
from govkit.report._weasy import _weasyprint

#: each change, and its switch back to WeasyPrint's own code for a block
CHANGES: list[tuple[ModuleType, Callable[[], AbstractContextManager[None]]]] = [
    (_svg_text, _svg_text.letter_by_letter),
    (_svg_paths, _svg_paths.parsed_each_time),
    (_text_layouts, _text_layouts.rebuilt_each_time),
    (_leaders, _leaders.copied_each_time),
    (_target_counters, _target_counters.made_three_times),
]
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
