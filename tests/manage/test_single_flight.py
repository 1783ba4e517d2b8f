"""SingleFlight: callers asking for the same work while it runs share one run of it."""

from __future__ import annotations

import asyncio
import gc

import pytest

from syncd.manage.single_flight import SingleFlight


def test_callers_at_the_same_time_share_one_run_and_later_ones_start_another() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    runs = 0

    async def work() -> int:
        nonlocal runs
        runs += 1
        await asyncio.sleep(0.05)
        return runs

    async def scenario() -> tuple[list[int], int, int]:
        together = await asyncio.gather(*(flights.run("k", work) for _ in range(5)))
        other = await flights.run("other", work)
        return together, other, await flights.run("k", work)

    together, other, again = asyncio.run(scenario())
    assert together == [1] * 5
    assert (other, again) == (2, 3)
    assert flights.in_flight() == 0


def test_a_caller_that_gives_up_leaves_the_run_to_the_others() -> None:
    flights: SingleFlight[str, str] = SingleFlight()

    async def work() -> str:
        await asyncio.sleep(0.1)
        return "read"

    async def scenario() -> str:
        impatient = asyncio.ensure_future(flights.run("k", work))
        patient = asyncio.ensure_future(flights.run("k", work))
        await asyncio.sleep(0.01)
        impatient.cancel()
        return await patient

    assert asyncio.run(scenario()) == "read"


def test_a_failure_reaches_every_caller_and_is_not_kept() -> None:
    flights: SingleFlight[str, str] = SingleFlight()
    calls = 0

    async def work() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        if calls == 1:
            raise ConnectionError("calendar unreachable")
        return "read"

    async def scenario() -> list[object]:
        return await asyncio.gather(*(flights.run("k", work) for _ in range(3)),
                                    return_exceptions=True)

    results = asyncio.run(scenario())
    assert [type(result) for result in results] == [ConnectionError] * 3
    assert asyncio.run(flights.run("k", work)) == "read"
    assert calls == 2


def test_a_run_whose_callers_all_gave_up_fails_quietly(caplog: pytest.LogCaptureFixture) -> None:
    flights: SingleFlight[str, str] = SingleFlight()

    async def work() -> str:
        await asyncio.sleep(0.02)
        raise ConnectionError("calendar unreachable")

    async def scenario() -> None:
        caller = asyncio.ensure_future(flights.run("k", work))
        await asyncio.sleep(0.005)
        caller.cancel()
        await asyncio.sleep(0.05)  # the run ends with nobody waiting

    asyncio.run(scenario())
    gc.collect()  # an exception nobody retrieved is reported when its task is collected
    assert flights.in_flight() == 0
    assert "never retrieved" not in caplog.text
