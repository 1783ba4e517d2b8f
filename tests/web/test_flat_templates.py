"""Templates compiled with their inheritance resolved render what Jinja2 renders as written."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from jinja2 import DictLoader, Environment, StrictUndefined
from starlette.requests import Request

from syncd.domain.manage_rules import Action, ActionState
from syncd.manage.views import BookingPage
from syncd.web.booking_pages import action_rows, closed_groups
from syncd.web.csrf import CsrfGuard
from syncd.web.flat_templates import flat_template
from syncd.web.render import Pages

HOSTILE = "<script>alert('x')</script> & \"quoted\""
BERLIN = ZoneInfo("Europe/Berlin")


def _page(**changes: Any) -> BookingPage:
    start = datetime(2030, 3, 4, 10, tzinfo=BERLIN)
    page = BookingPage(
        booking_key=f"b-{HOSTILE}", service_name=HOSTILE, staff_name="Ana \N{EN DASH} Lía",
        start_local=start, end_local=start + timedelta(minutes=30), timezone="Europe/Berlin",
        zone_label="CET, UTC+01:00 (Europe/Berlin)", duration_minutes=30, location=HOSTILE,
        status="confirmed", paid=True,
        actions={Action.CANCEL: ActionState(True, None),
                 Action.RESCHEDULE: ActionState(False, HOSTILE),
                 Action.CHANGE_STAFF: ActionState(False, HOSTILE)},
        contact_text=HOSTILE, booking_page_url=f"https://shop.example/?q={HOSTILE}",
        merchant_name=HOSTILE,
    )
    return page._replace(**changes)


def _contexts(page: BookingPage) -> dict[str, dict[str, Any]]:
    request = Request({"type": "http", "path": "/manage/t", "root_path": "/manage",
                       "headers": []})
    rows = action_rows(request, "t", page)
    details = {"page": page, "merchant_name": page.merchant_name, "token": "t",
               "open_actions": [row for row in rows if row.allowed],
               "closed_groups": closed_groups(rows), "heading": HOSTILE, "notice": HOSTILE,
               "done": None}
    return {
        "details.html": details,
        "cancel.html": {**details, "csrf_token": HOSTILE},
        "closed.html": {**details, "title": HOSTILE, "reason": HOSTILE},
        "error.html": {"title": HOSTILE, "text": HOSTILE, "status": 404},
    }


@pytest.mark.parametrize("page", [
    _page(),
    _page(status="cancelled", location="", booking_page_url=None, paid=False),
    _page(actions={action: ActionState(False, "closed") for action in Action}),
])
def test_each_page_renders_the_same_flattened_as_written(page: BookingPage) -> None:
    pages = Pages(CsrfGuard(b"k" * 32, secure=False))
    for name, context in _contexts(page).items():
        values = {"base": "/manage", "stylesheet": "/manage/static/manage.css", **context}
        flat = flat_template(pages.environment, name)
        assert flat is not pages.environment.get_template(name), f"{name} was not flattened"
        written = pages.environment.get_template(name).render(values)
        assert flat.render(values) == written, name
        assert "<script>" not in written


def _environment(templates: dict[str, str]) -> Environment:
    return Environment(loader=DictLoader(templates), autoescape=True, undefined=StrictUndefined)


@pytest.mark.parametrize("child", [
    "{% extends 'base' %}{% block a %}[{{ super() }}]{% endblock %}",
    "{% extends 'base' %}{% block a %}{% set x = 1 %}{{ x }}{% endblock %}",
    "{% extends 'base' %}{% block a scoped %}{{ y }}{% endblock %}",
    "{% extends 'base' %}{% block a %}{{ self.b() }}{% endblock %}",
    "{% extends 'looped' %}{% block a %}{{ y }}{% endblock %}",
])
def test_what_flattening_would_change_is_loaded_as_written(child: str) -> None:
    environment = _environment({
        "base": "<{% block a %}A{% endblock %}|{% block b %}B{% endblock %}>",
        "looped": "{% for y in [1, 2] %}{% block a %}{% endblock %}{% endfor %}",
        "child": child,
    })
    written = environment.get_template("child")
    assert flat_template(environment, "child") is written


def test_blocks_nested_over_three_levels_take_the_most_derived_definition() -> None:
    environment = _environment({
        "base": "<{% block a %}A{% block b %}B{% endblock %}{% endblock %}|{{ v }}>",
        "middle": "{% extends 'base' %}{% block a %}M{% block b %}{% endblock %}"
                  "{% block c %}C{% endblock %}{% endblock %}",
        "child": "{% extends 'middle' %}{% block c %}{{ v }}!{% endblock %}",
    })
    flat = flat_template(environment, "child")
    assert flat.render(v="<v>") == environment.get_template("child").render(v="<v>")
    assert flat.render(v="<v>") == "<M&lt;v&gt;!|&lt;v&gt;>"
