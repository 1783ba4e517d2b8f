"""The [reconcile.graph] table: documented, validated, overridable from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.m365 import PUSH_FEED
from connectors.push import Endpoints
from syncd.config import load_config
from syncd.config.push import PushSettings
from syncd.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_every_key_is_in_the_example_configuration() -> None:
    text = (ROOT / "config" / "syncd.example.toml").read_text()
    section = text.split("\n[reconcile.graph]\n", 1)[1].split("\n[", 1)[0]
    for key in PushSettings.model_fields:
        assert f"\n{key} =" in section or f"\n# {key} =" in section, f"{key} is not documented"
    example = load_config(ROOT / "config" / "syncd.example.toml", environ={})
    assert example.reconcile.push.public_url is None


def test_the_public_url_comes_from_the_environment() -> None:
    environ = {"SYNCD_RECONCILE__GRAPH__PUBLIC_URL": "https://syncd.example.com/"}
    push = load_config(None, environ=environ).reconcile.push
    assert push.endpoints("m365", PUSH_FEED.paths) == Endpoints(
        "https://syncd.example.com/push/m365/notifications",
        "https://syncd.example.com/push/m365/lifecycle",
    )


def test_without_a_public_url_there_are_no_endpoints() -> None:
    assert PushSettings().endpoints("m365", PUSH_FEED.paths) is None


@pytest.mark.parametrize(
    "url",
    ["http://syncd.example.com", "ftp://x", "https://user:pw@syncd.example.com",
     "https://syncd.example.com/?a=b", "https://"],
)
def test_a_url_graph_cannot_use_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigError, match=r"reconcile\.graph\.public_url"):
        load_config(None, environ={"SYNCD_RECONCILE__GRAPH__PUBLIC_URL": url})


def test_loopback_http_is_allowed_for_a_local_proxy_or_tests() -> None:
    push = PushSettings(public_url="http://127.0.0.1:8080")
    endpoints = push.endpoints("m365", PUSH_FEED.paths)
    assert endpoints is not None
    assert endpoints.notifications == "http://127.0.0.1:8080/push/m365/notifications"


def test_renewal_must_fall_within_the_lifetime() -> None:
    with pytest.raises(ConfigError, match=r"reconcile\.graph"):
        load_config(None, environ={"SYNCD_RECONCILE__GRAPH__SUBSCRIPTION_MINUTES": "60",
                                   "SYNCD_RECONCILE__GRAPH__RENEW_BEFORE_MINUTES": "60"})
