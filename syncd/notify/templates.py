"""Jinja2 templates for every message: plain text (with the subject) and HTML.

Each kind has `<kind>.txt`, whose `subject` block is the Subject, and
`<kind>.html`; they extend `base.txt` / `base.html` and call the macros in
`parts.txt` / `parts.html` (details, manage, team). The built-in ones live in
syncd/notify/templates/. With `mail.templates_dir` set, a file there replaces
the built-in one of its name for every merchant, and
`<templates_dir>/<merchant key>/<name>` for one merchant only; that holds for
the layouts and parts too. Templates are read once, when first used.

HTML is autoescaped; the sandbox keeps a merchant's template from reaching
into syncd's objects.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    TemplateNotFound,
    select_autoescape,
)
from jinja2.sandbox import SandboxedEnvironment

_BUILT_IN = PackageLoader("syncd.notify", "templates")
_BLANK_LINES = re.compile(r"\n\s*\n(\s*\n)+")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


class _MerchantFirst(BaseLoader):
    """`<merchant>/<name>` from the overrides, else `<name>` from them, else built in.

    Past the merchant's own folder only top-level names are found: an include or
    extends of `<other merchant>/<name>` finds nothing, so one merchant's
    template never shows another's.
    """

    def __init__(self, overrides: FileSystemLoader, merchant_key: str) -> None:
        self._overrides = overrides
        self._fallback = ChoiceLoader([overrides, _BUILT_IN])
        self._merchant_key = merchant_key

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        try:
            return self._overrides.get_source(environment, f"{self._merchant_key}/{template}")
        except TemplateNotFound:
            if "/" in template.strip("/") or "\\" in template:
                raise
            return self._fallback.get_source(environment, template)


def _environment(loader: BaseLoader) -> Environment:
    return SandboxedEnvironment(
        loader=loader,
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )


class MailTemplates:
    def __init__(self, overrides_dir: str | None = None) -> None:
        self._overrides = FileSystemLoader(overrides_dir) if overrides_dir else None
        self._shared = _environment(_BUILT_IN)
        self._per_merchant = lru_cache(maxsize=128)(self._merchant_environment)

    def _merchant_environment(self, merchant_key: str) -> Environment:
        assert self._overrides is not None
        return _environment(_MerchantFirst(self._overrides, merchant_key))

    def _environment_for(self, merchant_key: str) -> Environment:
        if self._overrides is None:
            return self._shared
        return self._per_merchant(merchant_key)

    def render(self, kind: str, merchant_key: str, context: Mapping[str, Any]) -> Rendered:
        environment = self._environment_for(merchant_key)
        text = environment.get_template(f"{kind}.txt")
        html = environment.get_template(f"{kind}.html")
        # one context for the subject block and the body, as Jinja does for any block
        shared = text.new_context(dict(context))
        subject = "".join(text.blocks["subject"](shared))
        body = "".join(text.root_render_func(shared))
        return Rendered(subject, _tidy(body), html.render(context))


def _tidy(text: str) -> str:
    """Plain text without the blank lines that template layout leaves behind."""
    return _BLANK_LINES.sub("\n\n", text).strip() + "\n"
