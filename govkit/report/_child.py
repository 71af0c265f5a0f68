"""The PDF renderer's child processes, seen from the parent: feed one, time it out, keep one warm.

Every document is laid out by a fresh ``python -m govkit.report._worker`` process
(its side is :mod:`govkit.report._worker`): it has memory and CPU limits of its
own, is killed when its time runs out, and shares nothing with the documents
rendered before or after it.

Protocol. Parent to child, on stdin: one JSON line ``{"variant": ..., "timeout":
...}``, then frames -- a kind byte, an 8-byte big-endian length, the UTF-8 HTML
-- then end of file. Kind ``L`` is a document to lay out while the parent
prepares the next frame; kind ``F`` is the final document. A card sends its HTML
with empty placeholders of the figures' sizes as ``L``, draws the figures, and
sends the finished HTML as ``F``: the child lays the page out while matplotlib
draws, then puts the drawings into the laid-out pages (when the two documents
differ in nothing but the figures; else it lays out ``F`` afresh). Child to
parent: the PDF on stdout; on stderr JSON lines ``{"log": [level, logger,
message]}``, ``{"stage": text}`` and, on failure, ``{"error": [kind, message]}``.

A warm spare. Importing WeasyPrint costs about 0.6 s of CPU (it parses the C
declarations of Pango and HarfBuzz). When the parent has sent a child its
document and from then on only waits for the PDF, it starts one spare child on
the core it leaves idle; the spare imports WeasyPrint, warms its font caches on
small documents of no one's data (until its own document comes) and waits for a
document; the next document goes to it. A spare serves one document like any
child, exits by itself after :data:`SPARE_IDLE` seconds without work, and is
killed when the parent exits.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import queue
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

from govkit.exceptions import MissingDependencyError, RenderError

__all__ = ["ChildRender", "SPARE_IDLE", "FRAME", "replay", "discard_spare", "start_spare"]

logger = logging.getLogger(__name__)

#: Seconds a spare child waits for a document before it exits.
SPARE_IDLE = 600.0
#: Frame header: kind (b"L" or b"F") and payload length.
FRAME = struct.Struct(">cQ")


def _spawn() -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])  # the folder holding govkit/
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env.setdefault("PYTHONHASHSEED", "0")
    args = [sys.executable, "-m", "govkit.report._worker", "--idle", f"{SPARE_IDLE:g}"]
    return subprocess.Popen(
        args,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        close_fds=True,
    )


def _reap(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
    proc.wait()


class _Spare:
    """At most one child that has imported WeasyPrint and waits for a document."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._born = 0.0
        self._owner = 0  # the process that started the spare (a forked copy must not use it)
        self._hooked = False

    def take(self) -> subprocess.Popen[bytes] | None:
        with self._lock:
            if self._owner != os.getpid():
                return None
            proc, self._proc = self._proc, None
        if proc is None:
            return None
        if proc.poll() is None and time.monotonic() - self._born < SPARE_IDLE / 2:
            return proc
        _reap(proc)
        return None

    def prepare(self) -> None:
        with self._lock:
            if self._proc is not None and self._owner == os.getpid():
                return
            try:
                self._proc = _spawn()
            except OSError as exc:  # no spare: the next document starts its own child
                logger.debug("could not start a spare PDF worker: %s", exc)
                return
            self._born = time.monotonic()
            self._owner = os.getpid()
            if not self._hooked:
                atexit.register(self.discard)
                self._hooked = True

    def discard(self) -> None:
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is not None and self._owner == os.getpid():
            _reap(proc)


_SPARE = _Spare()


def discard_spare() -> None:
    """Stop the waiting spare child, if there is one."""
    _SPARE.discard()


def start_spare() -> None:
    """Start the spare child now, if there is none: it imports WeasyPrint (about 0.6 s of
    CPU) while the caller does its own start-up, and the next PDF goes to it."""
    _SPARE.prepare()


_WARMTH = {True: "warm spare", False: "new process"}


def _frame(kind: bytes, html: str) -> bytes:
    data = html.encode("utf-8", "surrogatepass")
    return FRAME.pack(kind, len(data)) + data


class ChildRender:
    """One document rendered to PDF by one child process, within ``timeout`` seconds.

    Call :meth:`lay_out` (optional) with a draft of the document, then
    :meth:`finish` with the document; on any exception in between, :meth:`kill`.
    """

    def __init__(self, *, pdf_variant: str | None, tagged: bool = False, timeout: float) -> None:
        self.timeout = timeout
        self.started = time.monotonic()
        spare = _SPARE.take()
        self.warm = spare is not None
        self.proc = spare or _spawn()
        self._frames: queue.Queue[bytes | None] = queue.Queue()
        self._out = b""
        self._err: list[bytes] = []
        self._stages: list[tuple[str, float]] = []
        self._threads = [
            threading.Thread(target=target, name=f"govkit-pdf-{name}", daemon=True)
            for name, target in (
                ("write", self._write),
                ("out", self._read_out),
                ("err", self._read_err),
            )
        ]
        for thread in self._threads:
            thread.start()
        self._readers = self._threads[1:]  # they end when the child closes its pipes
        request = {"variant": pdf_variant, "tagged": tagged, "timeout": timeout}
        header = json.dumps(request) + "\n"
        self._frames.put(header.encode("utf-8"))
        self._done = False

    @property
    def stages(self) -> tuple[tuple[str, float], ...]:
        """What the child reported doing, and when (seconds since this object was made)."""
        return tuple((stage, at - self.started) for stage, at in self._stages)

    # ---------------------------------------------------------------- threads

    def _write(self) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        try:
            while (chunk := self._frames.get()) is not None:
                stdin.write(chunk)
                stdin.flush()
        except (OSError, ValueError):
            pass  # the child ended early; its exit status and stderr say why
        finally:
            with contextlib.suppress(OSError, ValueError):
                stdin.close()

    def _read_out(self) -> None:
        assert self.proc.stdout is not None
        self._out = self.proc.stdout.read()

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            if raw.startswith(b'{"stage"'):
                try:
                    stage = str(json.loads(raw)["stage"])
                except (ValueError, KeyError, TypeError):
                    stage = None
                if stage is not None:
                    self._stages.append((stage, time.monotonic()))
                    continue
            self._err.append(raw)

    # ------------------------------------------------------------------- API

    def lay_out(self, html: str) -> None:
        """Send a draft the child lays out while the final document is prepared."""
        self._frames.put(_frame(b"L", html))

    def finish(self, html: str) -> bytes:
        """Send the document and wait for its PDF.

        Raises:
            RenderError: the child failed, died, or ran out of time (then it is killed).
            MissingDependencyError: the child could not import WeasyPrint.
        """
        self._frames.put(_frame(b"F", html))
        self._frames.put(None)
        _SPARE.prepare()  # the parent only waits from here: warm up the next child
        deadline = time.monotonic() + self.timeout
        # The child's pipes close when it exits: wait on the threads reading them, which
        # wake at once. Popen.wait(timeout) polls, sleeping up to 50 ms between polls.
        for thread in self._readers:
            thread.join(max(0.0, deadline - time.monotonic()))
        try:
            self.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.kill()
            raise RenderError(
                f"rendering the PDF did not finish within {self.timeout:g} s and was stopped; "
                "the document is too large or hostile (huge tables, extreme font sizes). "
                "Check the card's inputs, or raise the time limit"
            ) from None
        except BaseException:
            self.kill()
            raise
        self._close()
        for stage, at in self.stages:
            logger.debug("pdf worker (%s): %s after %.3f s", _WARMTH[self.warm], stage, at)
        error = replay(b"".join(self._err))
        code = self.proc.returncode
        if code == 0 and self._out.startswith(b"%PDF-"):
            return self._out
        if error is not None:
            kind, message = error
            if kind == "MissingDependencyError":
                raise MissingDependencyError(message)
            raise RenderError(message)
        if code is not None and code < 0:
            raise RenderError(
                f"the PDF renderer process died with signal {-code} (out of memory or "
                "CPU time, or a crash in a native library); the card's inputs may be too large"
            )
        raise RenderError(f"the PDF renderer process failed (exit status {code})")

    def kill(self) -> None:
        """Stop the child (idempotent)."""
        if self._done:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self._frames.put(None)
        self._close()

    def _close(self) -> None:
        self._done = True
        for thread in self._threads:
            thread.join()
        _reap(self.proc)


def replay(stderr: bytes) -> tuple[str, str] | None:
    """Re-emit the child's log records here; return its error, if it reported one."""
    error = None
    for raw in stderr.decode("utf-8", "replace").splitlines():
        try:
            record = json.loads(raw)
        except ValueError:
            if raw.strip():
                logger.debug("pdf worker: %s", raw)
            continue
        if not isinstance(record, dict):
            continue
        if "log" in record:
            level, name, message = record["log"]
            logging.getLogger(str(name)).log(int(level), "%s", message)
        elif "error" in record:
            kind, message = record["error"]
            error = (str(kind), str(message))
    return error
