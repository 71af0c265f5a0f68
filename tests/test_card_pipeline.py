"""The fast path of PDF cards: laid out while the figures are drawn, by a warm child process.

What must hold however the work is arranged: the PDF is the one of the card's
HTML (byte for byte), a draft that differs in anything but the figures is not
used, the time limit and the child's limits still apply, and a spare child
serves exactly one document.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys

import pytest
from test_card import make_inputs

from govkit.exceptions import RenderError
from govkit.report import _child, _figures, _worker, html_to_pdf, render_card_html, render_card_pdf
from govkit.report._html import staged_card_html
from govkit.report._weasy import lay_out, render_pdf_in_process, write_pdf
from govkit.report._worker import figure_sources, put_figures

pytest.importorskip("weasyprint")
pytest.importorskip("matplotlib")

_STAGES = "govkit.report._child"


def _stages(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.name == _STAGES)


@pytest.fixture(scope="module")
def inputs():  # type: ignore[no-untyped-def]
    return make_inputs()


def test_card_laid_out_while_drawing_is_the_pdf_of_its_html(
    inputs, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    with caplog.at_level(logging.DEBUG, logger=_STAGES):
        pdf = render_card_pdf(inputs.model, **inputs.kwargs())
    assert "figures put into the laid-out draft" in _stages(caplog)
    html = render_card_html(inputs.model, **inputs.kwargs())
    assert html.count('<img class="plot-img"') == 5
    assert pdf == render_pdf_in_process(html)


def test_the_draft_differs_from_the_card_only_in_the_figures(inputs) -> None:  # type: ignore[no-untyped-def]
    draft, finished = staged_card_html(inputs.model, **inputs.kwargs())
    html = finished()
    assert html == render_card_html(inputs.model, **inputs.kwargs())
    sources = figure_sources(draft, html)
    assert sources is not None and len(sources) == 5
    for placeholder, figure in sources.items():
        empty = base64.b64decode(placeholder.split(",", 1)[1]).decode()
        drawn = base64.b64decode(figure.split(",", 1)[1]).decode()
        assert "-placeholder" in empty and "<text" in drawn
        # the placeholder has the figure's size, to the character
        assert _figures.checked_svg(empty) == _figures.checked_svg(drawn)


def test_a_figure_that_fails_late_gets_the_card_laid_out_afresh(
    inputs, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    real = _figures.draw

    def broken() -> None:
        raise ValueError("the bars fell over")

    def draw(fig_id: str, build, *, size=None):  # type: ignore[no-untyped-def]
        return real(fig_id, broken if fig_id == "figure-2-svg" else build, size=size)

    monkeypatch.setattr(_figures, "draw", draw)
    with caplog.at_level(logging.DEBUG, logger=_STAGES):
        pdf = render_card_pdf(inputs.model, **inputs.kwargs())
    assert "draft differs: laying out the final document" in _stages(caplog)
    html = render_card_html(inputs.model, **inputs.kwargs())
    assert "This figure could not be drawn (ValueError: the bars fell over)" in html
    assert pdf == render_pdf_in_process(html)


def _svg(width: float, height: float, text: str = "") -> str:
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" '
        f'width="{width:g}pt" height="{height:g}pt" viewBox="0 0 {width:g} {height:g}">'
        f'<rect x="1" y="1" width="{width - 2:g}" height="{height - 2:g}" fill="#0072b2"/>'
        f"{text}</svg>"
    )
    return _figures.data_url(svg)


def _page(srcs: list[str], note: str = "") -> str:
    imgs = "".join(
        f'<figure><img class="plot-img" src="{s}" alt="a plot" style="width: 200pt"></figure>'
        for s in srcs
    )
    return f"<html><body><p>Card{note}</p>{imgs}</body></html>"


def test_figure_sources_pair_placeholders_only_when_nothing_else_differs() -> None:
    a, b = _figures.placeholder("figure-1-svg", (2, 1)).src, _svg(144, 72, "<text>x</text>")
    assert a is not None
    assert figure_sources(_page([a]), _page([b])) == {a: b}
    assert figure_sources(_page([a]), _page([b], note=" changed")) is None
    assert figure_sources(_page([a]), _page([b, b])) is None
    assert figure_sources(_page([a, a]), _page([b, _svg(144, 72)])) is None  # one slot, two
    assert figure_sources(_page([]), _page([])) == {}


def test_figures_go_into_laid_out_pages_only_at_the_placeholders_size() -> None:
    a = _figures.placeholder("figure-1-svg", (2, 1)).src
    assert a is not None
    same, other = _svg(144, 72, '<circle cx="9" cy="9" r="5"/>'), _svg(144, 90)
    draft = lay_out(_page([a]))
    assert put_figures(draft, {a: same})
    assert write_pdf(draft) == render_pdf_in_process(_page([same]))
    assert not put_figures(lay_out(_page([a])), {a: other})  # another size: another layout
    assert not put_figures(lay_out(_page([a])), {"data:image/svg+xml;base64,eA==": same})


def test_the_time_limit_holds_on_the_card_path(inputs) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RenderError, match=r"did not finish within 0\.01 s and was stopped"):
        render_card_pdf(inputs.model, **inputs.kwargs(), timeout=0.01)


def test_a_spare_child_serves_the_next_document_once() -> None:
    assert html_to_pdf("<p>first</p>").startswith(b"%PDF-")
    # the parent waited for the first PDF: a spare was started then
    spare = _child._SPARE._proc
    assert spare is not None and spare.poll() is None
    child = _child.ChildRender(pdf_variant=None, timeout=60)
    try:
        assert child.warm and child.proc is spare
        assert _child._SPARE._proc is not spare  # taken: never given to a second document
        assert child.finish("<p>second</p>").startswith(b"%PDF-")
    finally:
        child.kill()
    assert spare.returncode == 0  # it served one document and exited
    _child.discard_spare()
    assert _child._SPARE._proc is None


def test_a_spare_nobody_needs_exits_by_itself() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "govkit.report._worker", "--idle", "0.2"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out, err = proc.communicate(timeout=60)  # stdin stays open until communicate()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and out == b""


def test_a_child_gives_each_document_its_own_cpu_limit() -> None:
    code = (
        "import resource, time\n"
        "from govkit.report._worker import _limit_cpu\n"
        "t = time.process_time()\n"
        "while time.process_time() - t < 0.3: pass\n"
        "_limit_cpu(7)\n"
        "u = resource.getrusage(resource.RUSAGE_SELF)\n"
        "print(resource.getrlimit(resource.RLIMIT_CPU)[0] - (u.ru_utime + u.ru_stime))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, text=True)
    assert 11.9 < float(out.stdout) <= 13.0  # from now: the time limit + 5 s, rounded up


def test_a_malformed_request_is_an_error_not_a_hang() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "govkit.report._worker"],
        input=b"not json\n",
        capture_output=True,
        timeout=60,  # a hang fails here
    )
    assert proc.returncode == 2 and b"malformed request" in proc.stderr


def test_the_worker_leaves_without_teardown_but_with_its_output_flushed() -> None:
    # Interpreter teardown after the PDF (freeing the laid-out document) made every card
    # wait ~0.1 s more; the worker leaves with os._exit once its output is flushed.
    code = (
        "import atexit, sys\n"
        "from govkit.report._worker import _exit_now\n"
        "atexit.register(lambda: print('teardown ran', file=sys.stderr))\n"
        "sys.stdout.write('%PDF-' + 'x' * 1000)\n"  # still in the buffer
        'sys.stderr.write(\'{"stage": "done"}\')\n'
        "_exit_now(3)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60, env=env)
    assert out.returncode == 3
    assert out.stdout == b"%PDF-" + b"x" * 1000
    assert out.stderr == b'{"stage": "done"}'  # no teardown: the atexit hook did not run


def test_the_worker_collects_cycles_rarely_and_never_scans_its_imports() -> None:
    code = (
        "import gc, json, sys\n"
        "from govkit.report import _worker\n"
        "default = gc.get_threshold()\n"
        "code = _worker.main([])\n"
        "sys.stderr.write(json.dumps([code, default, gc.get_threshold(), gc.get_freeze_count()]))\n"
    )
    request = b'{"variant": null, "tagged": false, "timeout": 60}\n'
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=request + _child._frame(b"F", "<p>a document</p>"),
        capture_output=True,
        timeout=120,
    )
    assert out.stdout.startswith(b"%PDF-"), out.stderr[-2000:]
    code, default, tuned, frozen = json.loads(out.stderr.splitlines()[-1])
    assert code == 0
    assert tuned == [_worker.GC_YOUNG_THRESHOLD, *default[1:]] and default[0] < tuned[0]
    assert frozen > 10_000  # what the imports made (WeasyPrint's modules) is never scanned


class _Kept(logging.Handler):
    """Keeps the records it is given in a list."""

    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__()
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_the_spare_starts_when_the_parent_begins_to_wait() -> None:
    # not when the child has laid out its draft: the parent may still be drawing figures
    # then, and the spare would take its core; from finish() on the parent only waits
    _child.discard_spare()
    started: list[tuple[str, ...]] = []
    prepare = _child._SPARE.prepare
    child = _child.ChildRender(pdf_variant=None, timeout=60)  # a new process: no spare

    def recorded() -> None:
        started.append(tuple(stage for stage, _ in child.stages))
        prepare()

    try:
        _child._SPARE.prepare = recorded  # type: ignore[method-assign]
        child.lay_out("<p>draft</p>")
        assert started == []
        assert child.finish("<p>draft</p>").startswith(b"%PDF-")
    finally:
        del _child._SPARE.prepare
        child.kill()
    # once, and before the child had even imported WeasyPrint
    assert started == [()]
    assert _child._SPARE._proc is not None
    _child.discard_spare()


def test_the_warm_up_documents_render_cleanly() -> None:
    # a warm-up that failed or warned would be silent (it is only a warm-up): check here
    # that they render, with the plot-like SVG, without a word in the log
    documents = _worker.warm_up_documents()
    assert len(documents) > 1 and any("data:image/svg+xml" in html for html in documents)
    records: list[logging.LogRecord] = []

    root = logging.getLogger()
    handler, level = _Kept(records), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        for html in documents:
            document = lay_out(html)
            pdf = write_pdf(document)
            assert len(document.pages) == 1 and pdf.startswith(b"%PDF-")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    assert [r.getMessage() for r in records if r.levelno >= logging.WARNING] == []


def test_a_spare_warms_up_without_logging_and_stops_when_its_document_comes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import govkit.report._weasy as weasy

    pieces = len(_worker.warm_up_documents())
    written: list[object] = []
    monkeypatch.setattr(weasy, "write_pdf", lambda document, **_: written.append(document))
    seen: list[logging.LogRecord] = []
    laid_out: list[str] = []
    read, write = os.pipe()

    def lay_out(html: str) -> str:
        laid_out.append(html)
        logging.warning("a warm-up warning")
        if arrives_at == len(laid_out):
            os.write(write, b"{")  # the document begins to arrive during this layout
        return html

    handler = _Kept(seen)
    logging.getLogger().addHandler(handler)
    monkeypatch.setattr(weasy, "lay_out", lay_out)
    try:
        with os.fdopen(read, "rb", buffering=0) as stream:
            arrives_at = 0
            _worker._warm_up(stream)  # nothing to read: every piece laid out and written
            assert len(laid_out) == len(written) == pieces
            laid_out.clear()
            written.clear()
            arrives_at = 2  # stops at once: the piece laid out is not written, no more
            _worker._warm_up(stream)
            assert (len(laid_out), len(written)) == (2, 1)
            laid_out.clear()
            written.clear()
            _worker._warm_up(stream)  # the document is there: nothing at all
            assert (laid_out, written) == ([], [])
        logging.warning("after the warm-up")
    finally:
        os.close(write)
        logging.getLogger().removeHandler(handler)
    # the warm-up's records are not sent (the parent would replay them as the document's);
    # logging works again after it
    assert [r.getMessage() for r in seen] == ["after the warm-up"]


def test_a_failing_warm_up_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    import govkit.report._weasy as weasy

    def fail(html: str) -> None:
        raise RuntimeError("no fonts")

    monkeypatch.setattr(weasy, "lay_out", fail)
    read, write = os.pipe()
    try:
        with os.fdopen(read, "rb", buffering=0) as stream:
            _worker._warm_up(stream)
    finally:
        os.close(write)
    assert logging.getLogger().isEnabledFor(logging.WARNING)
