"""MkDocs hooks (``hooks:`` in mkdocs.yml): the reference pages, generated at build time.

Each page below is rendered from the code when the site is built (policy schema and
check registry, every command's ``--help``, the OpenAPI document, ``govkit.__all__``),
so the reference cannot drift from govkit. The generators live next to this file in
the ``_docgen`` package; they are documentation tooling, not part of govkit.
"""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger("mkdocs.hooks.govkit")

#: generated page -> generator module (each has ``render() -> str``)
PAGES = {
    "reference/policy.md": "_docgen.policy_ref",
    "reference/cli.md": "_docgen.cli_ref",
    "reference/http-api.md": "_docgen.http_ref",
    "reference/python-api.md": "_docgen.python_ref",
}
_DOCS = Path(__file__).resolve().parent.parent


def on_files(files: Any, config: Any) -> Any:
    """Add the generated pages to the site (they must not also exist as files)."""
    from mkdocs.structure.files import File

    if str(_DOCS) not in sys.path:  # make the _docgen package importable (build process only)
        sys.path.insert(0, str(_DOCS))
    for src_uri, module in PAGES.items():
        if files.get_file_from_path(src_uri) is not None:
            raise RuntimeError(
                f"docs/{src_uri} is generated at build time; delete the file of that name"
            )
        content = importlib.import_module(module).render()
        files.append(File.generated(config, src_uri, content=content))
        log.debug("generated %s (%d characters)", src_uri, len(content))
    return files
