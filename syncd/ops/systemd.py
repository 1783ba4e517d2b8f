"""Telling systemd how the service is doing (sd_notify), for `Type=notify` units.

Without NOTIFY_SOCKET in the environment (not started by systemd) nothing is sent.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable

log = logging.getLogger("syncd")
POLL_SECONDS = 0.05


def notify(state: str) -> bool:
    """Send `state` ("READY=1", "STOPPING=1", ...) to systemd; False if not under systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
    except OSError as error:
        log.warning("could not notify systemd: %s", error.strerror)
        return False
    return True


async def notify_when_ready(conditions: list[Callable[[], bool]], stop: asyncio.Event) -> None:
    """READY=1 once every condition holds (the web server listens, the worker went round)."""
    while not all(condition() for condition in conditions):
        if stop.is_set():
            return
        await asyncio.sleep(POLL_SECONDS)
    notify("READY=1\nSTATUS=serving")
    log.info("ready")
