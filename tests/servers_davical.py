"""DAViCal (Debian `davical`, `php-cgi`, `php-pgsql`) for tests.

PHP's built-in server runs DAViCal's htdocs on a free 127.0.0.1 port. DAViCal
reads its configuration only from `/etc/davical/<SERVER_NAME>-conf.php`
(127.0.0.1 under `php -S`), so that one file, tests/davical-conf.php, names
the database from the environment: each server gets a database of its own on
the local PostgreSQL, copied from a template that DAViCal's create-database.sh
builds once per machine (it takes seconds; a copy takes a fraction of one).
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

from tests.servers import DavServer

HTDOCS = Path("/usr/share/davical/htdocs")
CREATE_DATABASE = Path("/usr/share/davical/dba/create-database.sh")
CONFIG_FILE = Path("/etc/davical/127.0.0.1-conf.php")
OUR_CONFIG = Path(__file__).with_name("davical-conf.php")
TEMPLATE = "syncd_davical_template"
POSTGRES = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
_TEMPLATE_LOCK = Path("/tmp/syncd-davical-template.lock")
# PHP's server handles one request at a time unless told to fork workers.
_PHP_WORKERS = "4"


def davical_missing() -> str | None:
    """Why DAViCal cannot run here, or None when it can."""
    if not HTDOCS.is_dir() or not CREATE_DATABASE.exists():
        return "DAViCal is not installed (apt-get install davical php-cgi php-pgsql)"
    if shutil.which("php") is None or shutil.which("psql") is None:
        return "php or psql is not installed"
    if not _config_in_place() and not os.access(CONFIG_FILE.parent, os.W_OK):
        return f"{CONFIG_FILE} is not syncd's and cannot be written"
    try:
        psycopg.connect(**POSTGRES, dbname="postgres", connect_timeout=5).close()
    except psycopg.Error as error:
        return f"no PostgreSQL for DAViCal at 127.0.0.1:5432: {error}"
    return None


def _config_in_place() -> bool:
    return CONFIG_FILE.exists() and CONFIG_FILE.read_bytes() == OUR_CONFIG.read_bytes()


class DavicalServer(DavServer):
    """DAViCal with one user: `/caldav.php/<user>/<name>/` collections.

    It accepts a second object with an existing UID under another href.
    """

    def _prepare(self) -> None:
        if not _config_in_place():
            shutil.copyfile(OUR_CONFIG, CONFIG_FILE)
        _ensure_template()
        self.database = f"syncd_davical_{secrets.token_hex(6)}"
        _admin(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(self.database), sql.Identifier(TEMPLATE)))
        self._add_user()

    def _add_user(self) -> None:
        with psycopg.connect(**POSTGRES, dbname=self.database, autocommit=True) as db:
            db.execute(
                "INSERT INTO usr (active, email_ok, updated, username, password, fullname, email)"
                " VALUES (TRUE, current_date, current_date, %s, %s, %s, %s)",
                (self.username, "**" + self.password, self.username, "user@example.invalid"),
            )
            db.execute(
                "INSERT INTO principal (type_id, user_no, displayname, default_privileges)"
                " VALUES (1, currval('usr_user_no_seq'), %s, 0::BIT(24))",
                (self.username,),
            )

    def _environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "SYNCD_DAVICAL_DB": self.database,
            "PHP_CLI_SERVER_WORKERS": _PHP_WORKERS,
        }

    def _command(self) -> list[str]:
        return ["php", "-S", f"127.0.0.1:{self.port}", "-t", str(HTDOCS)]

    def collection_path(self, name: str) -> str:
        return f"/caldav.php/{quote(self.username)}/{quote(name)}/"

    def discard(self) -> None:
        _admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(self.database)))


def _admin(statement: sql.Composed) -> None:
    with psycopg.connect(**POSTGRES, dbname="postgres", autocommit=True) as db:
        db.execute(statement)


def _ensure_template() -> None:
    """DAViCal's schema, built once per machine; a file lock keeps parallel runs apart."""
    with _TEMPLATE_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _template_exists():
            _build_template()


def _template_exists() -> bool:
    with psycopg.connect(**POSTGRES, dbname="postgres") as db:
        found = db.execute("SELECT 1 FROM pg_database WHERE datname = %s", (TEMPLATE,))
        return found.fetchone() is not None


def _build_template() -> None:
    building = TEMPLATE + "_building"
    _admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(building)))
    env = {**os.environ, "PGHOST": "127.0.0.1", "PGPORT": "5432", "PGUSER": "postgres"}
    subprocess.run(
        ["sh", str(CREATE_DATABASE), building, secrets.token_urlsafe(12)],
        env=env, check=True, capture_output=True, cwd="/tmp",
    )
    # Renamed when complete: a half-built template is never copied.
    _admin(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
        sql.Identifier(building), sql.Identifier(TEMPLATE)))
