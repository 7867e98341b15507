"""Browser fixtures: the API's server factories, a headless Debian Chromium, and a page that
records console errors and uncaught exceptions so every test can assert there were none.
"""

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import live_server, make_settings  # noqa: F401  (re-exported fixtures)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}


@pytest.fixture
def database_backend() -> str:
    """The dashboard is the same on either database: its tests run on SQLite only."""
    return "sqlite"



@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium (Playwright's own browser downloads are not used)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        message = "no Chromium: run `make browser-deps` (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it through `make test`: a skip would hide a gap
        pytest.skip(message)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


class PageProblems:
    """Console errors and page errors seen by one page."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def on_console(self, message: Any) -> None:
        if message.type == "error":
            self.items.append(f"console: {message.text}")

    def on_page_error(self, error: Any) -> None:
        self.items.append(f"pageerror: {error}")

    def without(self, *fragments: str) -> list[str]:
        """The problems, minus those expected by the test (e.g. a 401 resource load)."""
        return [p for p in self.items if not any(f in p for f in fragments)]


@pytest.fixture
def open_page(browser: Any) -> Iterator[Callable[..., tuple[Any, PageProblems]]]:
    """`page, problems = open_page(base_url, viewport=PHONE)`: a fresh context per call."""
    contexts: list[Any] = []

    def factory(base_url: str, *, viewport: dict[str, int] = DESKTOP, locale: str = "zh-CN",
                path: str = "/") -> tuple[Any, PageProblems]:
        context = browser.new_context(viewport=viewport, locale=locale, base_url=base_url)
        contexts.append(context)
        page = context.new_page()
        problems = PageProblems()
        page.on("console", problems.on_console)
        page.on("pageerror", problems.on_page_error)
        page.goto(path)
        return page, problems

    yield factory
    for context in contexts:
        context.close()


@pytest.fixture
def shot() -> Callable[..., Path]:
    """`shot(page, name)`: a screenshot under test-artifacts/ (full page unless told)."""
    ARTIFACTS.mkdir(exist_ok=True)

    def save(page: Any, name: str, *, full_page: bool = True) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return save
