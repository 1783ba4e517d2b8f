"""A database that is gone or refuses writes: the API answers 503 with Retry-After and a
code naming the cause (never a 500), and /readyz fails naming the database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY
from sqlalchemy.engine import make_url

from syncd.api import create_app
from syncd.config import Settings
from syncd.runtime import Runtime
from syncd.wiring import build_runtime
from tests.api.client import ApiClient
from tests.api.helpers import AUTH, MERCHANT, booking_body, snapshot
from tests.servers import free_port


def read_only(url: str) -> str:
    """The same database, opened so that it refuses every write."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"sqlite:///file:{parsed.database}?mode=ro&uri=true"
    options = parsed.query.get("options", "")
    with_read_only = f"{options} -cdefault_transaction_read_only=on".strip()
    return parsed.update_query_dict({"options": with_read_only}).render_as_string(
        hide_password=False
    )


@pytest.fixture
def read_only_client(settings: Settings, shop: ApiClient) -> Iterator[ApiClient]:
    database = settings.database.model_copy(update={"url": read_only(settings.database.url)})
    runtime = build_runtime(settings.model_copy(update={"database": database}))
    with ApiClient(create_app(runtime), headers=AUTH) as client:
        yield client
    runtime.close()


def test_a_database_refusing_writes_fails_readiness_and_answers_503(
    read_only_client: ApiClient, runtime: Runtime
) -> None:
    before = snapshot(runtime.engine)
    ready = read_only_client.get("/readyz")
    assert ready.status_code == 503, ready.text
    assert ready.json()["failing"] == ["database"]
    assert ready.json()["checks"]["database"]["cause"] == "database_read_only"
    refused = read_only_client.put(f"{MERCHANT}/bookings/b1", json=booking_body())
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "database_read_only"
    assert int(refused.headers["Retry-After"]) > 0
    assert read_only_client.get(f"{MERCHANT}/services/cut").status_code == 200  # reads work
    assert snapshot(runtime.engine) == before


def outages_counted() -> float:
    labels = {"cause": "database_unavailable"}
    return REGISTRY.get_sample_value("syncd_database_outages_total", labels) or 0.0


def test_an_unreachable_database_answers_503_with_retry_after(settings: Settings) -> None:
    counted = outages_counted()
    url = f"postgresql://syncd:hunter2-secret@127.0.0.1:{free_port()}/syncd"
    database = settings.database.model_copy(update={"url": url})
    runtime = build_runtime(settings.model_copy(update={"database": database}))
    try:
        with ApiClient(create_app(runtime), headers=AUTH) as client:
            refused = client.put(f"{MERCHANT}/bookings/b1", json=booking_body())
            ready = client.get("/readyz")
    finally:
        runtime.close()
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "database_unavailable"
    assert int(refused.headers["Retry-After"]) > 0
    assert "hunter2" not in refused.text
    assert ready.json()["checks"]["database"]["cause"] == "database_unavailable"
    assert outages_counted() == counted + 1
