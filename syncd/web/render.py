"""Rendering the manage pages: Jinja2 templates, autoescaped, with the CSRF cookie.

Templates live in syncd/web/templates/ and are read once. Every page gets
`base` (where the pages are mounted, e.g. "/manage") and `stylesheet`;
a page with a form also gets `csrf_token`, and the browser's CSRF cookie
when it has none yet.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from importlib.resources import files
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, Template
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from syncd.timetext import clock, long_day, short_day, time_span
from syncd.web.csrf import CsrfGuard
from syncd.web.flat_templates import flat_template

STYLESHEET = "manage.css"

STATUS_LABELS = {"confirmed": "Confirmed", "pending": "Waiting for approval",
                 "cancelled": "Cancelled", "completed": "Completed"}


class PageResponse(HTMLResponse):
    """An HTML page. Without headers of its own, its two are made here from a content type
    made once (Starlette's make it on every response, checking for a charset each time)."""

    def init_headers(self, headers: Mapping[str, str] | None = None) -> None:
        if headers is not None or self.status_code < 200 or self.status_code in (204, 304):
            super().init_headers(headers)
            return
        length = str(len(self.body)).encode("latin-1")
        self.raw_headers = [(b"content-length", length), _HTML_CONTENT_TYPE]


_HTML_CONTENT_TYPE = (b"content-type", b"text/html; charset=utf-8")


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status) or status.capitalize()


def stylesheet_version() -> str:
    """A short hash of the stylesheet: its URL changes whenever its content does."""
    content = files("syncd.web").joinpath("static", STYLESHEET).read_bytes()
    return hashlib.sha256(content).hexdigest()[:12]


def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("syncd.web", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        # a plain dict: every render of a page that extends base.html looks base.html up,
        # and the default cache takes a lock and reorders itself on each lookup
        cache_size=-1,
    )
    # The pages use none of Jinja's default globals (range, lipsum, cycler...), and
    # every render copies the globals into its context.
    environment.globals.clear()
    environment.filters.update(
        long_day=long_day, short_day=short_day, clock=clock, time_span=time_span,
        status_label=status_label,
    )
    return environment


class Pages:
    def __init__(self, csrf: CsrfGuard) -> None:
        self.csrf = csrf
        self.environment = _environment()
        self.stylesheet = f"static/{STYLESHEET}?v={stylesheet_version()}"
        self._templates: dict[str, Template] = {}

    def _template(self, name: str) -> Template:
        # Loaded once: the environment's own cache takes a lock and reorders itself on
        # every lookup, and templates do not change while syncd runs (auto_reload is off).
        template = self._templates.get(name)
        if template is None:
            template = self._templates[name] = flat_template(self.environment, name)
        return template

    def render(
        self,
        request: Request,
        template: str,
        context: dict[str, Any],
        *,
        status: int = 200,
        form_for: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """The page; with `form_for` (a manage token) its forms carry a CSRF token for it."""
        base = request.scope.get("root_path", "")
        values = {"base": base, "stylesheet": f"{base}/{self.stylesheet}", **context}
        new_browser_id = None
        if form_for is not None:
            browser_id, is_new = self.csrf.issue(request)
            values["csrf_token"] = self.csrf.form_token(browser_id, form_for)
            new_browser_id = browser_id if is_new else None
        html = self._template(template).render(values)
        response = PageResponse(html, status_code=status, headers=headers)
        if new_browser_id is not None:
            self.csrf.set_cookie(response, new_browser_id)
        return response

    def error(
        self,
        request: Request,
        status: int,
        title: str,
        text: str,
        headers: dict[str, str] | None = None,
    ) -> Response:
        context = {"title": title, "text": text, "status": status}
        return self.render(request, "error.html", context, status=status, headers=headers)
