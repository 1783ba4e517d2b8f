"""Headless Chromium (Debian's, at /usr/bin/chromium) through Playwright, and page checks.

Playwright's own browser downloads are never used. Without the browser the
tests are skipped, except under CI=true, where that fails.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

CHROMIUM = "/usr/bin/chromium"
SHARED_SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 360, "height": 740}


def require_chromium() -> None:
    if os.access(CHROMIUM, os.X_OK):
        return
    reason = f"{CHROMIUM} is missing (apt-get install chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


# Per module, not per run: sync Playwright keeps an event loop running in this thread for
# as long as it is open, and the asyncio tests of later modules could not run their own.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per module; each test opens a context of its own (cookies, storage and
    viewport are the context's)."""
    require_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM)
        yield launched
        launched.close()


class Screenshots:
    """Full-page screenshots under the test's folder, copied to test-output/screenshots/."""

    def __init__(self, folder: Path, name: str) -> None:
        self.folder = folder
        self.shared = SHARED_SCREENSHOTS / name
        self.count = 0
        folder.mkdir(parents=True, exist_ok=True)

    def take(self, page: Page, what: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{what}.png"
        page.screenshot(path=str(path), full_page=True)
        self.shared.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, self.shared / path.name)
        return path


class BothWidths:
    """Each page of a flow walked at desktop width checked and screenshotted at phone width
    too: the pages, not the clicks between them, are what the width changes.

    Screenshots of a width go to test-output/screenshots/<name with {width} filled in>/.
    """

    def __init__(self, folder: Path, name: str) -> None:
        self.widths = [
            (size, Screenshots(folder / width, name.format(width=width)))
            for width, size in (("phone", PHONE), ("desktop", DESKTOP))
        ]

    def take(self, page: Page, what: str, *, check: bool = True) -> None:
        """At each width (desktop last, where the flow goes on): `check_accessible_basics`
        unless `check` is False, and a screenshot."""
        for size, shots in self.widths:
            page.set_viewport_size(size)
            if check:
                check_accessible_basics(page)
            shots.take(page, what)


UNLABELLED_CONTROLS = """
() => Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea, button'))
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
               && !(e.tagName === 'BUTTON' && e.textContent.trim()))
  .map(e => e.outerHTML)
"""
FIELDSETS_WITHOUT_LEGEND = """
() => Array.from(document.querySelectorAll('fieldset'))
  .filter(f => !(f.firstElementChild && f.firstElementChild.tagName === 'LEGEND'))
  .map(f => f.outerHTML.slice(0, 200))
"""
PAGE_FACTS = """
() => ({
  lang: document.documentElement.lang,
  title: document.title,
  h1: document.querySelectorAll('h1').length,
  overflow: document.documentElement.scrollWidth - window.innerWidth,
})
"""

# WCAG 2.x contrast of every element's own text against the background it is drawn on
# (the nearest ancestor with an opaque background colour).
LOW_CONTRAST_TEXT = """
() => {
  const rgb = c => c.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => {
    const ch = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(b);
  };
  const background = el => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length < 4 || c[3] === 1) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const found = [];
  for (const el of document.body.querySelectorAll('*')) {
    const own = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || el.offsetParent === null) continue;
    const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(background(el))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const text = el.textContent.trim().slice(0, 40);
    if (ratio < 4.5) found.push(`${el.tagName} ${ratio.toFixed(2)}: ${text}`);
  }
  return found;
}
"""


def check_accessible_basics(page: Page) -> None:
    """Labels on every control, legends on fieldsets, text contrast of at least 4.5:1, lang,
    a title, one h1, no sideways scroll."""
    assert page.evaluate(UNLABELLED_CONTROLS) == [], page.url
    assert page.evaluate(FIELDSETS_WITHOUT_LEGEND) == [], page.url
    assert page.evaluate(LOW_CONTRAST_TEXT) == [], page.url
    facts = page.evaluate(PAGE_FACTS)
    assert facts["lang"] == "en"
    assert facts["title"]
    assert facts["h1"] == 1
    assert facts["overflow"] <= 0, f"{page.url} scrolls sideways by {facts['overflow']}px"


def tab_until(page: Page, name: str, limit: int = 40) -> int:
    """Press Tab until the focused element's text is `name`; how many presses it took."""
    page.locator("body").focus()
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        focused = page.evaluate("() => (document.activeElement.textContent || '').trim()")
        if focused == name:
            outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
            assert outline != "none", f"{name!r} has no visible focus"
            return presses
    raise AssertionError(f"Tab never reached {name!r} in {limit} presses")
