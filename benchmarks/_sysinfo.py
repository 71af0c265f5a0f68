"""What the benchmarks report about the machine: resident memory (now, and peak since a
reset; Linux /proc) and how busy the CPUs are (timings on a shared machine drift)."""

from __future__ import annotations

import os
import resource
import sys
from pathlib import Path

_STATUS = Path("/proc/self/status")


def _status(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def reset_peak() -> bool:
    """Start a new peak (Linux: write 5 to clear_refs); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss() -> int:
    """Peak resident set size in bytes since start or the last :func:`reset_peak`."""
    peak = _status("VmHWM")
    if peak is not None:
        return peak
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def rss() -> int:
    """Resident set size in bytes now."""
    now = _status("VmRSS")
    if now is not None:
        return now
    import psutil

    return int(psutil.Process().memory_info().rss)


def mib(n: float) -> str:
    return f"{n / 2**20:,.1f} MiB"


def contention() -> str:
    """Load average and, where the kernel reports it, the share of time tasks waited for CPU."""
    text = "load average " + ", ".join(f"{x:.1f}" for x in os.getloadavg())
    try:
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0].split()
        text += f"; CPU pressure {some[1].split('=')[1]}% (avg10)"
    except (OSError, IndexError):
        pass
    return f"{text} on {os.cpu_count()} CPUs"
