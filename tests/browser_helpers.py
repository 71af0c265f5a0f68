"""A page in the shared headless Chromium that records console errors and requested hosts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CHROMIUM = Path("/usr/bin/chromium")


@dataclass
class WatchedPage:
    page: Any
    errors: list[str] = field(default_factory=list)  # console errors and uncaught exceptions
    hosts: set[str] = field(default_factory=set)  # every host a request went to


def watched_page(browser: Any, *, width: int = 1280, height: int = 900) -> WatchedPage:
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    watched = WatchedPage(page)
    page.on("console", lambda m: watched.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: watched.errors.append(str(e)))
    page.on("request", lambda r: watched.hosts.add(urlsplit(r.url).hostname or r.url[:20]))
    return watched
