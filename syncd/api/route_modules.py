"""The API's route modules, in the order their routes are mounted and their operations
documented: the app and the OpenAPI document read the one list, so that no route can be
served undocumented or documented unserved."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from starlette.routing import Route

from syncd.api import (
    routes_accounts,
    routes_bookings,
    routes_catalog,
    routes_conflicts,
    routes_connect,
    routes_manage,
    routes_mirrors,
    routes_notify,
    routes_ratings,
    routes_webhooks,
)
from syncd.api.operation import Operation
from syncd.runtime import Runtime


class RouteModule(Protocol):
    """A module of the API: its routes, and the operations they serve."""

    @property
    def OPERATIONS(self) -> Sequence[Operation]: ...  # noqa: N802 - a module constant

    def routes(self, runtime: Runtime) -> list[Route]: ...


ROUTE_MODULES: tuple[RouteModule, ...] = (
    routes_catalog,
    routes_accounts,
    routes_bookings,
    routes_conflicts,
    routes_manage,
    routes_connect,
    routes_mirrors,
    routes_notify,
    routes_ratings,
    routes_webhooks,
)
