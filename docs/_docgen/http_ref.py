"""The HTTP API reference page, generated from the OpenAPI spec and the error codes.

Sources: ``govkit.api.create_app(...).openapi()`` (paths, methods, parameters, request
bodies, responses, schemas, authentication) and ``govkit.api.ERROR_CODES`` (every
``error.code`` with its status). The spec is built without a server: building the app
never calls its backend.
"""

from __future__ import annotations

from typing import Any

from _docgen.mdtext import anchor, cell, code, field_rows, json_type, table

__all__ = ["openapi_spec", "render"]

_METHODS = ("get", "post", "put", "patch", "delete")


def openapi_spec() -> dict[str, Any]:
    """The OpenAPI document ``govkit serve`` publishes at ``/openapi.json``."""
    from govkit.api import ApiSettings, create_app

    # The routes and schemas do not depend on the backend; the app only calls it per request.
    return create_app(_NoBackend(), settings=ApiSettings()).openapi()


class _NoBackend:
    """A stand-in backend: building the OpenAPI document never calls it."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the OpenAPI document must not call the backend ({name})")


def _link(name: str) -> str:
    return f"[{code(name)}](#{anchor('schema', name)})"


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, ops in spec.get("paths", {}).items()
        for method, op in ops.items()
        if method in _METHODS
    ]


def _content_types(content: dict[str, Any]) -> str:
    parts = []
    for media, body in content.items():
        schema = body.get("schema")
        parts.append(f"{code(media)} {json_type(schema, link=_link)}" if schema else code(media))
    return "; ".join(parts)


def _operation(method: str, path: str, op: dict[str, Any]) -> list[str]:
    out = [f"### {method} {path} {{#{anchor(method, path)}}}", ""]
    if op.get("summary"):
        out += [cell(op["summary"]) + ".", ""]
    if op.get("description"):
        out += [cell(op["description"]), ""]
    security = [name for req in op.get("security", []) for name in req]
    out += [
        "Authentication: "
        + (", ".join(f"[{code(s)}](#authentication)" for s in security) or "none")
        + ".",
        "",
    ]
    params = op.get("parameters", [])
    if params:
        rows = [
            [
                code(p["name"]),
                p.get("in", ""),
                json_type(p.get("schema", {}), link=_link),
                "required" if p.get("required") else "optional",
                cell(p.get("description") or p.get("schema", {}).get("description", "")),
            ]
            for p in params
        ]
        out += [table(["parameter", "in", "type", "required", "description"], rows), ""]
    body = op.get("requestBody")
    if body:
        out += [
            "Request body"
            + (" (required)" if body.get("required") else "")
            + ": "
            + _content_types(body.get("content", {})),
            "",
        ]
    rows = []
    for status, resp in sorted(op.get("responses", {}).items()):
        rows.append(
            [
                code(status),
                cell(resp.get("description", "")),
                _content_types(resp.get("content", {})) or "—",
                ", ".join(code(h) for h in resp.get("headers", {})) or "—",
            ]
        )
    out += [table(["status", "meaning", "body", "headers"], rows), ""]
    return out


def render() -> str:
    """The whole page as Markdown."""
    from govkit.api import ERROR_CODES

    spec = openapi_spec()
    ops = _operations(spec)
    info = spec.get("info", {})
    out = [
        "# HTTP API reference",
        "",
        '!!! note "Generated"',
        "    This page is generated from the OpenAPI document of `govkit serve` "
        "(`govkit.api.create_app(...).openapi()`, served at `/openapi.json`) and from "
        "`govkit.api.ERROR_CODES` each time the site is built.",
        "",
        f"{info.get('title', '')}, version {info.get('version', '')}, "
        f"OpenAPI {spec.get('openapi', '')}.",
        "",
        info.get("description", "").strip(),
        "",
        "## Endpoints {#endpoints}",
        "",
        table(
            ["method", "path", "what it does"],
            [
                [code(m), f"[{code(p)}](#{anchor(m, p)})", cell(op.get("summary", ""))]
                for m, p, op in ops
            ],
        ),
        "",
        "## Authentication {#authentication}",
        "",
    ]
    schemes = spec.get("components", {}).get("securitySchemes", {})
    out += [
        table(
            ["scheme", "type", "how"],
            [
                [
                    code(name),
                    cell(s.get("type", "")),
                    cell(s.get("description", ""))
                    + (f" (header {code(s['name'])})" if s.get("in") == "header" else ""),
                ]
                for name, s in schemes.items()
            ],
        ),
        "",
        "## Error codes {#error-codes}",
        "",
        "Every error has one shape, "
        '`{"error": {"code", "message", "details": [{"field", "problem"}]}}`; it never '
        "echoes the values sent and never carries a stack trace. `code` is one of:",
        "",
        table(
            ["code", "status", "meaning"],
            [
                [
                    f'<span id="{anchor("error", name)}"></span>{code(name)}',
                    str(spec_.status) if spec_.status else "as sent",
                    cell(spec_.meaning),
                ]
                for name, spec_ in ERROR_CODES.items()
            ],
        ),
        "",
        "## Operations {#operations}",
        "",
    ]
    for method, path, op in ops:
        out += _operation(method, path, op)
    out += ["## Schemas {#schemas}", ""]
    for name, schema in sorted(spec.get("components", {}).get("schemas", {}).items()):
        out += [f"### {name} {{#{anchor('schema', name)}}}", ""]
        if schema.get("description"):
            out += [cell(schema["description"]), ""]
        if schema.get("properties"):
            out += [
                table(
                    ["field", "type", "required / default", "description"],
                    field_rows({**schema, "title": f"schema-{name}"}, link=_link),
                ),
                "",
            ]
        else:
            out += ["Type: " + json_type(schema, link=_link), ""]
    return "\n".join(out)
