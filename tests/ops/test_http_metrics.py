"""Request latency is labelled by route template, method and status class: never by a
path, a key or an address, however many different ones come in."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from syncd.api import create_app
from syncd.ops.http_metrics import METHODS, UNMATCHED, RequestMetrics, route_template
from syncd.runtime import Runtime
from tests.api.client import ApiClient
from tests.api.helpers import AUTH, MERCHANT, booking_body
from tests.ops.conftest import registry_samples

HISTOGRAM = "syncd_http_request_duration_seconds"
BOOKING = "/api/v1/merchants/{merchant}/bookings/{booking}"


def label_sets() -> set[tuple[str, str, str]]:
    return {
        (s.labels["route"], s.labels["method"], s.labels["status"])
        for s in registry_samples(REGISTRY, HISTOGRAM)
        if s.name == HISTOGRAM + "_count"
    }


def count_of(route: str, method: str, status: str) -> float:
    wanted = {"route": route, "method": method, "status": status}
    found = [
        s.value
        for s in registry_samples(REGISTRY, HISTOGRAM)
        if s.name == HISTOGRAM + "_count" and s.labels == wanted
    ]
    return found[0] if found else 0.0


def templates(routes: Sequence[BaseRoute], prefix: str = "") -> set[str]:
    found: set[str] = set()
    for route in routes:
        path = prefix + str(getattr(route, "path", ""))
        inner = getattr(route, "routes", None)
        found |= templates(inner, path) if inner else {path, path + "/{path}"}
    return found


def set_up_shop(client: ApiClient) -> None:
    for path, body in (
        ("", {"name": "Salon", "timezone": "Europe/Berlin"}),
        ("/services/cut", {"name": "Haircut", "duration_minutes": 30}),
        ("/staff/alice", {"name": "Alice", "timezone": "Europe/Berlin"}),
        ("/staff/alice/calendars/work", {"connector": "local", "calendar_id": "alice"}),
    ):
        assert client.put(MERCHANT + path, json=body).status_code == 201


def test_routes_not_paths_become_labels(runtime: Runtime) -> None:
    app = create_app(runtime)
    before = count_of(BOOKING, "PUT", "2xx")
    other_apps = label_sets()  # what earlier tests' apps (with other routes) labelled
    keys = [f"secret-booking-{uuid.uuid4().hex}" for _ in range(30)]
    with ApiClient(app, headers=AUTH) as client:
        set_up_shop(client)
        for n, key in enumerate(keys):
            customer = {"name": "C", "email": f"person{n}@example.org", "timezone": "UTC"}
            body = booking_body(customer=customer)
            assert client.put(f"{MERCHANT}/bookings/{key}", json=body).status_code == 201
            assert client.get(f"{MERCHANT}/bookings/{key}").status_code == 200
            assert client.get(f"/no/such/{key}").status_code == 404
            assert client.request("BREW", f"{MERCHANT}/bookings/{key}").status_code == 405
        refused = client.get(f"{MERCHANT}/bookings/{keys[0]}", headers={"Authorization": ""})
        assert refused.status_code == 401
    assert count_of(BOOKING, "PUT", "2xx") == before + len(keys)
    assert count_of(BOOKING, "GET", "2xx") >= len(keys)
    assert count_of(BOOKING, "other", "4xx") >= len(keys)
    assert count_of(BOOKING, "GET", "4xx") >= 1  # the refused key
    assert count_of(UNMATCHED, "GET", "4xx") >= len(keys)
    known = templates(app.routes) | {UNMATCHED}
    for route, method, status in label_sets() - other_apps:
        assert route in known, route
        assert method in METHODS | {"other"}
        assert status in {"1xx", "2xx", "3xx", "4xx", "5xx"}
    words = " ".join(" ".join(labels) for labels in label_sets())
    assert "secret-booking" not in words
    assert "@" not in words


def test_readyz_and_healthz_are_timed_too(runtime: Runtime) -> None:
    before = count_of("/readyz", "GET", "2xx")
    with ApiClient(create_app(runtime)) as client:
        assert client.get("/readyz").status_code == 200
        assert client.get("/healthz").status_code == 200
    assert count_of("/readyz", "GET", "2xx") == before + 1


def test_manage_pages_get_their_templates_whether_a_page_or_the_host_check_answered(
    runtime: Runtime,
) -> None:
    page = "/manage/{token}"
    before = {status: count_of(page, "GET", status) for status in ("4xx", "2xx")}
    with ApiClient(create_app(runtime), headers={"host": "127.0.0.1"}) as client:
        assert client.get("/manage/no-such-token").status_code == 404  # the page answered
        refused = client.get("/manage/no-such-token", headers={"host": "evil.example"})
        assert refused.status_code == 400  # the host check answered, before any route
        assert client.get("/manage/static/manage.css").status_code == 200
    assert count_of(page, "GET", "4xx") == before["4xx"] + 2
    assert count_of(page, "GET", "2xx") == before["2xx"]
    assert count_of("/manage/static/{path}", "GET", "2xx") >= 1


def endpoint(_: object) -> PlainTextResponse:
    return PlainTextResponse("x")


def scope(path: str, method: str = "GET") -> dict[str, object]:
    return {"type": "http", "path": path, "method": method, "root_path": ""}


def test_the_template_follows_mounts_as_the_router_does() -> None:
    inner = Starlette(routes=[Route("/b/{key}", endpoint, methods=["PUT"])])
    routes: list[BaseRoute] = [
        Route("/a/{key}", endpoint, methods=["GET"]),
        Mount("/m/{shop}", app=inner),
        Mount("", routes=[Route("/a/{key}", endpoint, methods=["POST"])]),
    ]
    assert route_template(routes, scope("/a/1")) == "/a/{key}"
    assert route_template(routes, scope("/a/1", "POST")) == "/a/{key}"  # the full match
    assert route_template(routes, scope("/a/1", "DELETE")) == "/a/{key}"  # a 405
    assert route_template(routes, scope("/m/s1/b/2", "PUT")) == "/m/{shop}/b/{key}"
    assert route_template(routes, scope("/m/s1/c")) is None
    assert route_template(routes, scope("/z")) is None


class RefuseWithoutPass:
    """Answers 401 before any routing unless the request carries `x-pass`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (b"x-pass", b"1") not in scope["headers"]:
            await PlainTextResponse("no", status_code=401)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def test_a_route_gets_its_template_whether_it_answered_or_was_refused_before_routing() -> None:
    template = "/probe/{shop}/items/{key}"
    inner = Starlette(routes=[Route("/items/{key}", endpoint, methods=["PUT"])],
                      middleware=[Middleware(RefuseWithoutPass)])
    app = Starlette(routes=[Route("/probe-static", endpoint),
                            Mount("/probe/{shop}", app=inner)],
                    middleware=[Middleware(RequestMetrics)])
    before = {status: count_of(template, "PUT", status) for status in ("2xx", "4xx")}
    with ApiClient(app) as client:
        assert client.put("/probe/s1/items/k1", headers={"x-pass": "1"}).status_code == 200
        assert client.put("/probe/s2/items/k2").status_code == 401
        assert client.get("/probe/s1/items/k1", headers={"x-pass": "1"}).status_code == 405
        assert client.get("/probe/s1/elsewhere", headers={"x-pass": "1"}).status_code == 404
    assert count_of(template, "PUT", "2xx") == before["2xx"] + 1
    assert count_of(template, "PUT", "4xx") == before["4xx"] + 1
    assert count_of(template, "GET", "4xx") >= 1
    assert all("s1" not in route and "k1" not in route for route, _, _ in label_sets())
