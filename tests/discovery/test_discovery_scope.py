"""Where discovery sends the password: the start's origin and HTTPS hosts of the same
registrable domain, nowhere else, whatever a server answers (redirects, hrefs)."""

from __future__ import annotations

import pytest

from connectors.caldav.discovery import discover
from connectors.caldav.discovery_errors import ConfirmServerError
from connectors.caldav.discovery_http import CredentialScope
from tests.discovery.multistatus import home_set_at, multistatus, principal_at
from tests.discovery.scripted_http import Reply, ScriptedServer
from tests.servers import RadicaleServer

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("named", "start", "url", "admitted"),
    [
        ("caldav.icloud.com", "https://caldav.icloud.com/", "https://p07-caldav.icloud.com/", True),
        ("example.org", "https://example.org/.well-known/caldav", "https://dav.example.org/", True),
        # an SRV record delegating to the provider: the provider's other hosts too
        ("example.org", "https://caldav.fastmail.com/", "https://d1.fastmail.com/dav/", True),
        ("cal.example.co.uk", "https://cal.example.co.uk/", "https://dav.example.co.uk/", True),
        ("cal.example.co.uk", "https://cal.example.co.uk/", "https://other.co.uk/", False),
        # github.io is a public suffix: its users' sites are strangers to one another
        ("ana.github.io", "https://ana.github.io/", "https://eve.github.io/", False),
        # never from HTTPS back to plain HTTP
        ("caldav.icloud.com", "https://caldav.icloud.com/", "http://caldav.icloud.com/", False),
        ("example.org", "https://example.org/", "https://example.org.evil.net/", False),
        ("example.org", "https://example.org/", "https://127.0.0.1/", False),
        ("127.0.0.1", "http://127.0.0.1:8080/", "http://127.0.0.1:8080/dav/", True),
        ("127.0.0.1", "http://127.0.0.1:8080/", "http://127.0.0.1:8081/", False),
        ("127.0.0.1", "http://127.0.0.1:8080/", "https://127.0.0.1:8080/", False),
        ("EXAMPLE.org", "https://Example.ORG./", "https://example.org/dav/", True),
    ],
)
def test_the_password_goes_only_within_the_scope(
    named: str, start: str, url: str, admitted: bool
) -> None:
    assert CredentialScope(named, start).admits(url) is admitted


async def test_a_redirect_to_another_host_is_not_followed() -> None:
    with ScriptedServer({}) as elsewhere:
        to_elsewhere = Reply(301, headers={"Location": f"{elsewhere.url}/dav/?x=1"})
        with (
            ScriptedServer({"/.well-known/caldav": to_elsewhere}) as server,
            pytest.raises(ConfirmServerError) as raised,
        ):
            await discover(server.url + "/.well-known/caldav", "ana", "secret")
        assert raised.value.code == "confirm_server"
        assert raised.value.target == f"{elsewhere.url}/dav/"
        assert elsewhere.seen == []


@pytest.mark.parametrize("step", ["principal", "home set"])
async def test_an_href_to_another_host_is_not_followed(step: str) -> None:
    with ScriptedServer({}) as elsewhere:
        replies = {
            "/": principal_at(f"{elsewhere.url}/p/" if step == "principal" else "/p/"),
            "/p/": home_set_at("/p/", f"{elsewhere.url}/home/"),
        }
        with ScriptedServer(replies) as server:
            with pytest.raises(ConfirmServerError) as raised:
                await discover(server.url + "/", "ana", "secret")
            assert all(seen.had_credentials for seen in server.seen)
        assert raised.value.target.startswith(elsewhere.url)
        assert elsewhere.seen == []


async def test_once_confirmed_the_other_host_is_a_start_of_its_own(
    radicale: RadicaleServer,
) -> None:
    radicale.create_collection("confirmed")
    to_radicale = Reply(302, headers={"Location": radicale.url + "/"})
    with (
        ScriptedServer({"/.well-known/caldav": to_radicale}) as server,
        pytest.raises(ConfirmServerError) as raised,
    ):
        await discover(server.url + "/.well-known/caldav", radicale.username, radicale.password)

    found = await discover(raised.value.target, radicale.username, radicale.password)
    assert radicale.collection_path("confirmed") in {c.path for c in found.calendars}


async def test_what_the_server_says_of_each_calendar() -> None:
    read_only = "<D:current-user-privilege-set><D:privilege><D:read/></D:privilege>" \
        "</D:current-user-privilege-set>"
    writable = "<D:current-user-privilege-set><D:privilege><D:read/></D:privilege>" \
        "<D:privilege><D:write-content/></D:privilege></D:current-user-privilege-set>"
    calendar = "<D:resourcetype><D:collection/><C:calendar/></D:resourcetype>"
    tasks = '<C:supported-calendar-component-set><C:comp name="VTODO"/>' \
        "</C:supported-calendar-component-set>"
    listing = multistatus(
        ("/home/", "<D:resourcetype><D:collection/></D:resourcetype>"),
        ("/home/shared/", f"{calendar}<D:displayname>Team\u202e room\u0085</D:displayname>"
                          f"<A:calendar-color>#12ab34ff</A:calendar-color>{read_only}"),
        ("/home/tasks", f"{calendar}<D:displayname>  </D:displayname>{tasks}{writable}"),
        ("/home/caf%C3%A9/", f"{calendar}<A:calendar-color>red</A:calendar-color>"),
        ("/home/inbox/", "<D:resourcetype><D:collection/><C:schedule-inbox/></D:resourcetype>"),
        # not members of the home: never offered as the account's calendars
        ("/elsewhere/cal/", calendar),
        ("/home/../elsewhere/", calendar),
    )
    replies = {"/": principal_at("/p/"), "/p/": home_set_at("/p/", "/home"), "/home/": listing}
    with ScriptedServer(replies) as server:
        found = await discover(server.url + "/", "ana", "secret")

    assert found.account_url == server.url + "/home/"
    assert found.principal_url == server.url + "/p/"
    shared, tasks_calendar, cafe = found.calendars
    assert (shared.path, shared.display_name, shared.colour) == (
        "/home/shared/", "Team room", "#12AB34FF"
    )
    assert (shared.writable, shared.components, shared.takes_events) == (False, None, True)
    assert (tasks_calendar.path, tasks_calendar.display_name) == ("/home/tasks/", "tasks")
    assert tasks_calendar.url == server.url + "/home/tasks/"
    assert (tasks_calendar.writable, tasks_calendar.takes_events) == (True, False)
    assert (cafe.display_name, cafe.colour, cafe.writable) == ("café", None, None)
