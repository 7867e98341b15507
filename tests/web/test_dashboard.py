"""The dashboard in a real headless Chromium against a real uvicorn: start, watch, cancel, reload,
phone width, language switch, errors, auth. Every wait is on the DOM (Playwright's expect)."""

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fake_openai import ok, status
from tests.web.conftest import ARTIFACTS, PHONE

expect = pytest.importorskip("playwright.sync_api").expect

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
BRANDS = ["蔚来", "理想", "小鹏"]
QUESTIONS = [
    "20万左右的新能源汽车品牌推荐",
    "{brand}的售后服务怎么样？",
    "智能驾驶最好的电动车品牌",
    "家用 SUV 选哪个牌子",
]
RUN_DONE_MS = 30_000


def fill_form(page: Any, *, questions: list[str], samples: int, platform: str = "demo") -> None:
    expect(page.locator(f"input[name=platform][value={platform}]")).to_be_enabled()
    page.fill("#brand", BRANDS[0])
    page.fill("#aliases", "NIO")
    page.fill("#competitors", f"{BRANDS[1]}\n{BRANDS[2]}: XPeng")
    page.fill("#questions", "\n".join(questions))
    page.fill("#samples", str(samples))
    page.check(f"input[name=platform][value={platform}]")


def start_by_api(base_url: str, *, samples: int, token: str | None = None,
                 platforms: tuple[str, ...] = ("demo",), questions: list[str] = QUESTIONS) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    created = httpx.post(f"{base_url}/api/diagnoses", headers=headers, json={
        "brand": BRANDS[0], "competitors": BRANDS[1:], "questions": questions,
        "platforms": list(platforms), "samples": samples,
    })
    assert created.status_code == 202, created.text
    return created.json()


def row_keys(page: Any) -> list[str]:
    return page.eval_on_selector_all("#result-rows tr", "rows => rows.map(r => r.dataset.key)")


def expect_finished(page: Any, state: str = "completed") -> None:
    expect(page.locator("#run-status")).to_have_attribute("data-status", state, timeout=RUN_DONE_MS)
    expect(page.locator("#report")).to_be_visible(timeout=RUN_DONE_MS)


def publish(path: Path, name: str) -> None:
    """Copy a screenshot to docs/img/ for the README, only when asked
    (DIAGNOSIS_UPDATE_SCREENSHOTS=1): a test run must not rewrite tracked files."""
    if os.environ.get("DIAGNOSIS_UPDATE_SCREENSHOTS") != "1":
        return
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, DOCS_IMG / name)


def shot_of(page: Any, selector: str, name: str, *, height: int) -> Path:
    """The top `height` pixels of one element, full width (the README's picture)."""
    top = page.eval_on_selector(selector, "el => el.getBoundingClientRect().top + window.scrollY")
    width = page.viewport_size["width"]
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True,
                    clip={"x": 0, "y": max(0, top - 16), "width": width, "height": height})
    return path


def no_horizontal_scroll(page: Any) -> bool:
    return bool(page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"))


@pytest.mark.browser
def test_a_diagnosis_started_from_the_form_reaches_100_and_draws_the_report(
    live_server: Callable[..., Any], open_page: Callable[..., Any], shot: Callable[..., Path],
) -> None:
    with live_server(demo_latency_ms=150) as (base_url, _app):
        # given the dashboard, where an unconfigured platform says why it is disabled
        page, problems = open_page(base_url)
        outside: list[str] = []
        page.on("request", lambda r: outside.append(r.url)
                if r.url.startswith("http") and not r.url.startswith(base_url) else None)
        deepseek = page.locator("input[name=platform][value=deepseek]")
        expect(deepseek).to_be_disabled()
        expect(page.locator("label.chip-check", has=deepseek)).to_contain_text("DEEPSEEK_API_KEY")
        # when a diagnosis on demo is started through the form
        fill_form(page, questions=QUESTIONS[:3], samples=3)
        expect(page.locator("#estimate")).to_contain_text("15")  # (1 + 3 + 1) x 3
        page.click("#start")
        # then the live view opens at #/run/<id>, reaches 100% and shows the report
        expect(page).to_have_url(re.compile(r"#/run/[\w-]+$"))
        expect(page.locator("#progress-value")).to_have_text("100%", timeout=RUN_DONE_MS)
        expect_finished(page)
        expect(page.locator("#overall-progress")).to_have_attribute("aria-valuenow", "100")
        for chart in ("#chart-mention", "#chart-sov", "#chart-platforms"):
            for brand in BRANDS:
                bar = page.locator(f'{chart} svg rect.bar[data-brand="{brand}"]')
                expect(bar).to_have_count(1)
        expect(page.locator("#brand-table tbody tr")).to_have_count(3)
        expect(page.locator("#gaps")).to_be_visible()
        expect(page.locator("#sources .source-list li").first).to_be_visible()
        expect(page.locator("#opportunities")).to_be_visible()  # issue 18: sources to act on
        expect(page.locator("#discovered")).to_be_visible()
        expect(page.locator("#result-rows tr")).to_have_count(15)
        keys = row_keys(page)
        assert len(set(keys)) == len(keys) == 15
        # and the download links serve the other formats
        for fmt in ("md", "csv", "html"):
            href = page.locator(f'#downloads a[data-format="{fmt}"]').get_attribute("href")
            response = page.request.get(href)
            assert response.status == 200, (fmt, response.status)
        shot(page, "report-desktop")
        section = shot_of(page, "#report", "report-desktop-section", height=1400)
        publish(section, "dashboard-report.png")
        # the history lists it on the home page
        page.click("a.back")
        expect(page.locator("#history .history-item")).to_have_count(1)
        expect(page.locator("#history .history-item .badge")).to_have_text("已完成")
        assert outside == []  # works offline: no CDN, no web font
        assert problems.items == []


@pytest.mark.browser
def test_a_long_run_can_be_cancelled_from_the_live_view(
    live_server: Callable[..., Any], open_page: Callable[..., Any], shot: Callable[..., Path],
    fake_openai: Any,
) -> None:
    # given a run of 60 calls on demo (~0.4 s each, 8 at a time) and 60 on a slower fake
    fake_openai.default("fake-model", ok(latency_s=0.5))
    with live_server(demo_latency_ms=400, fake_base_url=fake_openai.base_url) as (base_url, _app):
        page, problems = open_page(base_url)
        fill_form(page, questions=QUESTIONS, samples=10)
        page.check("input[name=platform][value=fake]")
        page.click("#start")
        expect(page.locator("#platform-progress .plat")).to_have_count(2)
        expect(page.locator("#run-status")).to_have_attribute("data-status", "running")
        expect(page.locator("#conn")).to_have_class(re.compile("conn-live"))
        expect(page.locator("#result-rows tr").nth(7)).to_be_attached(timeout=RUN_DONE_MS)
        publish(shot(page, "live-desktop", full_page=False), "dashboard-live.png")
        # when the user cancels
        page.click("#cancel")
        # then it ends as cancelled, keeps what finished, and still shows a report
        expect_finished(page, "cancelled")
        expect(page.locator("#cancel")).to_have_count(0)
        expect(page.locator("#run-status")).to_have_text("已取消")
        total = int(page.locator("#overall-progress").get_attribute("aria-valuenow") or 0)
        assert total == 100  # every task ended: ok, or cancelled
        keys = row_keys(page)
        assert len(keys) == len(set(keys))
        expect(page.locator('#errors .chip[data-kind="cancelled"]')).to_be_visible()
        shot(page, "cancelled-desktop")
        assert problems.items == []


@pytest.mark.browser
def test_a_reload_mid_run_reopens_the_live_view_without_duplicate_rows(
    live_server: Callable[..., Any], open_page: Callable[..., Any],
) -> None:
    with live_server(demo_latency_ms=400) as (base_url, _app):
        # given a running diagnosis watched in the dashboard
        created = start_by_api(base_url, samples=6)
        total = created["total_tasks"]
        page, problems = open_page(base_url, path=f"/#/run/{created['execution_id']}")
        expect(page.locator("#result-rows tr").nth(3)).to_be_attached(timeout=RUN_DONE_MS)
        # when the page is reloaded while it runs
        page.reload()
        # then the hash route reopens the live view, rows come back once each, and it finishes
        expect(page.locator("#run-status")).to_be_visible()
        expect(page.locator("#result-rows tr").nth(3)).to_be_attached(timeout=RUN_DONE_MS)
        mid = row_keys(page)
        assert len(mid) == len(set(mid))
        expect_finished(page)
        expect(page.locator("#result-rows tr")).to_have_count(total)
        keys = row_keys(page)
        assert len(keys) == len(set(keys)) == total
        expect(page.locator("#results-count")).to_contain_text(str(total))
        assert problems.items == []


@pytest.mark.browser
def test_the_phone_width_renders_without_horizontal_scroll(
    live_server: Callable[..., Any], open_page: Callable[..., Any], shot: Callable[..., Path],
) -> None:
    with live_server(demo_latency_ms=300) as (base_url, _app):
        # given a 375 px wide screen
        page, problems = open_page(base_url, viewport=PHONE)
        expect(page.locator("input[name=platform][value=demo]")).to_be_enabled()
        assert no_horizontal_scroll(page)
        shot(page, "home-phone")
        # when a diagnosis runs and ends
        fill_form(page, questions=QUESTIONS, samples=5)
        page.click("#start")
        expect(page.locator("#result-rows tr").nth(2)).to_be_attached(timeout=RUN_DONE_MS)
        assert no_horizontal_scroll(page)
        shot(page, "live-phone", full_page=False)
        expect_finished(page)
        # then the report fits the width too (tables scroll inside their own box)
        assert no_horizontal_scroll(page)
        expect(page.locator("#chart-mention svg rect.bar")).to_have_count(3)
        width = page.eval_on_selector("#chart-mention svg",
                                      "svg => svg.getBoundingClientRect().width")
        assert width <= PHONE["width"]
        shot(page, "report-phone")
        page.locator("#report").scroll_into_view_if_needed()
        shot(page, "report-phone-screen", full_page=False)
        assert problems.items == []


@pytest.mark.browser
def test_the_language_switch_changes_labels_and_is_remembered(
    live_server: Callable[..., Any], open_page: Callable[..., Any], fake_openai: Any,
) -> None:
    # given a platform that refuses every call (400: bad_request, not retried)
    fake_openai.default("fake-model", status(400))
    with live_server(fake_base_url=fake_openai.base_url) as (base_url, _app):
        created = start_by_api(base_url, samples=1, platforms=("fake", "demo"),
                               questions=QUESTIONS[:1])
        page, problems = open_page(base_url)
        expect(page.locator("#start")).to_have_text("开始诊断")
        # when the user switches to English
        page.click(".lang-btn[data-lang=en]")
        # then labels change, and stay English after a reload
        expect(page.locator("#start")).to_have_text("Start diagnosis")
        expect(page.locator("label[for=brand]")).to_have_text("Brand")
        page.reload()
        expect(page.locator("#start")).to_have_text("Start diagnosis")
        # and error kinds read as words in either language
        page.goto(f"/#/run/{created['execution_id']}")
        expect_finished(page, "partial_success")
        failed = page.locator('#result-rows .badge[data-kind="bad_request"]')
        expect(failed).to_have_text("Bad request")
        expect(page.locator("#run-status")).to_have_text("Partial success")
        page.click(".lang-btn[data-lang=zh]")
        expect(failed).to_have_text("请求无效")
        expect(page.locator("#run-status")).to_have_text("部分成功")
        expect(page.locator('#errors .chip[data-kind="bad_request"]')).to_contain_text("请求无效")
        # and the failed tasks can be retried as a new run that links back
        page.click("#retry")
        expect(page).not_to_have_url(re.compile(created["execution_id"] + "$"))
        expect_finished(page, "partial_success")
        expect(page.locator(f'a[href="#/run/{created["execution_id"]}"]')).to_be_visible()
        assert problems.items == []


@pytest.mark.browser
def test_with_auth_on_a_token_is_needed_and_then_the_run_streams(
    live_server: Callable[..., Any], open_page: Callable[..., Any],
) -> None:
    with live_server(demo_latency_ms=100, api_tokens="tok:owner") as (base_url, _app):
        # given a service with tokens on and no token entered
        page, problems = open_page(base_url)
        # then the UI says a token is needed
        expect(page.locator("#banner")).to_be_visible()
        expect(page.locator("#banner")).to_contain_text("访问令牌")
        # when the token is entered
        expect(page.locator("#token-panel")).to_be_visible()
        page.fill("#token-input", "tok")
        page.click("#token-panel button[type=submit]")
        # then platforms load, a run streams (EventSource with a signed query token) and ends
        expect(page.locator("#banner")).to_be_hidden()
        fill_form(page, questions=QUESTIONS[:2], samples=2)
        page.click("#start")
        expect(page.locator("#conn")).to_have_class(re.compile("conn-(live|closed)"))
        expect_finished(page)
        expect(page.locator("#result-rows tr")).to_have_count(8)
        # and only the refused loads before the token was entered were errors
        assert problems.without("401") == []
        assert page.evaluate("sessionStorage.getItem('diagnosis.token')") == "tok"


@pytest.mark.browser
def test_server_text_is_shown_as_text_never_as_markup(
    live_server: Callable[..., Any], open_page: Callable[..., Any],
) -> None:
    hostile = '<img src=x onerror="window.pwned=1">'
    with live_server(demo_latency_ms=20) as (base_url, _app):
        # given a brand name and a question carrying markup
        created = httpx.post(f"{base_url}/api/diagnoses", json={
            "brand": hostile, "competitors": ["<b>bold</b>"],
            "questions": [f"{hostile} 推荐吗？"], "platforms": ["demo"], "samples": 2,
        }).json()
        # when the run, its rows and its report are shown
        page, problems = open_page(base_url, path=f"/#/run/{created['execution_id']}")
        expect_finished(page)
        # then the markup is visible as text and nothing was parsed or run
        expect(page.locator("#run-brand")).to_have_text(hostile)
        expect(page.locator("#brand-table tbody tr").first).to_contain_text(hostile)
        expect(page.locator("#result-rows tr").first).to_contain_text("推荐吗")
        assert page.locator("#view img").count() == 0
        assert page.locator("#view b", has_text="bold").count() == 0
        assert page.evaluate("window.pwned") is None
        page.click("a.back")
        expect(page.locator("#history .history-item strong")).to_have_text(hostile)
        assert problems.items == []
