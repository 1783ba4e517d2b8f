"""Schemathesis against the live API, loaded from the document the API itself serves.

Every operation gets a bounded number of generated requests, valid and invalid
(SQLite and PostgreSQL); then the stateful run follows the document's links
through create -> update -> cancel -> clone of bookings. Each answer must be no
5xx and match the document: status, content type, body schema. Afterwards the
store holds nothing half-written (tests/api/consistency.py).

Generated keys and values are steered half the time towards the seeded shop's
(merchant m1, its services, staff and calendars, sane times and zones), so the
requests reach past "not found" into the writes.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Row, select

from syncd.runtime import Runtime
from syncd.store.models import Booking
from syncd.store.sealing import new_key
from tests.api.client import ApiClient
from tests.api.consistency import dangling_references, mirrors_out_of_step
from tests.api.helpers import AUTH

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
EXAMPLES_PER_OPERATION = 12
BASE_URL = "http://testserver"
STATEFUL_SCENARIOS = 15
STATEFUL_STEPS = 8
# stateful runs follow the document's links, not ones schemathesis guesses from the answers
ONLY_DECLARED_LINKS = schemathesis.Config.from_dict(
    {"phases": {"stateful": {"inference": {"algorithms": []}}}})
BOUNDED = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
KNOWN_PATH_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "merchant": st.just("m1"),
    "service": st.sampled_from(["cut", "color"]),
    "staff": st.sampled_from(["alice", "bob"]),
    "binding": st.sampled_from(["work", "home"]),
    "booking": st.sampled_from(["b1", "b2", "b3"]),
    "webhook": st.sampled_from(["w1", "w2"]),
    "conflict_id": st.integers(1, 3),
    "mirror_id": st.integers(1, 6),
    "outbox_id": st.integers(1, 6),
    "delivery": st.integers(1, 6),
    "account": st.sampled_from(["a1", "a2"]),
}
ZONES = st.sampled_from(["Europe/Berlin", "America/New_York", "UTC", "Asia/Kolkata"])
TIMES = st.sampled_from([
    "2026-12-01T10:00:00+01:00", "2026-12-01T11:00:00Z", "2027-03-28T01:30:00+01:00",
    "2026-10-25T02:30:00+02:00", "2030-01-01T09:15:00-05:00",
])
# fields of request bodies steered towards values the shop knows, by name
KNOWN_BODY_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "timezone": ZONES,
    "service": st.sampled_from(["cut", "color"]),
    "staff": st.sampled_from(["alice", "bob"]),
    "connector": st.just("local"),
    "start": TIMES,
    "key": st.sampled_from(["b1", "b2", "b3", "c1", "c2"]),
    "kind": st.just("caldav"),
    "settings": st.just({"url": "https://dav.example/", "username": "alice"}),
}


@pytest.fixture(autouse=True)
def encryption_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stored accounts' credentials are sealed: without keys every one would be a 409."""
    monkeypatch.setenv("SYNCD_ENCRYPTION_KEYS", new_key())


def _unreachable_segment(value: object) -> bool:
    # "." and ".." as path segments are removed by every HTTP client (RFC 3986, 5.2.4)
    return value in (".", "..")


def _steered(body: Any) -> st.SearchStrategy[Any]:
    """The body with the fields the shop knows set to its values; without a generated end
    (it would rarely follow the start), a staff booking's terms on a web booking, or a
    customer's name that is no single line."""
    if not isinstance(body, dict):
        return st.just(body)
    known = {name: strategy for name, strategy in KNOWN_BODY_VALUES.items() if name in body}
    if isinstance(body.get("customer"), dict):
        known["customer"] = ZONES.map(
            lambda zone: body["customer"] | {"timezone": zone, "name": "Jane Customer"})
    return st.fixed_dictionaries(known).map(lambda values: _consistent(body | values))


def _consistent(body: dict[str, Any]) -> dict[str, Any]:
    staff_terms = ("self_manage", "manage_cutoff_hours", "manage_actions")
    dropped = {"end", *(staff_terms if body.get("origin") != "staff" else ())}
    return {name: value for name, value in body.items() if name not in dropped}


def load_schema(client: ApiClient) -> BaseSchema:
    """The document as the API serves it, its cases sent through `client`."""
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200, response.text
    schema = schemathesis.openapi.from_dict(response.json(), config=ONLY_DECLARED_LINKS)

    @schema.hook
    def filter_path_parameters(_context: Any, path_parameters: dict[str, Any] | None) -> bool:
        return not any(_unreachable_segment(v) for v in (path_parameters or {}).values())

    @schema.hook
    def flatmap_path_parameters(_context: Any, path_parameters: dict[str, Any] | None) -> Any:
        if not path_parameters:
            return st.just(path_parameters)
        known = {name: KNOWN_PATH_VALUES[name] for name in path_parameters}
        return st.one_of(st.fixed_dictionaries(known), st.just(path_parameters))

    @schema.hook
    def flatmap_body(_context: Any, body: Any) -> Any:
        return st.one_of(_steered(body), st.just(body))

    return schema


def send(client: ApiClient, case: schemathesis.Case) -> schemathesis.Response:
    """The case's request through the test client (the app in process, as in production:
    async, its database work in the thread pool)."""
    request = case.as_transport_kwargs(base_url=BASE_URL, headers=AUTH)
    body: dict[str, Any] = {}
    if "json" in request:
        body["json"] = request["json"]
    elif request.get("data") is not None:
        body["content"] = request["data"]
    response = client.request(request["method"], request["url"], headers=request["headers"],
                              params=request.get("params"), **body)
    return schemathesis.Response.from_any(response)


def _assert_nothing_half_written(runtime: Runtime) -> None:
    assert dangling_references(runtime.engine) == {}
    assert mirrors_out_of_step(runtime.engine) == []


def _bookings(runtime: Runtime) -> list[Row[Any]]:
    """(status, cloned_from_id) of every booking: what the run got to make."""
    with runtime.engine.connect() as connection:
        return list(connection.execute(select(Booking.status, Booking.cloned_from_id)))


@pytest.mark.timeout(300)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_answers_as_its_document_says(
    shop: ApiClient, runtime: Runtime, mode: GenerationMode
) -> None:
    schema = load_schema(shop)
    for result in schema.get_all_operations():
        operation = result.ok()

        @BOUNDED
        @given(case=operation.as_strategy(generation_mode=mode))
        def answers_as_documented(case: schemathesis.Case) -> None:
            case.validate_response(send(shop, case), checks=CHECKS)

        answers_as_documented()
    _assert_nothing_half_written(runtime)
    if mode == GenerationMode.POSITIVE:
        assert _bookings(runtime), "the steered requests reach past 'not found' into the writes"


@pytest.mark.timeout(300)
def test_booking_lifecycles_follow_the_documents_links(
    shop: ApiClient, runtime: Runtime
) -> None:
    schema = load_schema(shop)
    machine = schema.as_state_machine()

    class Lifecycles(machine):  # type: ignore[misc,valid-type]
        def call(self, case: schemathesis.Case, **kwargs: Any) -> schemathesis.Response:
            return send(shop, case)

        def validate_response(self, response: Any, case: schemathesis.Case,
                              **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS)

    Lifecycles.run(settings=settings(
        BOUNDED, max_examples=STATEFUL_SCENARIOS, stateful_step_count=STATEFUL_STEPS))
    _assert_nothing_half_written(runtime)
    made = _bookings(runtime)
    assert any(status == "cancelled" for status, _ in made), "no history reached a cancel"
    assert any(source is not None for _, source in made), "no history reached a clone"
