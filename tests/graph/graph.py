"""Graph's request pipeline: route, authorize, limit, fault, delay, handle.

A `Call` is one Graph request relative to /v1.0 — from HTTP or from a $batch item
(which inherits the batch's token). `Pipeline.execute` runs the same steps for both, so
every batch item is limited, faulted and delayed on its own, as Graph does.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.graph.auth import Principal
from tests.graph.errors import GraphError, Reply, bad_request, error_reply
from tests.graph.eventjson import View
from tests.graph.limits import throttled, unavailable
from tests.graph.odata import parse_expand, parse_select
from tests.graph.timezones import resolve_zone

if TYPE_CHECKING:
    from tests.graph.state import State
    from tests.graph.store import Mailbox

Handler = Callable[["Context"], Awaitable[Reply]]
_PREFER_ITEM = re.compile(r'\s*([\w.-]+)\s*(?:=\s*("(?:[^"]*)"|[^,;]*))?\s*(?:,|$)')


@dataclass
class Call:
    method: str
    path: str  # decoded, relative to /v1.0, starting with "/"
    query: dict[str, str]  # names lower-cased
    headers: dict[str, str]  # names lower-cased
    body: bytes
    arrived: float = field(default_factory=time.monotonic)
    principal: Principal | None = None
    is_disconnected: Callable[[], Awaitable[bool]] | None = None

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            raise bad_request(
                "Unable to read JSON request payload. Please ensure Content-Type header is set "
                "and payload is of valid JSON format."
            ) from None

    @property
    def prefer(self) -> dict[str, str]:
        """Prefer header preferences: lower-cased name -> unquoted value."""
        found = {}
        for match in _PREFER_ITEM.finditer(self.headers.get("prefer", "")):
            if match[1]:
                found[match[1].lower()] = (match[2] or "").strip().strip('"')
        return found


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    access: str  # "read", "write" or "none"
    creates: bool = False  # a POST creating an item (subject to drop_after_commit)


def route(
    method: str, template: str, handler: Handler, access: str, *, creates: bool = False
) -> Route:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return Route(method, re.compile(f"^{regex}/?$", re.IGNORECASE), handler, access, creates)


@dataclass
class Context:
    call: Call
    state: State
    params: dict[str, str]
    mailbox: Mailbox | None

    @property
    def user(self) -> Mailbox:
        assert self.mailbox is not None
        return self.mailbox

    @property
    def segments(self) -> list[str]:
        """The path's segments, `/me/...` read as `/users/me/...` (as the routes match it)."""
        found = self.call.path.strip("/").split("/")
        return ["users", *found] if found[0].lower() == "me" else found

    def view(self) -> View:
        prefer = self.call.prefer
        return View(
            zone=prefer.get("outlook.timezone") or None,
            body_type=(prefer.get("outlook.body-content-type") or "").lower() or None,
            select=parse_select(self.call.query.get("$select")),
            expand=parse_expand(self.call.query.get("$expand")),
        )


class Pipeline:
    def __init__(self, state: State, routes: list[Route]) -> None:
        self.state = state
        self.routes = routes

    async def execute(self, call: Call) -> Reply:
        mailbox: Mailbox | None = None
        try:
            found, params = self._match(call)
            mailbox = self._mailbox(params, call.principal)
            self._authorize(call.principal, found.access, mailbox)
            zone = call.prefer.get("outlook.timezone")
            if zone:
                resolve_zone(zone)  # an unknown zone is refused before anything is done
            context = Context(call, self.state, params, mailbox)
            if mailbox is None:
                return await found.handler(context)
            return await self._limited(found, context, mailbox)
        except GraphError as error:
            reply = error_reply(error, call.headers.get("client-request-id"))
            self._after_error(reply, mailbox)
            return reply

    def _match(self, call: Call) -> tuple[Route, dict[str, str]]:
        allowed = False
        path = call.path
        if re.match(r"^/me(/|$)", path, re.IGNORECASE):
            path = "/users" + path  # /me/... is /users/{the signed-in user}/...
        for candidate in self.routes:
            match = candidate.pattern.match(path)
            if match:
                allowed = True
                if candidate.method == call.method:
                    return candidate, match.groupdict()
        if allowed:
            raise GraphError(
                405,
                "Request_BadRequest",
                "Specified HTTP method is not allowed for the request target.",
            )
        segment = call.path.strip("/").split("/")[-1]
        raise bad_request(f"Resource not found for the segment '{segment}'.")

    def _mailbox(self, params: dict[str, str], principal: Principal | None) -> Mailbox | None:
        user = params.get("user")
        if user is None:
            return None
        if user.lower() == "me":
            if principal is None or principal.user is None:
                raise bad_request("/me request is only valid with delegated authentication flow.")
            user = principal.user
        if not self.state.mailboxes_on_demand and self.state.store.find(user) is None:
            raise GraphError(404, "ErrorInvalidUser", f"The requested user '{user}' is invalid.")
        mailbox = self.state.store.resolve(user)
        if principal is not None and principal.tenant not in {None, self._tenant_of(mailbox)}:
            # A token reaches its own tenant's mailboxes only.
            raise GraphError(404, "ErrorInvalidUser", f"The requested user '{user}' is invalid.")
        return mailbox

    def _tenant_of(self, mailbox: Mailbox) -> str:
        return self.state.directory.tenant_of(mailbox.id)

    @staticmethod
    def _authorize(principal: Principal | None, access: str, mailbox: Mailbox | None) -> None:
        if principal is None or access == "none":
            return
        allowed = principal.can_write() if access == "write" else principal.can_read()
        if principal.user is not None and mailbox is not None:
            # A delegated token acts as its user: their own mailbox only.
            allowed = allowed and mailbox.id == principal.user
        if not allowed:
            raise GraphError(
                403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
            )

    async def _limited(self, found: Route, context: Context, box: Mailbox) -> Reply:
        state, call, mailbox = self.state, context.call, box.upn
        retry_after = state.faults.retry_after_seconds
        state.limits.arrive(mailbox, call.arrived)
        state.limits.enter(mailbox, call.principal.client_id if call.principal else "", retry_after)
        try:
            fault = state.faults.pick(box.upn, box.id)
            if fault == "throttle":
                raise throttled("Application is over its MailboxRequestRate limit.", retry_after)
            if fault == "unavailable":
                raise unavailable(retry_after)
            if fault == "timeout":
                await self._hang(call)
                return Reply(drop_connection=True)
            if state.latency_seconds > 0:
                await asyncio.sleep(state.latency_seconds)
            reply = await found.handler(context)
            if found.creates and reply.status == 201 and state.faults.take_drop(box.upn, box.id):
                reply.drop_connection = True
            return reply
        finally:
            state.limits.leave(mailbox)

    async def _hang(self, call: Call) -> None:
        deadline = time.monotonic() + self.state.faults.hang_seconds
        while time.monotonic() < deadline and not self.state.stopping.is_set():
            if call.is_disconnected is not None and await call.is_disconnected():
                return
            await asyncio.sleep(0.05)

    def _after_error(self, reply: Reply, mailbox: Mailbox | None) -> None:
        if reply.status == 429:
            with self.state.stats_lock:
                self.state.stats.throttled += 1
        seconds = reply.headers.get("Retry-After")
        if mailbox is not None and seconds is not None:
            self.state.limits.told_to_wait(mailbox.upn, float(seconds))
