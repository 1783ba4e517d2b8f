"""From an address and a password to the calendars to choose from, and the words a staff
member sees for each way it fails, against real servers (Radicale; Xandikos over TLS from a
test authority) and a web site that is no calendar server."""

from __future__ import annotations

import pytest

from syncd.connect.caldav import TASKS_ONLY, find_calendars
from syncd.connect.problems import ConnectError
from tests.discovery.scripted_http import Reply, ScriptedServer
from tests.servers import RadicaleServer, XandikosServer

pytestmark = pytest.mark.anyio

TASKS_BODY = b"""<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>
<D:displayname>Chores</D:displayname>
<C:supported-calendar-component-set><C:comp name="VTODO"/></C:supported-calendar-component-set>
</D:prop></D:set></C:mkcalendar>"""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def tasks_only(server: RadicaleServer) -> None:
    with server.http_client() as client:
        answer = client.request("MKCALENDAR", server.collection_path("chores"),
                                content=TASKS_BODY,
                                headers={"Content-Type": "application/xml; charset=utf-8"})
        assert answer.status_code == 201


async def fails(start: str, username: str, password: str, *, private: bool = True) -> ConnectError:
    with pytest.raises(ConnectError) as raised:
        await find_calendars(start, username, password, private_addresses=private)
    assert password not in str(raised.value)
    return raised.value


async def test_the_calendars_that_take_events_come_first(own_radicale: RadicaleServer) -> None:
    own_radicale.create_collection("work")
    tasks_only(own_radicale)
    draft = await find_calendars(own_radicale.url, own_radicale.username, own_radicale.password,
                                 private_addresses=True)
    assert draft.kind == "caldav"
    assert draft.secret == own_radicale.password
    assert draft.settings == {"kind": "caldav", "url": f"{own_radicale.url}/alice/",
                              "username": "alice"}
    shown = [(c.name, c.calendar_id, c.usable, c.why_not) for c in draft.calendars]
    assert shown == [("work", "/alice/work/", True, None),
                     ("Chores", "/alice/chores/", False, TASKS_ONLY)]


async def test_a_wrong_password(radicale: RadicaleServer) -> None:
    problem = await fails(radicale.url, radicale.username, "not-the-password")
    assert problem.code == "wrong_credentials"
    assert problem.title == "The password was not accepted"
    assert "wrong password — icloud and fastmail need an app-specific password" in \
        problem.text.lower()


async def test_no_caldav_at_the_address() -> None:
    page = Reply(200, b"<html><body>Welcome</body></html>", "text/html")
    with ScriptedServer({"/": page}) as site:
        problem = await fails(site.url + "/", "ana", "secret-password")
    assert problem.code == "no_caldav"
    assert "does not offer CalDAV at this address" in problem.text


async def test_a_certificate_no_one_trusts(xandikos: XandikosServer) -> None:
    problem = await fails(xandikos.url, xandikos.username, xandikos.password)
    assert problem.code == "tls_failure"
    assert problem.title == "Secure connection failed"
    assert "certificate is not trusted" in problem.text


async def test_only_calendars_for_tasks(own_radicale: RadicaleServer) -> None:
    tasks_only(own_radicale)
    problem = await fails(own_radicale.url, own_radicale.username, own_radicale.password)
    assert problem.code == "no_calendars"
    assert problem.title == "No calendar that takes events"


async def test_an_account_without_calendars(own_radicale: RadicaleServer) -> None:
    problem = await fails(own_radicale.url, own_radicale.username, own_radicale.password)
    assert problem.code == "no_calendars"


@pytest.mark.parametrize("start", ["http://127.0.0.1:9/", "https://[::1]/dav", "ana@localhost",
                                   "http://169.254.169.254/latest", "http://10.1.2.3/"])
async def test_private_addresses_are_refused_before_anything_is_sent(start: str) -> None:
    problem = await fails(start, "ana", "secret-password", private=False)
    assert problem.code == "private_address"
    assert "private network" in problem.text
