"""Monitors on a real server (uvicorn), the loopback fake provider and a local webhook
receiver: runs on schedule, a significant drop in trend, changes and a signed webhook, a dead
receiver retried then marked failed."""

import base64
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import parse_qs

import httpx

from tests.fake_openai import ok
from tests.monitors.conftest import eventually

WITHOUT_OWN_BRAND = (
    "可以考虑以下品牌：\n\n1. **理想**：空间大，适合家庭。\n2. **小鹏**：智能驾驶领先。\n"
)
FAST = {"monitor_min_interval_s": 1, "monitor_tick_s": 0.05, "monitor_webhook_backoff_s": 0.01}


def diagnosis(platform: str, *, samples: int) -> dict[str, Any]:
    return {"brand": "蔚来", "competitors": ["理想", "小鹏"],
            "questions": ["20万左右的新能源汽车品牌推荐"], "platforms": [platform],
            "samples": samples}


async def ended(client: httpx.AsyncClient, execution_id: str) -> bool:
    status = (await client.get(f"/api/diagnoses/{execution_id}")).json()
    return bool(status["is_completed"])


async def test_an_interval_monitor_runs_on_schedule_and_each_run_is_a_normal_execution(
    live_server,
):
    with live_server(**FAST) as (base_url, _app):
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
            # given a monitor every second on the demo platform
            created = await client.post("/api/monitors", json={
                "name": "every second", "diagnosis": diagnosis("demo", samples=1),
                "schedule": {"interval_s": 1},
            })
            assert created.status_code == 201, created.text
            monitor = created.json()
            mid = monitor["monitor_id"]
            assert monitor["next_run_at"] is not None

            # when the scheduler has had time for two slots
            async def two_runs() -> Any:
                page = (await client.get(f"/api/monitors/{mid}/runs")).json()
                return page if page["total"] >= 2 else None

            page = await eventually(two_runs)

            # then each slot has one run, newest first, and each is an ordinary execution
            slots = [run["scheduled_for"] for run in page["items"]]
            assert slots == sorted(slots, reverse=True) and len(set(slots)) == len(slots)
            eid = page["items"][-1]["execution_id"]
            await eventually(lambda: ended(client, eid))
            assert (await client.get(f"/api/diagnoses/{eid}/report")).status_code == 200
            assert (await client.get(f"/api/diagnoses/{eid}/results")).json()["total"] == 1
            history = (await client.get("/api/diagnoses")).json()
            assert eid in {item["execution_id"] for item in history["items"]}

            # and pausing it is stored
            paused = await client.patch(f"/api/monitors/{mid}", json={"paused": True})
            assert paused.status_code == 200 and paused.json()["paused"] is True


async def test_a_significant_drop_shows_in_trend_and_changes_and_fires_a_signed_webhook(
    live_server, fake_openai, webhook_receiver,
):
    secret = "s3cret-for-hmac"
    with live_server(fake_base_url=fake_openai.base_url, **FAST) as (base_url, _app):
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
            # given a monitor with 10 samples per question and a drop rule with a signed webhook
            created = await client.post("/api/monitors", json={
                "name": "蔚来 watch", "diagnosis": diagnosis("fake", samples=10),
                "schedule": {"cron": "0 9 * * *", "timezone": "Asia/Shanghai"},
                "alerts": [{"metric": "mention_rate", "drop_points": 20}],
                "webhook": {"url": f"{webhook_receiver.base_url}/hook", "kind": "generic",
                            "secret": secret},
            })
            assert created.status_code == 201, created.text
            mid = created.json()["monitor_id"]
            assert secret not in created.text and created.json()["webhook"]["has_secret"]

            # when a first run names the own brand in every answer
            first = (await client.post(f"/api/monitors/{mid}/run")).json()
            await eventually(lambda: ended(client, first["execution_id"]))
            # and a second run, after the assistant stopped naming it
            fake_openai.default(None, ok(WITHOUT_OWN_BRAND))
            second = (await client.post(f"/api/monitors/{mid}/run")).json()
            await eventually(lambda: ended(client, second["execution_id"]))

            # then the trend shows both runs, oldest first, from their stored reports
            trend = (await client.get(f"/api/monitors/{mid}/trend?brand=蔚来")).json()
            assert [p["execution_id"] for p in trend["points"]] == [
                first["execution_id"], second["execution_id"]]
            rates = [p["brands"][0]["mention_rate"] for p in trend["points"]]
            assert rates == [1.0, 0.0]
            assert all(p["brands"][0]["mention_rate_ci"] for p in trend["points"])
            per_platform = (await client.get(f"/api/monitors/{mid}/trend?platform=fake")).json()
            assert len(per_platform["points"]) == 2

            # and changes mark the drop significant
            changes = (await client.get(f"/api/monitors/{mid}/changes")).json()
            assert len(changes["items"]) == 1 and changes["items"][0]["break"] is False
            drop = next(c for c in changes["items"][0]["changes"]
                        if c["brand"] == "蔚来" and c["metric"] == "mention_rate")
            assert drop["delta"] == -1.0 and drop["significant"] is True
            assert drop["test"] == "two_proportion_z"

            # and exactly one alert fired and was delivered, signed
            async def delivered() -> Any:
                items = (await client.get(f"/api/monitors/{mid}/alerts")).json()["items"]
                return items if items and items[0]["status"] == "delivered" else None

            alerts = await eventually(delivered)
            assert len(alerts) == 1 and alerts[0]["execution_id"] == second["execution_id"]
            assert [d["ok"] for d in alerts[0]["deliveries"]] == [True]
            assert secret not in json.dumps(alerts)
    [request] = webhook_receiver.received()
    expected = "sha256=" + hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["x-diagnosis-signature"], expected)
    payload = json.loads(request.body)
    assert payload["monitor_id"] == mid and payload["monitor_name"] == "蔚来 watch"
    assert payload["brand"] == "蔚来" and payload["metric"] == "mention_rate"
    assert (payload["before"], payload["after"], payload["delta"]) == (1.0, 0.0, -1.0)
    assert payload["execution_id"] == second["execution_id"]
    assert payload["report_url"].endswith(f"/api/diagnoses/{second['execution_id']}/report")
    assert {"rule", "fired_at"} <= payload.keys()


async def test_a_failing_receiver_is_retried_then_the_alert_is_marked_failed(
    live_server, webhook_receiver,
):
    webhook_receiver.status = 500
    with live_server(monitor_webhook_attempts=3, **FAST) as (base_url, _app):
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
            # given a monitor whose rule fires on its first run, and a receiver answering 500
            created = await client.post("/api/monitors", json={
                "name": "always", "diagnosis": diagnosis("demo", samples=1),
                "schedule": {"interval_s": 86400},
                "alerts": [{"metric": "visibility_score", "below": 101}],
                "webhook": {"url": f"{webhook_receiver.base_url}/hook"},
            })
            mid = created.json()["monitor_id"]
            # when it runs
            run = (await client.post(f"/api/monitors/{mid}/run")).json()
            assert run["monitor_id"] == mid

            # then the alert is tried three times and ends failed, visible in the list
            async def failed() -> Any:
                items = (await client.get(f"/api/monitors/{mid}/alerts")).json()["items"]
                return items if items and items[0]["status"] == "failed" else None

            [alert] = await eventually(failed)
    assert [(d["http_status"], d["ok"]) for d in alert["deliveries"]] == [(500, False)] * 3
    assert len(webhook_receiver.received()) == 3


async def test_a_server_restart_keeps_the_schedule_and_runs_no_slot_twice(api_client):
    # given a monitor every second, run by one server process (the app and its lifespan)
    async with api_client(**FAST) as (client, _app):
        created = await client.post("/api/monitors", json={
            "name": "restart", "diagnosis": diagnosis("demo", samples=1),
            "schedule": {"interval_s": 1}})
        mid = created.json()["monitor_id"]

        async def runs_at_least(n: int) -> Any:
            page = (await client.get(f"/api/monitors/{mid}/runs?limit=500")).json()
            return page if page["total"] >= n else None

        before = await eventually(lambda: runs_at_least(1))
    # when a new server starts on the same database
    async with api_client(**FAST) as (client, _app):
        kept = (await client.get(f"/api/monitors/{mid}")).json()
        assert kept["next_run_at"] is not None and kept["paused"] is False

        async def more_runs() -> Any:
            page = (await client.get(f"/api/monitors/{mid}/runs?limit=500")).json()
            return page if page["total"] >= before["total"] + 2 else None

        after = await eventually(more_runs)
    # then the schedule went on, and every slot has exactly one execution
    slots = [run["scheduled_for"] for run in after["items"]]
    assert len(slots) == len(set(slots)) == after["total"]
    kept_ids = {r["execution_id"] for r in after["items"]}
    assert {r["execution_id"] for r in before["items"]} <= kept_ids


async def test_a_dingtalk_robot_gets_its_markdown_message_signed_in_the_query(
    live_server, webhook_receiver,
):
    webhook_receiver.body = b'{"errcode":0,"errmsg":"ok"}'
    with live_server(**FAST) as (base_url, _app):
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
            created = await client.post("/api/monitors", json={
                "name": "钉钉", "diagnosis": diagnosis("demo", samples=1),
                "schedule": {"interval_s": 86400},
                "alerts": [{"metric": "visibility_score", "below": 101}],
                "webhook": {"url": f"{webhook_receiver.base_url}/robot/send?access_token=T",
                            "kind": "dingtalk", "secret": "SECabc"},
            })
            mid = created.json()["monitor_id"]
            assert "access_token=***" in created.json()["webhook"]["url"]
            await client.post(f"/api/monitors/{mid}/run")

            async def delivered() -> Any:
                items = (await client.get(f"/api/monitors/{mid}/alerts")).json()["items"]
                return items if items and items[0]["status"] == "delivered" else None

            await eventually(delivered)
    [request] = webhook_receiver.received()
    query = parse_qs(request.query)
    timestamp = query["timestamp"][0]
    digest = hmac.new(b"SECabc", f"{timestamp}\nSECabc".encode(), hashlib.sha256).digest()
    assert query["sign"] == [base64.b64encode(digest).decode()] and query["access_token"] == ["T"]
    body = json.loads(request.body)
    assert body["msgtype"] == "markdown" and "钉钉" in body["markdown"]["title"]
