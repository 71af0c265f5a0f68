"""A built wheel carries the templates and policies and loads them through importlib.resources."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_templates_and_policies(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("govkit-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "govkit/_data/templates/card.html.j2" in names
    assert "govkit/_data/policies/credit-scoring.yaml" in names
    # PEP 561: the marker that tells type checkers the package's inline annotations are public
    assert "govkit/py.typed" in names

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    # a fresh interpreter with the unpacked wheel first on the path, outside the checkout
    code = (
        "import govkit, govkit._resources as r, pathlib\n"
        "from govkit.policy import load_policy\n"
        "d = r.resource_dir('templates')\n"
        "print(govkit.__file__)\n"
        "print(d)\n"
        "print(len(r.read_text('templates', 'card.html.j2')))\n"
        "p = r.resource_dir('policies') / 'credit-scoring.yaml'\n"
        "print(load_policy(str(p)).policy.name)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        check=True,
    ).stdout.splitlines()
    assert out[0].startswith(str(site))
    assert out[1].startswith(str(site / "govkit" / "_data" / "templates"))
    assert int(out[2]) > 1000
    assert out[3] == "credit-scoring"
