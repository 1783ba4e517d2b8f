"""What one API operation takes and answers, told beside its route for the OpenAPI document.

Each routes_*.py lists an Operation for each method of each of its routes;
syncd.api.openapi builds the document from them and the pydantic models they
name, so the models that validate a request are the ones the document shows.
The refusals every operation shares are added there: 401 (no key), 503 (an
outage), 404 for a path naming nothing, 422 for a bad query or body, and 400,
413 and 415 for a body that cannot be read; `refusals` holds the others (409).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

Method = Literal["get", "put", "post", "delete"]


@dataclass(frozen=True)
class Link:
    """An OpenAPI link: the answer of one operation gives the parameters of another.

    `parameters` maps the target's parameter names to runtime expressions such as
    "$request.path.merchant" or "$response.body#/key".
    """

    name: str
    operation_id: str
    parameters: dict[str, str]


@dataclass(frozen=True)
class Operation:
    method: Method
    path: str  # under /api/v1, as the route is written ("{conflict_id:int}" for an integer)
    operation_id: str
    summary: str
    answer: type[BaseModel] | None  # None: no body (204)
    status: int = 200
    upsert: bool = False  # one that creates answers 201, one that finds it made 200
    created_answer: type[BaseModel] | None = None  # the 201's, where it differs from `answer`
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    refusals: tuple[int, ...] = ()  # beyond those the document adds for every operation
    links: tuple[Link, ...] = ()
    description: str = ""
