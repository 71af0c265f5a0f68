"""``python -m govkit.report._worker``: render one HTML document (stdin) to PDF (stdout).

The child process of :func:`govkit.report._pdf.html_to_pdf`. It limits its own
memory and CPU time, then renders with the data:-only fetcher. Log records and
a final error go to stderr as JSON lines, which the parent replays; the exit
status is 0 only when stdout holds a PDF.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

#: Address space the renderer may use; a card needs a few hundred MB.
MEMORY_LIMIT = 4 * 1024**3


class _JsonLines(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = json.dumps({"log": [record.levelno, record.name, record.getMessage()]})
        except (TypeError, ValueError):
            return
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


def _limit_resources(timeout: float) -> None:
    try:
        import resource
    except ImportError:  # not POSIX: the parent's time limit still applies
        return
    for limit, value in (
        (resource.RLIMIT_AS, MEMORY_LIMIT),
        (resource.RLIMIT_CPU, int(timeout) + 5),
        (resource.RLIMIT_CORE, 0),
    ):
        soft, hard = resource.getrlimit(limit)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        if soft == resource.RLIM_INFINITY or soft > value:
            resource.setrlimit(limit, (value, hard))


def _error(kind: str, message: str) -> int:
    sys.stderr.write(json.dumps({"error": [kind, message]}) + "\n")
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m govkit.report._worker")
    parser.add_argument("--variant", default=None)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    _limit_resources(args.timeout)
    root = logging.getLogger()
    root.handlers[:] = [_JsonLines()]
    root.setLevel(logging.WARNING)

    from govkit.exceptions import MissingDependencyError, RenderError
    from govkit.report._pdf import _weasyprint, render_pdf_in_process

    try:
        _weasyprint()  # import while the parent still builds the HTML
        html = sys.stdin.buffer.read().decode("utf-8")
        pdf = render_pdf_in_process(html, pdf_variant=args.variant)
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


if __name__ == "__main__":
    sys.exit(main())
