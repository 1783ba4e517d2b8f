"""Radicale as the embedded child of `syncd run`, ending when its parent ends.

`python -m syncd.embedded_child USERS USERNAME PASSWORD_FILE --config FILE`
writes Radicale's users file (the password's sha512-crypt hash, which Radicale
checks; this process is the one that needs the `embedded` extra, so the
hashing library is imported here), then runs Radicale with a watchdog on
stdin: the parent holds the only write end of that pipe, so when the parent is
gone, by any signal including SIGKILL, the kernel closes it, the read ends,
and Radicale is stopped as by SIGTERM. A pipe works on every platform, where a
parent-death signal (prctl) is Linux's alone.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
import threading
from pathlib import Path

from passlib.hash import sha512_crypt

from syncd.private_files import write_private

STDIN = 0
SHA512_ROUNDS = 5000


def _stop_when_parent_is_gone() -> None:
    # The raw descriptor, not sys.stdin: a daemon thread blocked in a buffered read holds
    # the buffer's lock, and the interpreter aborts on it when it shuts down.
    while os.read(STDIN, 1024):  # b"" at end of file: the parent closed it, or died
        pass
    os.kill(os.getpid(), signal.SIGTERM)


def write_users_file(users: Path, username: str, password_file: Path) -> None:
    # The password is 192 random bits: a salted hash at the usual rounds stands against any
    # guessing, and keeps each of Radicale's Basic-auth checks cheap.
    password = password_file.read_text(encoding="utf-8").strip()
    hashed = sha512_crypt.using(rounds=SHA512_ROUNDS).hash(password)
    write_private(users, f"{username}:{hashed}\n".encode())


def main() -> None:
    threading.Thread(target=_stop_when_parent_is_gone, name="parent-watch", daemon=True).start()
    users, username, password_file, *radicale_arguments = sys.argv[1:]
    write_users_file(Path(users), username, Path(password_file))
    sys.argv = ["radicale", *radicale_arguments]
    runpy.run_module("radicale", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
