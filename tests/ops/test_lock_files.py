"""The lock files pin, with hashes, every dependency pyproject.toml asks for.

requirements/dev.lock is what `make run` and `make test` install; requirements/runtime.lock is
the production image's. A dependency added to pyproject.toml without `make lock` fails here,
before an install with `--require-hashes` would fail on a fresh machine.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")
NOT_IN_PRODUCTION = ("radicale", "xandikos", "pytest", "mypy", "aiosmtpd", "playwright")


def _pins(lock: str) -> dict[str, tuple[str, int]]:
    """Each pinned package's version and how many hashes vouch for it."""
    pins: dict[str, tuple[str, int]] = {}
    name = ""
    for line in (ROOT / "requirements" / lock).read_text().splitlines():
        found = PIN.match(line)
        if found:
            name = canonicalize_name(found[1])
            pins[name] = (found[2], 0)
        elif line.strip().startswith("--hash=sha256:") and name:
            version, hashes = pins[name]
            pins[name] = (version, hashes + 1)
    return pins


def _asked_for(*extras: str) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


@pytest.mark.parametrize(
    ("lock", "extras"),
    [("dev.lock", ("embedded", "test")), ("runtime.lock", ())],
)
def test_every_requirement_is_pinned_within_its_range(lock: str, extras: tuple[str, ...]) -> None:
    pins = _pins(lock)
    unpinned = []
    for requirement in _asked_for(*extras):
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        pinned = pins.get(canonicalize_name(requirement.name))
        if pinned is None or not requirement.specifier.contains(pinned[0], prereleases=True):
            unpinned.append(str(requirement))
    assert unpinned == [], "run `make lock` and commit requirements/"


@pytest.mark.parametrize("lock", ["dev.lock", "runtime.lock"])
def test_every_pin_carries_a_hash(lock: str) -> None:
    pins = _pins(lock)
    assert pins
    assert [name for name, (_, hashes) in pins.items() if hashes == 0] == []


def test_production_pins_the_development_versions_without_the_embedded_server_or_tests() -> None:
    runtime, dev = _pins("runtime.lock"), _pins("dev.lock")
    assert [name for name in NOT_IN_PRODUCTION if name in runtime] == []
    differing = {name: (v, dev.get(name, ("absent",))[0]) for name, (v, _) in runtime.items()
                 if dev.get(name, ("absent",))[0] != v}
    assert differing == {}
