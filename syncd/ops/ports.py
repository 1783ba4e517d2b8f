"""Who listens on a local TCP port (Linux /proc), to say so when the port is taken."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

_LISTEN = "0A"


def listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == _LISTEN:
                    inodes.add(fields[9])
    return inodes


def listener_pid(port: int) -> int | None:
    """The process listening on 127.0.0.1:`port`, when this system tells (else None)."""
    sockets = {f"socket:[{inode}]" for inode in listening_inodes(port)}
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in sockets:
                    return int(entry.name)
    return None


def command_line(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()
