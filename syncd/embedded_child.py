"""Radicale as the embedded child of `syncd run`, ending when its parent ends.

`python -m syncd.embedded_child --config FILE` runs Radicale with a watchdog on
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

STDIN = 0


def _stop_when_parent_is_gone() -> None:
    # The raw descriptor, not sys.stdin: a daemon thread blocked in a buffered read holds
    # the buffer's lock, and the interpreter aborts on it when it shuts down.
    while os.read(STDIN, 1024):  # b"" at end of file: the parent closed it, or died
        pass
    os.kill(os.getpid(), signal.SIGTERM)


def main() -> None:
    threading.Thread(target=_stop_when_parent_is_gone, name="parent-watch", daemon=True).start()
    sys.argv = ["radicale", *sys.argv[1:]]
    runpy.run_module("radicale", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
