from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.graph import GraphDouble

BOOKING_PROPERTY = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name bookingId"


@pytest.fixture(scope="module")
def double() -> Iterator[GraphDouble]:
    with GraphDouble() as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test starts without faults, latency or counters (the server is shared per module)."""
    if "double" not in request.fixturenames:
        yield
        return
    running: GraphDouble = request.getfixturevalue("double")
    running.faults.clear()
    running.latency_seconds = 0.0
    running.stats.reset()
    yield
    running.faults.clear()
    running.latency_seconds = 0.0


def token_for(double: GraphDouble, client_id: str | None = None, secret: str | None = None) -> str:
    response = httpx.post(
        f"{double.authority}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id or double.client_id,
            "client_secret": secret or double.client_secret,
            "scope": "https://graph.microsoft.com/.default",
        },
        verify=double.tls_verify(),
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def graph_client(double: GraphDouble, token: str | None = None, **options: object) -> httpx.Client:
    return httpx.Client(
        base_url=double.graph_url,
        verify=double.tls_verify(),
        headers={"Authorization": f"Bearer {token or token_for(double)}"},
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
def graph(double: GraphDouble) -> Iterator[httpx.Client]:
    with graph_client(double) as client:
        yield client


@pytest.fixture
def mailbox(double: GraphDouble) -> str:
    upn = f"staff-{uuid.uuid4().hex[:8]}@contoso.test"
    double.add_mailbox(upn, timezone="Europe/Berlin")
    return upn


def event_body(
    subject: str = "Haircut",
    start: str = "2030-03-04T10:00:00",
    end: str = "2030-03-04T11:00:00",
    zone: str = "Europe/Berlin",
    **extra: object,
) -> dict[str, object]:
    return {
        "subject": subject,
        "start": {"dateTime": start, "timeZone": zone},
        "end": {"dateTime": end, "timeZone": zone},
        **extra,
    }
