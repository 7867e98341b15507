"""/api/monitors through the app with its lifespan: validated like a diagnosis, owners isolated
like executions, the webhook secret never shown."""

from typing import Any

import pytest

DIAGNOSIS = {"brand": "蔚来", "competitors": ["理想"], "questions": ["新能源汽车品牌推荐"],
             "platforms": ["demo"]}


def body(**overrides: Any) -> dict[str, Any]:
    return {"name": "watch", "diagnosis": DIAGNOSIS, "schedule": {"interval_s": 3600},
            **overrides}


@pytest.mark.parametrize(("overrides", "status"), [
    ({"schedule": {"cron": "0 0 30 2 *"}}, 422),  # never fires
    ({"schedule": {"cron": "*/1 * * * *"}}, 422),  # more often than the minimum
    ({"schedule": {"interval_s": 299}}, 422),
    ({"schedule": {"cron": "0 9 * * *", "timezone": "Mars/Olympus"}}, 422),
    ({"diagnosis": {**DIAGNOSIS, "platforms": ["nowhere"]}}, 400),  # as for a diagnosis
    ({"diagnosis": {**DIAGNOSIS, "samples": 11}}, 422),
    ({"alerts": [{"metric": "avg_rank", "drop_points": 5}]}, 422),  # no test for avg_rank
    ({"alerts": [{"metric": "mention_rate"}]}, 422),  # no condition
    ({"webhook": {"url": "ftp://x/y"}}, 422),
])
async def test_invalid_monitors_are_refused_and_nothing_is_stored(api_client, overrides, status):
    async with api_client() as (client, _app):
        response = await client.post("/api/monitors", json=body(**overrides))
        assert response.status_code == status, response.text
        assert (await client.get("/api/monitors")).json()["total"] == 0


async def test_the_task_limit_and_platform_rules_of_a_diagnosis_apply(api_client):
    async with api_client(max_tasks=2) as (client, _app):
        too_many = await client.post("/api/monitors", json=body(
            diagnosis={**DIAGNOSIS, "samples": 3}))
        assert too_many.status_code == 422 and too_many.json()["max_tasks"] == 2


async def test_the_webhook_secret_is_never_shown_and_a_patch_without_it_keeps_it(api_client):
    async with api_client() as (client, _app):
        created = await client.post("/api/monitors", json=body(webhook={
            "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY123",
            "kind": "wecom", "secret": "TOPSECRET"}))
        assert created.status_code == 201, created.text
        mid = created.json()["monitor_id"]
        patched = await client.patch(f"/api/monitors/{mid}", json={"webhook": {
            "url": "https://example.com/hook?token=T0K", "kind": "generic"}})
        listed = await client.get("/api/monitors")
        for response in (created, patched, listed, await client.get(f"/api/monitors/{mid}")):
            assert "TOPSECRET" not in response.text and "KEY123" not in response.text
            assert "T0K" not in response.text
        assert patched.json()["webhook"] == {
            "url": "https://example.com/hook?token=***", "kind": "generic", "has_secret": True}
        removed = await client.patch(f"/api/monitors/{mid}", json={"webhook": None})
        assert removed.json()["webhook"] is None


async def test_another_owner_gets_404_on_every_monitor_route(api_client):
    async with api_client(api_tokens="ta:alice,tb:bob") as (client, _app):
        alice = {"Authorization": "Bearer ta"}
        bob = {"Authorization": "Bearer tb"}
        created = await client.post("/api/monitors", json=body(), headers=alice)
        mid = created.json()["monitor_id"]
        assert created.json()["owner"] == "alice"
        for method, path in [("GET", ""), ("PATCH", ""), ("POST", "/run"), ("GET", "/runs"),
                             ("GET", "/trend"), ("GET", "/changes"), ("GET", "/alerts"),
                             ("DELETE", "")]:
            kwargs: dict[str, Any] = {"json": {"paused": True}} if method == "PATCH" else {}
            response = await client.request(method, f"/api/monitors/{mid}{path}",
                                            headers=bob, **kwargs)
            assert response.status_code == 404, (method, path, response.text)
        assert (await client.get("/api/monitors", headers=bob)).json()["total"] == 0
        assert (await client.get("/api/monitors", headers=alice)).json()["total"] == 1
        # and a run of alice's monitor is alice's execution, invisible to bob
        run = (await client.post(f"/api/monitors/{mid}/run", headers=alice)).json()
        eid = run["execution_id"]
        assert (await client.get(f"/api/diagnoses/{eid}", headers=bob)).status_code == 404
        assert (await client.get(f"/api/diagnoses/{eid}", headers=alice)).status_code == 200


async def test_patch_delete_and_runs_of_a_monitor(api_client):
    async with api_client(monitor_min_interval_s=60) as (client, _app):
        mid = (await client.post("/api/monitors", json=body(paused=True))).json()["monitor_id"]
        patched = await client.patch(f"/api/monitors/{mid}", json={
            "schedule": {"cron": "0 9 * * 1", "timezone": "Asia/Shanghai"}, "name": "weekly",
            "alerts": [{"kind": "overtake"}, {"kind": "run_failed"}]})
        assert patched.status_code == 200, patched.text
        assert patched.json()["schedule"] == {
            "cron": "0 9 * * 1", "timezone": "Asia/Shanghai", "interval_s": None}
        assert [a["kind"] for a in patched.json()["alerts"]] == ["overtake", "run_failed"]
        started = await client.post(f"/api/monitors/{mid}/run")
        assert started.status_code == 202 and started.json()["monitor_id"] == mid
        runs = (await client.get(f"/api/monitors/{mid}/runs")).json()
        assert runs["total"] == 1 and runs["items"][0]["execution_id"] == started.json()[
            "execution_id"]
        assert (await client.delete(f"/api/monitors/{mid}")).status_code == 204
        assert (await client.get(f"/api/monitors/{mid}")).status_code == 404


async def test_the_openapi_document_states_this_servers_minimum_interval(api_client):
    async with api_client(monitor_min_interval_s=900) as (client, _app):
        schema = (await client.get("/openapi.json")).json()
        interval = schema["components"]["schemas"]["IntervalSchedule"]["properties"]["interval_s"]
        assert interval["minimum"] == 900
        assert "401" in schema["paths"]["/api/monitors/{monitor_id}/trend"]["get"]["responses"]
