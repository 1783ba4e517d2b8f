"""A full disk under the embedded SQLite database: /readyz fails naming it, and the API
answers 503 with Retry-After and `database_full` instead of a 500; once space is back,
both recover without a restart."""

from __future__ import annotations

import contextlib
import errno
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.client import ApiClient
from tests.api.helpers import MERCHANT, booking_body
from tests.dbs import unavailable

FILESYSTEM_SIZE = "8m"


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """An SQLite database alone on a small filesystem of its own."""
    mounted = tmp_path / "small"
    mounted.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", f"size={FILESYSTEM_SIZE}", "tmpfs", str(mounted)]
    if subprocess.run(mount, capture_output=True, check=False).returncode != 0:
        unavailable("cannot mount a small filesystem here (needs root)")
    try:
        yield f"sqlite:///{mounted / 'syncd.db'}"
    finally:
        subprocess.run(["umount", "-l", str(mounted)], check=False)


def fill(directory: Path) -> Path:
    """Take every free byte of `directory`'s filesystem; the file that holds them."""
    filler = directory / "filler"
    with filler.open("wb", buffering=0) as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 4096)
    assert filler.stat().st_size > 0
    return filler


def still_full(directory: Path) -> bool:
    try:
        (directory / "probe").write_bytes(b"\0" * 4096)
    except OSError as error:
        return error.errno == errno.ENOSPC
    return False


def test_a_full_disk_is_an_outage_told_as_such_and_recovered_from(
    shop: ApiClient, database_url: str
) -> None:
    assert shop.get("/readyz").status_code == 200
    directory = Path(database_url.removeprefix("sqlite:///")).parent
    filler = fill(directory)
    assert still_full(directory)

    ready = shop.get("/readyz")
    assert ready.status_code == 503, ready.text
    assert ready.json()["failing"] == ["database"]
    assert ready.json()["checks"]["database"]["cause"] == "database_full"

    refused = shop.put(f"{MERCHANT}/bookings/b1", json=booking_body())
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "database_full"
    assert int(refused.headers["Retry-After"]) > 0

    filler.unlink()
    assert shop.get("/readyz").status_code == 200
    assert shop.put(f"{MERCHANT}/bookings/b1", json=booking_body()).status_code == 201
    assert shop.get(f"{MERCHANT}/bookings/b1").status_code == 200
