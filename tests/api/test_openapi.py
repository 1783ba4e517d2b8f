"""The OpenAPI document: valid, committed as generated, served, and naming every route."""

from __future__ import annotations

import json
from pathlib import Path

from openapi_spec_validator import validate
from starlette.routing import Route

from syncd.api import create_app
from syncd.api.app import create_api
from syncd.api.openapi import OPERATIONS, build_document, document_text, openapi_path
from syncd.runtime import Runtime
from tests.api.client import ApiClient

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
DOCUMENT = "/api/v1/openapi.json"


def test_the_committed_document_is_the_one_the_code_builds() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == document_text(), (
        "docs/openapi.json is stale: run `make openapi` and commit it")


def test_openapi_spec_validator_accepts_the_document() -> None:
    validate(json.loads(COMMITTED.read_text(encoding="utf-8")))


def test_the_api_serves_the_document_behind_its_key(client: ApiClient, runtime: Runtime) -> None:
    response = client.get(DOCUMENT)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == build_document()
    with ApiClient(create_app(runtime)) as anonymous:
        refused = anonymous.get(DOCUMENT)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthorized"


def test_every_route_is_an_operation_of_the_document_and_no_other(runtime: Runtime) -> None:
    served = {
        (method.lower(), openapi_path(route.path.removeprefix("/api/v1")))
        for route in create_api(runtime).routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    documented = {(method, path) for path, item in build_document()["paths"].items()
                  for method in item}
    assert served == documented
    assert len(OPERATIONS) == len(documented)
    assert len({operation.operation_id for operation in OPERATIONS}) == len(OPERATIONS)


def test_the_document_names_the_bearer_scheme_and_every_error_shape() -> None:
    document = build_document()
    assert document["openapi"] == "3.1.0"
    assert document["security"] == [{"bearer": []}]
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer"}
    refusals = document["components"]["responses"]
    assert set(refusals) >= {"400", "401", "404", "409", "413", "415", "422", "503"}
    error = document["components"]["schemas"]["ErrorDetail"]
    assert set(error["required"]) == {"code", "message", "fields"}
    put_booking = document["paths"]["/api/v1/merchants/{merchant}/bookings/{booking}"]["put"]
    assert set(put_booking["responses"]) == {
        "200", "201", "400", "401", "404", "409", "413", "415", "422", "503"}
    body = put_booking["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/BookingIn"}


def test_query_parameters_carry_their_models_limits() -> None:
    listing = build_document()["paths"]["/api/v1/merchants/{merchant}/bookings"]["get"]
    parameters = {p["name"]: p for p in listing["parameters"]}
    assert parameters["merchant"]["in"] == "path"
    assert parameters["merchant"]["schema"]["pattern"] == "^[A-Za-z0-9._:~-]+$"
    assert parameters["limit"]["schema"] | {"title": ""} == {
        "type": "integer", "minimum": 1, "maximum": 200, "default": 50, "title": ""}
    assert parameters["status"]["schema"]["enum"] == ["pending", "confirmed", "cancelled"]
    assert not parameters["status"]["required"]
