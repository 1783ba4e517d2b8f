"""The manage pages while the database is unreachable: a 503 page with Retry-After saying
nothing was changed, not a 500."""

from __future__ import annotations

from starlette.applications import Starlette

from syncd.config import Settings
from syncd.web.app import manage_mount
from syncd.wiring import build_runtime
from tests.api.client import ApiClient
from tests.servers import free_port
from tests.web.conftest import Clock, Shop


def test_a_page_asked_while_the_database_is_gone_answers_503(
    settings: Settings, shop: Shop, clock: Clock
) -> None:
    url = f"postgresql://syncd:hunter2-secret@127.0.0.1:{free_port()}/syncd"
    database = settings.database.model_copy(update={"url": url})
    runtime = build_runtime(settings.model_copy(update={"database": database}))
    try:
        with ApiClient(Starlette(routes=[manage_mount(runtime, clock=clock)])) as browser:
            page = browser.get(f"/manage/{shop.tokens['a']}")
    finally:
        runtime.close()
    assert page.status_code == 503, page.text
    assert int(page.headers["Retry-After"]) > 0
    assert "Nothing was changed" in page.text
    assert "hunter2" not in page.text
