"""`syncd conflicts list|show|resolve`: the conflicts reconciliation found, from the shell."""

from __future__ import annotations

import argparse
import json
from typing import Any

from sqlalchemy.orm import Session

from syncd.errors import ConfigError, Conflict, InputError, NotFound
from syncd.reconcile.resolve import Choice, StatusFilter, conflict_page, conflict_view, resolve
from syncd.reconcile.views import conflict_json, conflict_line
from syncd.runtime import Runtime
from syncd.store import catalog, schema
from syncd.store.session import SyncdSession
from syncd.timeutil import utcnow

SHOWN = 500


def add_commands(commands: Any) -> None:
    """Add `conflicts list`, `conflicts show` and `conflicts resolve` to the subcommands."""
    conflicts = commands.add_parser("conflicts", help="conflicts between bookings and calendars")
    actions = conflicts.add_subparsers(dest="conflicts", required=True)
    listing = actions.add_parser("list", help="conflicts, oldest first")
    listing.add_argument("--merchant", help="only this merchant's (its key)")
    listing.add_argument("--status", choices=("open", "resolved", "all"), default="open")
    show = actions.add_parser("show", help="one conflict with both sides, as JSON")
    show.add_argument("conflict", type=int)
    settle = actions.add_parser("resolve", help="apply a rule to a conflict and close it")
    settle.add_argument("conflict", type=int)
    settle.add_argument("rule", choices=("booking_wins", "calendar_wins", "dismiss"))


def run(runtime: Runtime, args: argparse.Namespace) -> int:
    if not schema.is_current(runtime.engine):
        raise ConfigError(["database.url: schema is not current; run `syncd db upgrade`"])
    with runtime.sessions.begin() as session:
        if args.conflicts == "list":
            lines = list_lines(session, args.merchant, args.status)
        elif args.conflicts == "show":
            lines = [json.dumps(conflict_json(_view(session, args.conflict)), indent=2)]
        else:
            lines = [_resolve(session, args.conflict, args.rule)]
    print("\n".join(lines))
    return 0


def list_lines(session: Session, merchant_key: str | None, status: StatusFilter) -> list[str]:
    merchant = None
    if merchant_key is not None:
        try:
            merchant = catalog.get_merchant(session, merchant_key)
        except NotFound:
            raise InputError({"merchant": f"no merchant {merchant_key!r}"}) from None
    views, more = conflict_page(session, merchant, status, 0, SHOWN)
    lines = [f"conflicts ({status}): {len(views)}", *(conflict_line(v) for v in views)]
    if more is not None:
        lines.append(f"  (only the first {SHOWN} are shown)")
    return lines


def _view(session: Session, conflict_id: int) -> Any:
    try:
        return conflict_view(session, conflict_id, None)
    except NotFound:
        raise InputError({"conflict": f"no conflict has id {conflict_id}"}) from None


def _resolve(session: SyncdSession, conflict_id: int, rule: Choice) -> str:
    _view(session, conflict_id)
    try:
        view = resolve(session, conflict_id, None, rule, utcnow())
    except Conflict as error:
        raise InputError({"conflict": str(error)}) from None
    return f"conflict {conflict_id} resolved: {view.conflict.resolution}"
