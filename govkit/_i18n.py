"""Message catalogs for text a person reads (reason codes, decision letters).

A catalog is ``templates/locales/<locale>/<domain>.yaml``: a flat mapping of message
id to a ``str.format`` template, e.g. ``lowered: "{label} ({value}) lowered the score"``.
English ships; adding a language is adding a folder with the same ids (a test checks
every shipped locale has every English id). A locale without a catalog, or a catalog
missing an id, falls back to English, so a letter is never left with a blank line; a
regional locale ("pt-BR") first falls back to its language ("pt").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType

import yaml

from govkit._resources import resource_dir
from govkit.exceptions import InputError

__all__ = ["DEFAULT_LOCALE", "available_locales", "messages"]

DEFAULT_LOCALE = "en"
_LOCALE_RE = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?$")


def available_locales() -> tuple[str, ...]:
    """The locales with a shipped catalog folder, sorted."""
    base = resource_dir("templates") / "locales"
    return tuple(sorted(p.name for p in base.iterdir() if p.is_dir()))


@cache
def _load(locale: str, domain: str) -> Mapping[str, str] | None:
    path = resource_dir("templates") / "locales" / locale / f"{domain}.yaml"
    if not path.is_file():
        return None
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise InputError(f"message catalog {locale}/{domain}.yaml must map ids to strings")
    return MappingProxyType(data)


def messages(locale: str, domain: str) -> Mapping[str, str]:
    """The ``domain`` catalog for ``locale``, with English filling any missing id."""
    if not isinstance(locale, str) or not _LOCALE_RE.match(locale):
        raise InputError(
            f"locale must look like 'en' or 'pt-BR'; got {locale!r} "
            f"(available: {', '.join(available_locales())})"
        )
    english = _load(DEFAULT_LOCALE, domain)
    if english is None:
        raise InputError(f"no English message catalog for {domain!r}")
    # most specific last: "pt-BR" is English, overridden by "pt", overridden by "pt-BR"
    language = re.split(r"[-_]", locale)[0]
    layers = [
        catalog
        for name in dict.fromkeys((language, locale))
        if name != DEFAULT_LOCALE and (catalog := _load(name, domain)) is not None
    ]
    if not layers:
        return english
    merged: dict[str, str] = dict(english)
    for catalog in layers:
        merged.update(catalog)
    return MappingProxyType(merged)
