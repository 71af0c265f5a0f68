"""Access to the templates and policy packs shipped with govkit.

In a wheel they live in ``govkit/_data/`` (hatch force-include); in a source
checkout they are the top-level ``templates/`` and ``policies/`` folders.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Literal

Kind = Literal["templates", "policies"]


def resource_dir(kind: Kind) -> Traversable:
    """The folder of shipped ``templates`` or ``policies``."""
    packaged = resources.files("govkit") / "_data" / kind
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parent.parent / kind
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"govkit installation is incomplete: no '{kind}' folder found")


def read_text(kind: Kind, name: str) -> str:
    """The text of one shipped file, e.g. ``read_text("templates", "card.html.j2")``."""
    return (resource_dir(kind) / name).read_text(encoding="utf-8")
