"""A long soak: `syncd run` under a steady stream of bookings, reschedules and cancels.

    .venv/bin/python bench/soak.py [--seconds 600]

The same soak as tests/e2e/test_soak.py (which runs a short one in the suite), on a
Radicale server and a SQLite store of its own. Passes when memory at the end is within
20% of what it was after the warm-up (the first minute), nothing is left pending, the
daemon stops cleanly on SIGTERM, and the calendars hold one event per live booking.
Prints the memory at warm-up and at the end, the pending count and PASS or FAIL;
exits 1 on FAIL.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from syncd.config import load_config
from syncd.runtime import Runtime
from syncd.store.schema import upgrade
from syncd.wiring import build_runtime
from tests.e2e.conftest import CALENDARS
from tests.e2e.soak import (
    RSS_GROWTH_ALLOWED,
    SoakReport,
    assert_calendars_match,
    run_soak,
    seed_shop,
    soak_setup,
    warm_up_seconds,
)
from tests.servers import RadicaleServer

MIB = 1024 * 1024


def soak(directory: Path, seconds: float) -> str | None:
    """Run the soak; None when it held, else what failed."""
    with RadicaleServer(directory / "radicale") as server:
        for name in CALENDARS:
            server.create_collection(name)
        setup = soak_setup(directory, server)
        runtime = build_runtime(load_config(setup.config, environ={}))
        try:
            upgrade(runtime.engine)
            seed_shop(runtime, server)
            report = run_soak(setup, runtime, seconds)
            print_report(report, seconds)
            return failure(report, runtime, server)
        finally:
            runtime.close()


def failure(report: SoakReport, runtime: Runtime, server: RadicaleServer) -> str | None:
    try:
        report.assert_held()
        assert_calendars_match(runtime, server)
    except AssertionError as error:
        return str(error) or "the calendars do not match the bookings"
    return None


def print_report(report: SoakReport, seconds: float) -> None:
    warm = "never reached" if report.warm_rss is None else f"{report.warm_rss / MIB:.1f} MiB"
    print(f"soak of {seconds:.0f}s; warm-up after {warm_up_seconds(seconds):.0f}s")
    print(f"RSS at warm-up: {warm}")
    print(f"RSS at the end: {report.final_rss / MIB:.1f} MiB "
          f"(allowed: {RSS_GROWTH_ALLOWED:.0%} of warm-up)")
    print(f"pending after draining: {report.pending}")
    print(f"syncd exit code: {report.exit_code}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        problem = soak(Path(tmp), args.seconds)
    print("PASS" if problem is None else f"FAIL: {problem}")
    sys.exit(0 if problem is None else 1)


if __name__ == "__main__":
    main()
