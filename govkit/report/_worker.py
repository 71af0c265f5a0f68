"""``python -m govkit.report._worker``: render one HTML document (stdin) to PDF (stdout).

The child process of :mod:`govkit.report._child` (the protocol is described
there). It limits its own memory, imports WeasyPrint, waits for its document
(at most ``--idle`` seconds: a spare started ahead of need), limits its CPU
time to the document's time limit, and renders with the data:-only fetcher.
Log records, progress and a final error go to stderr as JSON lines, which the
parent replays; the exit status is 0 only when stdout holds a PDF.

A draft frame (``L``) is laid out as soon as it arrives. When the final frame
(``F``) differs from the draft only in the ``src`` of the card's figures -- the
draft has empty placeholders of the same size -- the figures are put into the
laid-out pages (:func:`put_figures`); otherwise the final document is laid out
afresh. Either way the PDF is the one of the final document.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import re
import sys
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from govkit.report._weasy import PdfVariant

#: Address space the renderer may use; a card needs a few hundred MB.
MEMORY_LIMIT = 4 * 1024**3

# the figures of a card, as the template writes them (free text is escaped, so it cannot
# contain this markup)
_PLOT_SRC = re.compile(r'(<img class="plot-img" src=")([^"]*)(")')


class _JsonLines(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = json.dumps({"log": [record.levelno, record.name, record.getMessage()]})
        except (TypeError, ValueError):
            return
        _send(line)


def _send(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _stage(text: str) -> None:
    _send(json.dumps({"stage": text}))


def _error(kind: str, message: str) -> int:
    _send(json.dumps({"error": [kind, message]}))
    return 2


def _set_limit(name: str, value: int) -> None:
    try:
        import resource
    except ImportError:  # not POSIX: the parent's time limit still applies
        return
    limit = getattr(resource, name)
    soft, hard = resource.getrlimit(limit)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    if soft == resource.RLIM_INFINITY or soft > value:
        resource.setrlimit(limit, (value, hard))


def _limit_cpu(timeout: float) -> None:
    """CPU seconds from now: the document's time limit and a margin (importing came first)."""
    try:
        import resource
    except ImportError:
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _set_limit("RLIMIT_CPU", math.ceil(usage.ru_utime + usage.ru_stime + timeout + 5))


#: Allocations between young-generation collections while a document renders (Python's
#: default is 700). Layout makes millions of short-lived objects, nearly all freed by
#: reference counting; collecting every 700 of them cost a tenth of a card's time.
GC_YOUNG_THRESHOLD = 20_000


def _tune_gc() -> None:
    """Collect cycles less often in this one-document process, and never scan what the
    imports made (WeasyPrint's module objects live as long as the process)."""
    import gc

    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


def _wait_for_input(stream: IO[bytes], idle: float) -> bool:
    """False when nothing arrived within ``idle`` seconds (a spare nobody needed)."""
    return idle <= 0 or _readable(stream, idle)


def _input_ready(stream: IO[bytes]) -> bool:
    """Whether the document has begun to arrive (True when that cannot be told)."""
    return _readable(stream, 0)


def _readable(stream: IO[bytes], seconds: float) -> bool:
    try:
        import select

        readable, _, _ = select.select([stream], [], [], seconds)
    except (ImportError, OSError, ValueError):  # no select() on pipes (Windows): go on
        return True
    return bool(readable)


#: Printable ASCII, in the sizes and weights cards and letters set text in.
_WARM_UP_SIZES = (6.5, 7, 7.5, 8, 8.5, 9, 10, 11, 13, 16)
_WARM_UP_TEXT = "".join(chr(c) for c in range(33, 127)).replace("&", "&amp;").replace("<", "&lt;")
_WARM_UP_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="120pt" height="30pt" viewBox="0 0 120 30">'
    '<path d="M 0 0 L 120 30 z" fill="#ffffff" stroke="#424a53" stroke-width="0.5"/>'
    + "".join(
        f'<text x="60" y="{8 + 7 * i}" font-size="{size}px" font-family="\'DejaVu Sans\'" '
        f'text-anchor="middle" fill="#424a53">{_WARM_UP_TEXT}</text>'
        for i, size in enumerate((6.5, 7, 8))
    )
    + "</svg>"
)


def warm_up_documents() -> tuple[str, ...]:
    """The warm-up, in small documents: text in every size and weight, a table, a plot-like
    SVG. Small, so that a spare whose document comes meanwhile is soon free for it."""
    import base64

    head = (
        "<!DOCTYPE html><html><head><style>@page { size: A4; @bottom-right { content: "
        '"Page " counter(page) " of " counter(pages) } } body { font-family: "DejaVu Sans" }'
        " table { border-collapse: collapse } td { border: 0.5pt solid #d0d7de }</style>"
        "</head><body>"
    )

    def lines(sizes: tuple[float, ...]) -> str:
        return "".join(
            f'<p style="font-size: {size}pt">{_WARM_UP_TEXT} <b>{_WARM_UP_TEXT}</b></p>'
            for size in sizes
        )

    half = len(_WARM_UP_SIZES) // 2
    figure = base64.b64encode(_WARM_UP_SVG.encode()).decode()
    bodies = (
        lines(_WARM_UP_SIZES[:half]),
        lines(_WARM_UP_SIZES[half:])
        + f"<p><i>{_WARM_UP_TEXT}</i> <code>{_WARM_UP_TEXT}</code></p>",
        f"<table><tr><th>{_WARM_UP_TEXT[:40]}</th><td>{_WARM_UP_TEXT[40:]}</td></tr></table>"
        f'<img src="data:image/svg+xml;base64,{figure}" alt="">',
    )
    return tuple(f"{head}{body}</body></html>" for body in bodies)


def _warm_up(stream: IO[bytes]) -> None:
    """Lay out and write small documents of no one's data, once, while a spare waits.

    A process's first document pays for filling the font and glyph caches of
    Pango, HarfBuzz and FreeType, and for the first run of the writer's code; here
    the spare pays it before its document arrives (the next card lays out about
    0.04 s sooner). It stops as soon as the document begins to arrive, between
    steps of a few hundredths of a second. Nothing is logged, and a failure
    changes nothing.
    """
    from govkit.report._weasy import lay_out, write_pdf

    logging.disable(logging.CRITICAL)
    try:
        for html in warm_up_documents():
            if _input_ready(stream):
                return
            document = lay_out(html)
            if _input_ready(stream):
                return
            write_pdf(document)
    except Exception:  # noqa: BLE001  # only a warm-up: the document will say what is wrong
        pass
    finally:
        logging.disable(logging.NOTSET)


def _read_frame(stream: IO[bytes], max_bytes: int) -> tuple[bytes, str]:
    from govkit.exceptions import RenderError
    from govkit.report._child import FRAME

    head = stream.read(FRAME.size)
    if len(head) != FRAME.size:
        raise RenderError("the PDF renderer got no document")
    kind, size = FRAME.unpack(head)
    if kind not in (b"L", b"F") or size > max_bytes:
        raise RenderError("the PDF renderer got a malformed or oversized document")
    data = stream.read(size)
    if len(data) != size:
        raise RenderError("the PDF renderer got a truncated document")
    return kind, data.decode("utf-8")


def figure_sources(draft: str, final: str) -> dict[str, str] | None:
    """Placeholder ``src`` -> figure ``src`` when the documents differ in nothing else."""
    a, b = _PLOT_SRC.split(draft), _PLOT_SRC.split(final)
    if len(a) != len(b):
        return None
    sources: dict[str, str] = {}
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if i % 4 == 2:  # split() yields text, then the three groups of each match
            if sources.setdefault(x, y) != y:
                return None
        elif x != y:
            return None
    return sources


def put_figures(document: Any, sources: dict[str, str]) -> bool:
    """Swap each laid-out placeholder image for its figure; False (nothing swapped) if unsure.

    The figure is loaded as the layout would have loaded it (the layout's image
    loader: same fetcher, same cache) and must have the placeholder's size, so the
    pages are those of the final document.
    """
    boxes = []
    for page in getattr(document, "pages", ()):
        root = getattr(page, "_page_box", None)
        if root is None:
            return False
        for box in root.descendants():
            element = getattr(box, "element", None)
            if getattr(box, "replacement", None) is not None and element is not None:
                if element.get("src") in sources:
                    boxes.append(box)
    if {box.element.get("src") for box in boxes} != set(sources):
        return False
    images: dict[str, Any] = {}
    for box in boxes:
        src = box.element.get("src")
        if src in images:
            continue
        placeholder = box.replacement
        context = getattr(placeholder, "_context", None)
        if context is None:
            return False
        image = context.get_image_from_uri(
            url=sources[src], orientation=box.style["image_orientation"]
        )
        if image is None or image.get_intrinsic_size(1, 16) != placeholder.get_intrinsic_size(
            1, 16
        ):
            return False
        images[src] = image
    for box in boxes:
        box.replacement = images[box.element.get("src")]
    return True


def _render(stream: IO[bytes], variant: PdfVariant | None, tagged: bool) -> bytes:
    from govkit.report._weasy import MAX_HTML_BYTES, _check_html, lay_out, write_pdf

    kind, html = _read_frame(stream, MAX_HTML_BYTES)
    document = lay_out(_check_html(html))
    _stage("laid-out")
    if kind == b"L":
        draft = html
        kind, html = _read_frame(stream, MAX_HTML_BYTES)
        sources = figure_sources(draft, html) if kind == b"F" else None
        if sources is not None and put_figures(document, sources):
            _stage("figures put into the laid-out draft")
        else:
            _stage("draft differs: laying out the final document")
            document = lay_out(_check_html(html))
    pdf = write_pdf(document, pdf_variant=variant, tagged=tagged)
    _stage("PDF written")
    return pdf


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m govkit.report._worker")
    parser.add_argument("--idle", type=float, default=0.0)
    args = parser.parse_args(argv)
    _set_limit("RLIMIT_AS", MEMORY_LIMIT)
    _set_limit("RLIMIT_CORE", 0)
    root = logging.getLogger()
    root.handlers[:] = [_JsonLines()]
    root.setLevel(logging.WARNING)

    from govkit.exceptions import MissingDependencyError, RenderError
    from govkit.report._weasy import _weasyprint

    missing = None
    try:
        _weasyprint()  # import before the document arrives
        import govkit.report._fetcher  # noqa: F401
    except MissingDependencyError as exc:
        missing = exc
    stream = sys.stdin.buffer
    if missing is None and args.idle > 0 and not _input_ready(stream):
        _warm_up(stream)  # a spare with time to spare
    _tune_gc()
    if not _wait_for_input(stream, args.idle):
        return 0
    header = stream.readline()
    if not header:
        return 0  # the parent went away
    try:
        request = json.loads(header)
        variant = request["variant"]
        tagged = request["tagged"] is True
        timeout = float(request["timeout"])
    except (ValueError, KeyError, TypeError):
        return _error("RenderError", "the PDF renderer got a malformed request")
    _limit_cpu(timeout)
    _stage("ready")
    if missing is not None:
        return _error("MissingDependencyError", str(missing))
    try:
        pdf = _render(stream, variant, tagged)
    except MissingDependencyError as exc:
        return _error("MissingDependencyError", str(exc))
    except RenderError as exc:
        return _error("RenderError", str(exc))
    except UnicodeDecodeError as exc:
        return _error("RenderError", f"the HTML document is not UTF-8: {exc}")
    except MemoryError:
        return _error("RenderError", "could not render the PDF: out of memory")
    sys.stdout.buffer.write(pdf)
    sys.stdout.buffer.flush()
    return 0


def _exit_now(code: int) -> None:
    """Leave without tearing the interpreter down: the PDF and the log lines are flushed,
    and the process holds nothing else to release. Freeing a laid-out document object by
    object at exit took about 0.13 s of every card, with the parent waiting for it."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    _exit_now(main())
