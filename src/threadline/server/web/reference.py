"""GET /docs: the API reference, rendered on the server from the OpenAPI document.

Needs nothing outside the package (no CDN, no script): endpoints grouped by tag with their parameters,
request bodies and responses, then every schema with its fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from threadline.server.web.templating import page

router = APIRouter(include_in_schema=False)

TypePart = tuple[str, str | None]
"""A piece of a rendered type: its text, and the schema it links to (None: plain text)."""


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: tuple[TypePart, ...]
    required: bool
    description: str
    location: str = ""


@dataclass(frozen=True, slots=True)
class Response:
    status: str
    description: str
    type: tuple[TypePart, ...]


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str
    anchor: str
    summary: str
    description: str
    parameters: tuple[Field, ...]
    body_types: tuple[str, ...]
    responses: tuple[Response, ...]


@dataclass(frozen=True, slots=True)
class Schema:
    name: str
    description: str
    fields: tuple[Field, ...]


@router.get("/docs", response_class=HTMLResponse)
async def api_reference(request: Request) -> HTMLResponse:
    spec = request.app.openapi()
    return page(
        "reference.html",
        title=spec["info"]["title"],
        version=spec["info"]["version"],
        description=spec["info"].get("description", ""),
        groups=operations_by_tag(spec),
        schemas=schemas(spec),
        request=request,
    )


def operations_by_tag(spec: dict[str, Any]) -> list[tuple[str, list[Operation]]]:
    """Every operation of ``spec``, grouped by its first tag, in the document's order."""
    groups: dict[str, list[Operation]] = {}
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            tag = (op.get("tags") or ["other"])[0]
            groups.setdefault(tag, []).append(_operation(path, method, op))
    return list(groups.items())


def _operation(path: str, method: str, op: dict[str, Any]) -> Operation:
    parameters = tuple(
        Field(
            p["name"],
            type_parts(p.get("schema", {})),
            bool(p.get("required")),
            p.get("description") or p.get("schema", {}).get("description", ""),
            p.get("in", ""),
        )
        for p in op.get("parameters", [])
    )
    responses = tuple(
        Response(status, r.get("description", ""), _response_type(r)) for status, r in op.get("responses", {}).items()
    )
    body = op.get("requestBody", {}).get("content", {})
    anchor = f"{method}-{path}".replace("/", "-").replace("{", "").replace("}", "").strip("-")
    return Operation(
        method.upper(),
        path,
        anchor,
        op.get("summary", ""),
        op.get("description", ""),
        parameters,
        tuple(body),
        responses,
    )


def _response_type(response: dict[str, Any]) -> tuple[TypePart, ...]:
    for content in response.get("content", {}).values():
        if content.get("schema"):
            return type_parts(content["schema"])
    return ()


def schemas(spec: dict[str, Any]) -> list[Schema]:
    found = []
    for name, schema in spec.get("components", {}).get("schemas", {}).items():
        required = set(schema.get("required", ()))
        fields = tuple(
            Field(field, type_parts(prop), field in required, prop.get("description", ""))
            for field, prop in schema.get("properties", {}).items()
        )
        found.append(Schema(name, schema.get("description", ""), fields))
    return found


def type_parts(schema: dict[str, Any]) -> tuple[TypePart, ...]:
    """A JSON schema as readable text: ``SessionSummary``, ``list of Turn``, ``string | null``."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return ((name, name),)
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            parts: list[TypePart] = []
            for index, option in enumerate(schema[combinator]):
                if index:
                    parts.append((" | ", None))
                parts.extend(type_parts(option))
            return tuple(parts)
    kind = schema.get("type")
    if kind == "array":
        return (("list of ", None), *type_parts(schema.get("items", {})))
    if kind == "object" and "additionalProperties" in schema and isinstance(schema["additionalProperties"], dict):
        return (("map of string to ", None), *type_parts(schema["additionalProperties"]))
    if isinstance(kind, str):
        return ((kind + (f" ({schema['format']})" if "format" in schema else ""), None),)
    if "enum" in schema:
        return (("one of " + ", ".join(map(str, schema["enum"])), None),)
    return (("any", None),)
