"""A PostgreSQL server of a test's own, which it may restart and stop at will.

The machine's shared cluster serves every other test, so faults are played on a
private one: initdb into a fresh directory owned by the `postgres` user (the
server refuses to run as root), on a free port, trust authentication.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.dbs import unavailable
from tests.servers import free_port


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


class PrivatePostgres:
    def __init__(self) -> None:
        bin_dir = _binaries()
        if bin_dir is None or os.geteuid() != 0:
            unavailable("a private PostgreSQL needs its binaries and root (to run as postgres)")
        self.bin_dir, self.port = bin_dir, free_port()
        self.root = Path(tempfile.mkdtemp(prefix="syncd-pg-"))
        self.data = self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def __enter__(self) -> PrivatePostgres:
        user = pwd.getpwnam("postgres")
        os.chown(self.root, user.pw_uid, user.pw_gid)
        self._as_postgres("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._as_postgres("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root}"
            " -c fsync=off -c max_connections=200"  # stops are clean: the page cache survives
        )
        log = str(self.root / "server.log")
        self._as_postgres("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self._as_postgres("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def _as_postgres(self, tool: str, *args: str, check: bool = True) -> None:
        command = ["runuser", "-u", "postgres", "--", str(self.bin_dir / tool), *args]
        subprocess.run(command, check=check, capture_output=True, cwd=self.root)
