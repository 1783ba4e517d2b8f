"""What each `syncd` subcommand does, once the configuration has loaded."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from connectors import build_connector
from connectors.caldav import CalDAVConnector
from syncd import demo
from syncd.config import Settings, settings_problems
from syncd.embedded import EmbeddedRadicale, ensure_generated_secrets
from syncd.errors import ConfigError
from syncd.importer import import_bookings, read_bookings
from syncd.ops.online import connector_problems as online_connector_problems
from syncd.ops.stored_bindings import binding_problems, twice_bound
from syncd.runtime import Runtime
from syncd.serve import serve, stop_on_signals
from syncd.store import accounts, leases, schema
from syncd.store.db import create_db_engine, is_sqlite
from syncd.store.outage import Backoff, outage_or_raise
from syncd.store.sealing import Sealer, new_key
from syncd.webhooks import cli as webhooks_cli
from syncd.wiring import BACKGROUND_SERVICES

log = logging.getLogger("syncd")
ROTATE_BATCH = 200


def check(settings: Settings, *, online: bool) -> int:
    problems = settings_problems(settings) + _connector_problems(settings)
    if online:
        database = _database_problems(settings.database.url)
        problems += database or (
            binding_problems(settings.database.url, settings.connectors)
            + twice_bound(settings.database.url, settings.connectors)
        )
        problems += online_connector_problems(settings.connectors)
    if problems:
        raise ConfigError(problems)
    print("configuration ok")
    if settings.mail.allow_plaintext_login and settings.mail.security == "none":
        print("warning: mail.allow_plaintext_login: the SMTP password is sent in clear")
    if online:
        print("\n".join(webhooks_cli.check_lines(settings.database.url)))
    return 0


def _connector_problems(settings: Settings) -> list[str]:
    problems = []
    for name, table in settings.connectors.items():
        try:
            build_connector(table)
        except ConfigError as error:
            problems += [f"connectors.{name}: {p}" for p in error.problems]
    return problems


def _database_problems(url: str) -> list[str]:
    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        if not schema.is_current(engine):
            return ["database.url: schema is not current; run `syncd db upgrade`"]
    except SQLAlchemyError as error:
        return [f"database.url: cannot connect ({type(error).__name__})"]
    finally:
        engine.dispose()
    return []


def keys_generate() -> int:
    print(new_key())
    return 0


def keys_rotate(runtime: Runtime) -> int:
    """Every stored credential sealed again under the first key, a batch per transaction;
    one that no key opens is named (its merchant id and account key) and left alone."""
    _require_current_schema(runtime)
    sealer = Sealer(runtime.settings.keys.encryption_keys())
    rotation = accounts.Rotation()
    while True:
        with runtime.sessions.begin() as session:
            if not accounts.rotate_credentials(session, sealer, rotation, ROTATE_BATCH):
                break
    print(f"credentials re-encrypted with the first key: {rotation.rotated}")
    for name in rotation.unopenable:
        print(f"account {name}: no key opens its credential; left as it is", file=sys.stderr)
    return 1 if rotation.unopenable else 0


def db_upgrade(runtime: Runtime) -> int:
    schema.upgrade(runtime.engine)
    print(f"database at revision {schema.current_revision(runtime.engine)}")
    return 0


def import_file(runtime: Runtime, path: Path, *, progress: bool) -> int:
    bookings = read_bookings(path)
    _require_current_schema(runtime)
    created = import_bookings(runtime, bookings, progress)
    print(f"imported {len(bookings)} bookings ({created} new, {len(bookings) - created} updated)")
    return 0


def _require_current_schema(runtime: Runtime) -> None:
    if is_sqlite(runtime.engine):
        schema.upgrade(runtime.engine)  # the embedded default migrates itself
    elif not schema.is_current(runtime.engine):
        raise ConfigError(["database.url: schema is not current; run `syncd db upgrade`"])


async def serve_command(runtime: Runtime, mode: str) -> int:
    settings = runtime.settings
    stop = asyncio.Event()
    stop_on_signals(stop)
    if not await _when_database_answers(lambda: _prepare_database(runtime, mode), stop):
        return 0  # stopped while waiting for the database
    ensure_generated_secrets(settings)
    radicale = EmbeddedRadicale(settings.embedded) if settings.embedded.radicale else None
    try:
        if radicale is not None:
            radicale.start()
            await _seed_demo(runtime, radicale)
        await serve(
            runtime,
            web=mode in ("run", "web"),
            worker=mode in ("run", "worker"),
            stop=stop,
            services=BACKGROUND_SERVICES,
        )
    finally:
        if radicale is not None:
            radicale.stop()
    return 0


def _prepare_database(runtime: Runtime, mode: str) -> None:
    _require_current_schema(runtime)
    if is_sqlite(runtime.engine) and mode != "web":
        # One process owns an SQLite database: leases left by a killed run are stale.
        with runtime.sessions.begin() as session:
            leases.release_all_leases(session)


async def _when_database_answers(step: Callable[[], None], stop: asyncio.Event) -> bool:
    """Run `step`, again and again while the database is out: a process started
    before its database (a host booting, a failover) waits for it instead of exiting.
    False when `stop` was set first."""
    backoff = Backoff("starting")
    while not stop.is_set():
        try:
            await asyncio.to_thread(step)
        except Exception as error:
            await backoff.wait(outage_or_raise(error), stop)
        else:
            backoff.recovered()
            return True
    return False


async def _seed_demo(runtime: Runtime, radicale: EmbeddedRadicale) -> None:
    settings = runtime.settings
    if not settings.embedded.seed_demo:
        return
    name, table = next((n, t) for n, t in settings.connectors.items() if t.get("kind") == "caldav")
    connector = build_connector(table)
    if not isinstance(connector, CalDAVConnector):
        raise ConfigError([f"connectors.{name}: the demo needs a CalDAV connector"])
    await demo.prepare(runtime, connector, name, settings.embedded.username)
    demo.print_instructions(
        f"http://{settings.api.host}:{settings.api.port}",
        settings.api.key_file or "",
        radicale.url,
        settings.embedded.username,
        str(radicale.password_file),
    )
