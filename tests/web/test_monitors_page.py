"""The Monitors pages in a real headless Chromium against a real uvicorn: create and pause from
the list, then a monitor's trend per brand (mention rate with its interval band, share of
voice), its changes with the significant drop marked, and its alert log; zh and en."""

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.fake_openai import ok

expect = pytest.importorskip("playwright.sync_api").expect

WITHOUT_OWN_BRAND = "可以考虑：\n\n1. **理想**：空间大。\n2. **小鹏**：智能驾驶领先。\n"


def wait_ended(base_url: str, execution_id: str, *, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not httpx.get(f"{base_url}/api/diagnoses/{execution_id}").json()["is_completed"]:
        assert time.monotonic() < deadline, "run did not end in time"
        time.sleep(0.05)  # polling with a bound, not waiting for a guessed duration


@pytest.mark.browser
def test_a_monitor_is_created_and_paused_from_the_monitors_page(
    live_server: Callable[..., Any], open_page: Callable[..., Any],
) -> None:
    with live_server() as (base_url, _app):
        page, problems = open_page(base_url)
        # given the Monitors page, reached from the top bar
        page.click("#nav-monitors")
        expect(page.locator("#monitor-list .empty")).to_be_visible()
        # when a monitor is created through the form
        page.fill("#m-name", "蔚来 每日")
        page.fill("#m-brand", "蔚来")
        page.fill("#m-competitors", "理想\n小鹏")
        page.fill("#m-questions", "20万左右的新能源汽车品牌推荐")
        page.fill("#m-samples", "2")
        page.check("input[name=m-platform][value=demo]")
        page.click("#m-create")
        # then it is listed, active, and can be paused
        item = page.locator("#monitor-list .monitor-item")
        expect(item).to_have_count(1)
        expect(item).to_have_attribute("data-paused", "false")
        item.locator(".toggle-pause").click()
        expect(item).to_have_attribute("data-paused", "true")
        expect(item.locator(".badge")).to_have_text("已暂停")
        # and the page speaks English too
        page.click(".lang-btn[data-lang=en]")
        expect(page.locator("#nav-monitors")).to_have_text("Monitors")
        expect(item.locator(".toggle-pause")).to_have_text("Resume")
        [monitor] = httpx.get(f"{base_url}/api/monitors").json()["items"]
        assert monitor["paused"] is True and monitor["diagnosis"]["samples"] == 2
        assert problems.items == []


@pytest.mark.browser
def test_a_monitor_page_draws_the_trend_marks_the_significant_drop_and_lists_the_alert(
    live_server: Callable[..., Any], open_page: Callable[..., Any], fake_openai: Any,
    shot: Callable[..., Any],
) -> None:
    with live_server(fake_base_url=fake_openai.base_url, monitor_tick_s=0.05) as (base_url, _):
        # given a monitor whose second run no longer names the own brand
        created = httpx.post(f"{base_url}/api/monitors", json={
            "name": "蔚来 watch", "schedule": {"cron": "0 9 * * *", "timezone": "Asia/Shanghai"},
            "diagnosis": {"brand": "蔚来", "competitors": ["理想", "小鹏"],
                          "questions": ["20万左右的新能源汽车品牌推荐"], "platforms": ["fake"],
                          "samples": 10},
            "alerts": [{"metric": "mention_rate", "drop_points": 20}],
        }).json()
        mid = created["monitor_id"]
        first = httpx.post(f"{base_url}/api/monitors/{mid}/run").json()
        wait_ended(base_url, first["execution_id"])
        fake_openai.default(None, ok(WITHOUT_OWN_BRAND))
        second = httpx.post(f"{base_url}/api/monitors/{mid}/run").json()
        wait_ended(base_url, second["execution_id"])

        # when its page is opened
        page, problems = open_page(base_url, path=f"/#/monitor/{mid}")

        # then each brand has a trend chart of both runs, the own brand with its interval band
        own = page.locator('#trend .trend-brand[data-brand="蔚来"]')
        expect(page.locator("#trend .trend-brand")).to_have_count(3)
        expect(own.locator("svg.trend")).to_have_attribute("data-points", "2")
        expect(own.locator("polygon.ci-band")).to_have_count(1)
        expect(own.locator("polyline.sov-line")).to_have_count(1)
        # and the drop is marked significant in the changes table
        drop = page.locator('#changes-table tr.significant[data-brand="蔚来"]'
                            '[data-metric="mention_rate"]')
        expect(drop).to_have_count(1)
        expect(drop).to_contain_text("显著")
        # and the alert log lists the firing
        expect(page.locator("#alert-log .alert-item")).to_have_count(1)
        expect(page.locator("#alert-log .alert-item")).to_contain_text("蔚来")
        page.click(".lang-btn[data-lang=en]")
        expect(drop).to_contain_text("significant")
        shot(page, "monitor-desktop")
        assert problems.items == []
