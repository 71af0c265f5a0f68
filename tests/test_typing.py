"""The package is typed (PEP 561 ``py.typed``) and passes ``mypy --strict``.

The configuration is ``[tool.mypy]`` in pyproject.toml (``make lint`` runs the same check).
The cache is the checkout's ``.mypy_cache``: a cold run reads the stubs of numpy, pandas,
SQLAlchemy and the rest once (about a minute on two cores); later runs take seconds.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _mypy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(ROOT / ".mypy_cache"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_package_ships_the_pep561_marker():
    assert (ROOT / "govkit" / "py.typed").is_file()


def test_the_configuration_is_strict(tmp_path):
    """The pyproject configuration really is strict: an unannotated function is an error."""
    sample = tmp_path / "sample.py"
    sample.write_text("def twice(x):\n    return 2 * x\n\n\nvalue: int = 'text'\n")
    proc = _mypy("--config-file", str(ROOT / "pyproject.toml"), str(sample))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Function is missing a type annotation  [no-untyped-def]" in proc.stdout
    assert "[assignment]" in proc.stdout


@pytest.mark.slow
def test_package_passes_mypy_strict():
    proc = _mypy()  # the files and options of [tool.mypy]
    assert proc.returncode == 0, f"mypy --strict failed:\n{proc.stdout}{proc.stderr}"
    assert proc.stdout.startswith("Success: no issues found"), proc.stdout
