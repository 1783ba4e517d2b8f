"""The admin API as an OpenAPI 3.1 document, built from the operations told beside the routes.

Bodies and answers are the pydantic models themselves (requests in their
validation form, answers in their serialisation form), so the document cannot
describe a request the API would refuse. Served at GET /api/v1/openapi.json
behind the API key, like every path under /api/v1; `make openapi` writes it to
docs/openapi.json (`document_text`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaValue, models_json_schema
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from syncd.api.answers import ErrorAnswer, OpenApiDocument
from syncd.api.bodies import JSON_MEDIA_TYPE
from syncd.api.handling import API_PREFIX
from syncd.api.operation import Link, Operation
from syncd.api.route_modules import ROUTE_MODULES
from syncd.schemas import Key

Mode = Literal["validation", "serialization"]
REF_TEMPLATE = "#/components/schemas/{model}"
DOCUMENT_PATH = "/openapi.json"
_PATH_PARAMETER = re.compile(r"{(\w+)(?::(\w+))?}")

DOCUMENT_OPERATION = Operation(
    "get", DOCUMENT_PATH, "getOpenApiDocument", "This document", OpenApiDocument)
OPERATIONS: list[Operation] = [
    *(operation for module in ROUTE_MODULES for operation in module.OPERATIONS),
    DOCUMENT_OPERATION,
]
# the refusals each kind of operation can answer, each with its error code(s)
REFUSALS = {
    400: "The body is not JSON (malformed_json) or Content-Length is not a number",
    401: "No valid 'Authorization: Bearer <key>' header (unauthorized)",
    404: "The path names nothing (not_found)",
    409: "The request contradicts what is stored (conflict)",
    413: "The body is larger than api.max_body_bytes (body_too_large)",
    415: "Content-Type is not application/json (unsupported_media_type)",
    422: "Invalid fields, each named in `fields` with why (invalid_input)",
    503: "The database is unreachable or busy (with Retry-After), or no API key is configured",
}
_PATH_SCHEMAS: dict[str | None, JsonSchemaValue] = {
    None: TypeAdapter(Key).json_schema(),
    "int": {"type": "integer", "minimum": 0},
}


def _json_content(schema: JsonSchemaValue) -> dict[str, Any]:
    return {JSON_MEDIA_TYPE: {"schema": schema}}


def _models(operations: Iterable[Operation]) -> list[tuple[type[BaseModel], Mode]]:
    wanted: list[tuple[type[BaseModel], Mode]] = [(ErrorAnswer, "serialization")]
    for operation in operations:
        wanted += [(m, "validation") for m in (operation.body,) if m is not None]
        answers = (operation.answer, operation.created_answer)
        wanted += [(m, "serialization") for m in answers if m is not None]
    return list(dict.fromkeys(wanted))


def openapi_path(path: str) -> str:
    """The route's path as OpenAPI writes it: `{conflict_id:int}` becomes `{conflict_id}`."""
    return API_PREFIX + _PATH_PARAMETER.sub(r"{\1}", path)


def _path_parameters(path: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": _PATH_SCHEMAS[kind or None]}
        for name, kind in _PATH_PARAMETER.findall(path)
    ]


def _without_null(schema: JsonSchemaValue) -> JsonSchemaValue:
    """A query parameter is absent or a value; `null` is no value a query string can carry."""
    options: list[JsonSchemaValue] = [
        s for s in schema.get("anyOf", ()) if s.get("type") != "null"]
    if len(options) != 1:
        return schema
    rest = {k: v for k, v in schema.items() if k != "anyOf" and (k, v) != ("default", None)}
    return {**options[0], **rest}


def _query_parameters(query: type[BaseModel] | None) -> list[dict[str, Any]]:
    if query is None:
        return []
    schema = query.model_json_schema(ref_template=REF_TEMPLATE, mode="validation")
    required = set(schema.get("required", ()))
    return [
        {"name": name, "in": "query", "required": name in required,
         "schema": _without_null(field)}
        for name, field in schema["properties"].items()
    ]


def _refusals(operation: Operation) -> list[int]:
    statuses = {401, 503, *operation.refusals}
    if _PATH_PARAMETER.search(operation.path):
        statuses.add(404)
    if operation.body is not None or operation.query is not None:
        statuses.add(422)
    if operation.body is not None:
        statuses |= {400, 413, 415}
    return sorted(statuses)


def _links(links: tuple[Link, ...]) -> dict[str, Any]:
    return {
        link.name: {"operationId": link.operation_id, "parameters": dict(link.parameters)}
        for link in links
    }


class _Refs:
    """Each model's `$ref` in the document's components, by the form it is shown in."""

    def __init__(self, operations: list[Operation]) -> None:
        keys, schema = models_json_schema(_models(operations), ref_template=REF_TEMPLATE)
        self.refs = {(model, mode): ref for (model, mode), ref in keys.items()}
        self.components: dict[str, Any] = schema.get("$defs", {})

    def of(self, model: type[BaseModel], mode: Mode) -> JsonSchemaValue:
        return self.refs[(model, mode)]


def _answer(operation: Operation, refs: _Refs, model: type[BaseModel] | None,
            description: str) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description}
    if model is not None:
        answer["content"] = _json_content(refs.of(model, "serialization"))
    if operation.links:
        answer["links"] = _links(operation.links)
    return answer


def _responses(operation: Operation, refs: _Refs) -> dict[str, Any]:
    if operation.upsert:
        created = operation.created_answer or operation.answer
        answers = {"200": _answer(operation, refs, operation.answer, "Found or changed"),
                   "201": _answer(operation, refs, created, "Created")}
    else:
        answers = {str(operation.status): _answer(operation, refs, operation.answer, "Done")}
    refusals = {str(status): {"$ref": f"#/components/responses/{status}"}
                for status in _refusals(operation)}
    return answers | refusals


def _operation(operation: Operation, refs: _Refs) -> dict[str, Any]:
    document: dict[str, Any] = {
        "operationId": operation.operation_id,
        "summary": operation.summary,
        "parameters": _path_parameters(operation.path) + _query_parameters(operation.query),
        "responses": _responses(operation, refs),
    }
    if operation.description:
        document["description"] = operation.description
    if operation.body is not None:
        content = _json_content(refs.of(operation.body, "validation"))
        document["requestBody"] = {"required": True, "content": content}
    return document


def _error_responses(refs: _Refs) -> dict[str, Any]:
    content = _json_content(refs.of(ErrorAnswer, "serialization"))
    responses: dict[str, Any] = {
        str(status): {"description": text, "content": content}
        for status, text in REFUSALS.items()
    }
    responses["401"]["headers"] = {"WWW-Authenticate": {"schema": {"const": "Bearer"}}}
    responses["503"]["headers"] = {"Retry-After": {"schema": {"type": "string"}}}
    return responses


@cache
def build_document() -> dict[str, Any]:
    """The whole document; the same for every deployment (it depends on the code alone)."""
    refs = _Refs(OPERATIONS)
    paths: dict[str, dict[str, Any]] = {}
    for operation in OPERATIONS:
        paths.setdefault(openapi_path(operation.path), {})[operation.method] = _operation(
            operation, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "syncd admin API",
            "version": "1",
            "description": "Merchants, services, staff, calendar bindings and bookings, "
                           "created and changed idempotently by key; conflicts, mirrors, "
                           "the mail outbox and webhook subscriptions.",
        },
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": refs.components,
            "responses": _error_responses(refs),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def document_text() -> str:
    """The document as docs/openapi.json holds it."""
    return json.dumps(build_document(), indent=2, ensure_ascii=False) + "\n"


async def _serve_document(_request: Request) -> Response:
    return JSONResponse(build_document())


def routes() -> list[Route]:
    return [Route(API_PREFIX + DOCUMENT_PATH, _serve_document, methods=["GET"])]
