"""The HTTPS server: Starlette app, uvicorn in a background thread, dropped connections.

Routes: the OpenID configuration, JWKS, token, authorize and admin consent endpoints
MSAL and a browser need under /{tenant}/ (tests/graph/signin.py), and
Graph under /v1.0/ (with /v1.0/$batch). A Reply with `drop_connection` aborts the TCP
connection instead of answering: uvicorn's h11 protocol is subclassed to remember each
connection's transport by client address, so the handler can find and abort it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from tests.graph.batch import BatchRunner
from tests.graph.entra import TENANT_ALIASES
from tests.graph.errors import AadError, GraphError, Reply, error_reply
from tests.graph.graph import Call, Pipeline
from tests.graph.signin import Redirect, admin_consent, authorize
from tests.graph.state import State
from tests.graph.tls import TlsFiles
from tests.threads import UvicornThread, local_config

ODATA_JSON = (
    "application/json;odata.metadata=minimal;odata.streaming=true;"
    "IEEE754Compatible=false;charset=utf-8"
)
_connections: dict[
    tuple[int, tuple[str, int]], tuple[asyncio.AbstractEventLoop, asyncio.Transport]
] = {}
_connections_lock = threading.Lock()


class TrackingH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, remembering transports so a handler can abort one."""

    def _key(self) -> tuple[int, tuple[str, int]] | None:
        if not self.server or not self.client or self.server[1] is None:
            return None
        return self.server[1], (self.client[0], self.client[1])

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        key = self._key()
        if key is not None:
            with _connections_lock:
                _connections[key] = (asyncio.get_running_loop(), transport)

    def connection_lost(self, exc: Exception | None) -> None:
        key = self._key()
        if key is not None:
            with _connections_lock:
                _connections.pop(key, None)
        super().connection_lost(exc)


def abort_connections(port: int) -> None:
    """Abort every connection to `port`: clients' idle TLS connections would delay shutdown."""
    with _connections_lock:
        found = [entry for key, entry in _connections.items() if key[0] == port]
    for loop, transport in found:
        with contextlib.suppress(RuntimeError):  # the loop may be closed already
            loop.call_soon_threadsafe(transport.abort)


class DroppedResponse(Response):
    """No answer at all: the connection is aborted (as if the network failed)."""

    def __init__(self) -> None:
        super().__init__(status_code=500)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server, client = scope.get("server"), scope.get("client")
        with _connections_lock:
            found = (
                _connections.get((server[1], (client[0], client[1]))) if server and client else None
            )
        if found is None:
            return  # already gone (the client hung up, or the double is stopping)
        found[1].abort()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                while (await receive())["type"] != "http.disconnect":
                    pass


def to_response(reply: Reply, client_request_id: str | None) -> Response:
    if reply.drop_connection:
        return DroppedResponse()
    request_id = client_request_id or "00000000-0000-0000-0000-000000000000"
    headers = {"request-id": request_id, "client-request-id": request_id, **reply.headers}
    if reply.body is None:
        return Response(status_code=reply.status, headers=headers)
    if isinstance(reply.body, str):
        return PlainTextResponse(reply.body, reply.status, headers)
    return Response(json.dumps(reply.body), reply.status, headers, media_type=ODATA_JSON)


def _redirect(answer: Callable[[], Redirect]) -> Response:
    """The browser's answer: a 302 to the app, or Entra's error page (no redirect)."""
    try:
        redirected = answer()
    except AadError as error:
        return JSONResponse(error.body, error.status)
    if redirected.mode == "form_post":
        return HTMLResponse(redirected.form_post())
    return RedirectResponse(redirected.location, status_code=302)


class GraphApp:
    """The Starlette application over a State."""

    def __init__(
        self,
        state: State,
        pipeline: Pipeline,
        on_startup: Callable[[], Awaitable[None]],
        on_shutdown: Callable[[], Awaitable[None]],
    ) -> None:
        self.state, self.pipeline = state, pipeline
        self.batch = BatchRunner(pipeline)
        self._on_startup, self._on_shutdown = on_startup, on_shutdown
        methods = ["GET", "POST", "PATCH", "PUT", "DELETE"]
        self.app = Starlette(
            routes=[
                Route("/{tenant}/v2.0/.well-known/openid-configuration", self.openid_configuration),
                Route("/{tenant}/discovery/v2.0/keys", self.keys),
                Route("/{tenant}/oauth2/v2.0/token", self.token, methods=["POST"]),
                Route("/{tenant}/oauth2/v2.0/authorize", self.authorize),
                Route("/{tenant}/adminconsent", self.admin_consent),
                Route("/{tenant}/v2.0/adminconsent", self.admin_consent),
                Route("/v1.0/{path:path}", self.graph, methods=methods),
            ],
            lifespan=self._lifespan,
        )

    @contextlib.asynccontextmanager
    async def _lifespan(self, _: Starlette) -> AsyncIterator[None]:
        self.state.loop = asyncio.get_running_loop()
        await self._on_startup()
        try:
            yield
        finally:
            await self._on_shutdown()

    async def openid_configuration(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        directory = self.state.directory
        alias = tenant.lower() in TENANT_ALIASES
        if not directory.knows(tenant) and not alias:
            error = AadError(400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found.")
            return JSONResponse(error.body, error.status)
        root = f"{self.state.base_url}/{tenant.lower()}"
        # A multi-tenant authority's issuer is a template: the user's tenant fills it in.
        issuer = f"{self.state.base_url}/{{tenantid}}/v2.0" if alias else f"{root}/v2.0"
        return JSONResponse(
            {
                "token_endpoint": f"{root}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{root}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": issuer,
                "request_uri_parameter_supported": False,
                "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
                "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
                "tenant_region_scope": "EU",
                "cloud_instance_name": "microsoftonline.com",
            }
        )

    async def keys(self, _: Request) -> Response:
        return JSONResponse(self.state.directory.jwks())

    async def authorize(self, request: Request) -> Response:
        query = dict(request.query_params)
        return _redirect(
            lambda: authorize(self.state.directory, request.path_params["tenant"], query)
        )

    async def admin_consent(self, request: Request) -> Response:
        query, v2 = dict(request.query_params), request.url.path.endswith("/v2.0/adminconsent")
        tenant = request.path_params["tenant"]
        return _redirect(lambda: admin_consent(self.state.directory, tenant, query, v2=v2))

    async def token(self, request: Request) -> Response:
        # OAuth 2.0 token requests are application/x-www-form-urlencoded (RFC 6749 4.4.2).
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        with self.state.stats_lock:
            self.state.stats.token_requests += 1
        endpoint = f"{self.state.base_url}/{request.path_params['tenant']}/oauth2/v2.0/token"
        try:
            body = self.state.directory.issue_token(request.path_params["tenant"], form, endpoint)
        except AadError as error:
            return JSONResponse(error.body, error.status)
        return JSONResponse(
            body, headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}
        )

    async def graph(self, request: Request) -> Response:
        self.state.count_request()
        try:
            return await self._graph(request)
        finally:
            self.state.request_answered()

    async def _graph(self, request: Request) -> Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        if len(request.headers.getlist("prefer")) > 1:
            headers["prefer"] = ", ".join(request.headers.getlist("prefer"))
        call = Call(
            request.method,
            "/" + request.path_params["path"],
            {k.lower(): v for k, v in request.query_params.items()},
            headers,
            await request.body(),
            time.monotonic(),
            None,
            request.is_disconnected,
        )
        reply = await self._answer(call)
        # 0: the client got no answer (dropped or hung connection).
        self.state.log(call.method, call.path, 0 if reply.drop_connection else reply.status)
        return to_response(reply, headers.get("client-request-id"))

    async def _answer(self, call: Call) -> Reply:
        try:
            call.principal = self.state.directory.authenticate(call.headers.get("authorization"))
            if call.path.strip("/").lower() == "$batch":
                if call.method != "POST":
                    raise GraphError(
                        405,
                        "Request_BadRequest",
                        "Specified HTTP method is not allowed for the request target.",
                    )
                return await self.batch.run(call)
        except GraphError as error:
            return error_reply(error, call.headers.get("client-request-id"))
        return await self.pipeline.execute(call)


class ServerThread:
    """uvicorn serving `app` over TLS on 127.0.0.1, in a daemon thread; restartable on one port."""

    def __init__(self, app: Any, tls: TlsFiles) -> None:
        self.app, self.tls = app, tls
        self.port = 0
        self._running: UvicornThread | None = None

    def start(self) -> None:
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only then,
        # and without it every response waits ~40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        config = local_config(
            self.app,
            http=TrackingH11Protocol,
            lifespan="on",
            timeout_graceful_shutdown=2,
            ssl_certfile=self.tls.cert_file,
            ssl_keyfile=self.tls.key_file,
        )
        self._running = UvicornThread(config, "the Graph double", sockets=[sock])
        self._running.start(timeout=15)

    def stop(self) -> None:
        if self._running is None:
            return
        self._running.ask_to_stop()
        abort_connections(self.port)
        self._running.stop(timeout=15)
        self._running = None
