"""A merchant's template override reaches its own templates, the shared ones and the built-in
ones, never another merchant's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.runtime import Runtime
from syncd.store.schema import upgrade
from syncd.wiring import build_runtime
from tests.notify import shop
from tests.notify.smtp_sink import SmtpSink
from tests.notify.support import (
    SenderThread,
    all_settled,
    mail_settings,
    outbox_rows,
    smtp_mail,
    text_of,
    wait_until,
)

RIVAL = "RIVAL-ONLY: the rival's private offer"


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    root = tmp_path / "templates"
    (root / "rival").mkdir(parents=True)
    (root / "rival" / "offer.txt").write_text(RIVAL)
    (root / "rival" / "confirmation.txt").write_text(RIVAL)
    (root / "signature.txt").write_text("Shared signature")
    (root / shop.MERCHANT).mkdir()
    return root


def _own(templates: Path, include: str) -> None:
    (templates / shop.MERCHANT / "confirmation.txt").write_text(
        '{% extends "base.txt" %}{% block subject %}Booked{% endblock %}'
        "{% block body %}Ours. {% include '" + include + "' %}{% endblock %}"
    )


@pytest.fixture
def runtime(database_url: str, sink: SmtpSink, templates: Path) -> Iterator[Runtime]:
    # A template that fails to render is retried and then failed: three attempts show it
    # as well as the default ten, without waiting out the backoff seven times more.
    mail = smtp_mail(sink.port, templates_dir=str(templates), max_attempts=3)
    settings = mail_settings(database_url, mail)
    runtime = build_runtime(settings)
    upgrade(runtime.engine)
    yield runtime
    runtime.close()


def _send_one_booking(runtime: Runtime) -> None:
    with runtime.sessions.begin() as session:
        shop.seed(session)
        shop.book(session, "b1")
    with SenderThread(runtime):
        wait_until(lambda: all_settled(runtime), what="the messages settled")


@pytest.mark.parametrize("include", ["rival/offer.txt", "/rival/offer.txt",
                                     "rival/confirmation.txt", "../rival/offer.txt",
                                     "./rival/offer.txt"])
def test_another_merchants_template_cannot_be_included(
    runtime: Runtime, sink: SmtpSink, templates: Path, include: str
) -> None:
    _own(templates, include)
    _send_one_booking(runtime)
    assert not [m for m in sink.messages() if RIVAL in m.raw.decode(errors="replace")]
    customer = [r for r in outbox_rows(runtime) if r.to_address == shop.CUSTOMER]
    assert [r.state for r in customer] == ["failed"]  # listed for the merchant to fix


def test_shared_and_built_in_templates_can_be_included(
    runtime: Runtime, sink: SmtpSink, templates: Path
) -> None:
    _own(templates, "signature.txt")
    _send_one_booking(runtime)
    (mail,) = [m for m in sink.messages() if m.rcpt_tos == [shop.CUSTOMER]]
    assert "Ours. Shared signature" in text_of(mail.message)
