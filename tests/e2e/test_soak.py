"""A short soak in the suite: `syncd run` under steady traffic (tests/e2e/soak.py says what
must hold). SYNCD_SOAK_SECONDS sets its length (default 20); bench/soak.py runs a long one."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from syncd.runtime import Runtime
from tests.e2e.soak import assert_calendars_match, run_soak, seed_shop, soak_setup
from tests.servers import RadicaleServer

SOAK_SECONDS = float(os.environ.get("SYNCD_SOAK_SECONDS", "20"))

pytestmark = [pytest.mark.slow, pytest.mark.timeout(SOAK_SECONDS + 300)]


def test_daemon_holds_steady_under_load(
    tmp_path: Path, dav_server: RadicaleServer, runtime_for: Callable[[Path], Runtime]
) -> None:
    setup = soak_setup(tmp_path, dav_server)
    runtime = runtime_for(setup.config)
    seed_shop(runtime, dav_server)
    report = run_soak(setup, runtime, SOAK_SECONDS)
    report.assert_held()
    assert_calendars_match(runtime, dav_server)
