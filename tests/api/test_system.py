"""/api/platforms, /health, /metrics and /docs (SPEC 6, 7): platforms without keys, a health
that says the DB answers, every Prometheus series, and a documented API."""

import re
from pathlib import Path

import httpx

from tests.api.flows import wait_terminal
from tests.fake_openai import ok, status

SECRET = "sk-secret-xyz"
PRESETS = {"deepseek", "qwen", "doubao", "kimi", "zhipu", "openai", "gemini", "wenxin", "hunyuan",
           "ollama", "demo"}


def deepseek_on_fake(tmp_path: Path, base_url: str) -> Path:
    """The deepseek preset (its key variable DEEPSEEK_API_KEY) pointed at the fake server."""
    path = tmp_path / "deepseek.toml"
    path.write_text(f"""
[platforms.demo]
demo_latency_ms = 10
[platforms.deepseek]
base_url = "{base_url}"
model = "fake-model"
max_retries = 0
""")
    return path


async def test_platforms_list_presets_and_demo_with_configured_flags(api_client, monkeypatch):
    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
    monkeypatch.setenv("QWEN_API_KEY", "x")  # irrelevant unless it is qwen's variable
    async with api_client() as (client, _app):
        response = await client.get("/api/platforms")
        assert response.status_code == 200
        platforms = {p["id"]: p for p in response.json()}
        assert set(platforms) >= PRESETS
        demo, deepseek = platforms["demo"], platforms["deepseek"]
        assert demo["configured"] is True and demo["breaker"] == "closed"
        assert deepseek["configured"] is False and "DEEPSEEK_API_KEY" in deepseek["reason"]
        assert deepseek["display_name"] == "DeepSeek" and deepseek["model"]
        assert platforms["ollama"]["configured"] is True
        for item in platforms.values():
            assert set(item) >= {"id", "display_name", "aliases", "model", "configured",
                                 "limits", "breaker"}
            assert set(item["limits"]) >= {"max_concurrency", "rpm", "timeout_s", "max_retries"}


async def test_a_key_never_appears_in_any_response(api_client, fake_openai, monkeypatch, tmp_path):
    # given deepseek configured with a recognisable key, calling the fake server
    monkeypatch.setenv("DEEPSEEK_API_KEY", SECRET)
    fake_openai.script("fake-model", status(401), status(500))
    fake_openai.default("fake-model", ok())
    bodies: list[bytes] = []

    async def keep(response: httpx.Response) -> None:
        await response.aread()
        bodies.append(response.content + str(response.headers).encode())

    settings = {"platforms_file": deepseek_on_fake(tmp_path, fake_openai.base_url)}
    async with api_client(**settings) as (client, _app):
        client.event_hooks["response"] = [keep]
        # when every route is used, a diagnosis on deepseek included
        platforms = (await client.get("/api/platforms")).json()
        assert {p["id"]: p for p in platforms}["deepseek"]["configured"] is True
        created = await client.post("/api/diagnoses", json={
            "brand": "蔚来", "competitors": ["理想"], "platforms": ["DeepSeek"],
            "questions": ["a", "b", "c"]})
        assert created.status_code == 202, created.text
        eid = created.json()["execution_id"]
        final = await wait_terminal(client, eid)
        assert final["status"] == "partial_success"
        await client.get(f"/api/diagnoses/{eid}/results")
        await client.get(f"/api/diagnoses/{eid}/events")
        for fmt in ("json", "md", "csv", "html"):
            await client.get(f"/api/diagnoses/{eid}/report", params={"format": fmt})
        await client.post(f"/api/diagnoses/{eid}/retry")
        await client.post(f"/api/diagnoses/{eid}/cancel")
        await client.post("/api/diagnoses", json={"brand": "x", "platforms": ["nope"]})
        await client.post("/api/diagnoses", json={"brand": SECRET[:3], "platforms": [1]})
        for path in ("/api/diagnoses", "/health", "/metrics", "/openapi.json", "/docs"):
            await client.get(path)
        # then the fake got the key, and no response ever carried it
        assert all(call.had_auth for call in fake_openai.calls)
        assert len(bodies) >= 15
        for body in bodies:
            assert SECRET.encode() not in body


async def test_health_says_the_database_answers(api_client):
    async with api_client() as (client, app):
        response = await client.get("/health")
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "database": True, "running_executions": 0}

        # when the database stops answering
        async def down() -> bool:
            return False

        app.state.engine.repository.ping = down
        response = await client.get("/health")
        # then
        assert response.status_code == 503
        assert response.json()["database"] is False and response.json()["status"] == "degraded"


SERIES = [
    r'diagnosis_executions_by_status\{status="completed"\} [1-9]',
    r'diagnosis_executions_by_status\{status="running"\} ',
    r'diagnosis_executions_total\{status="partial_success"\} [1-9]',
    r'diagnosis_provider_calls_total\{outcome="ok",platform="fake"\} [1-9]',
    r'diagnosis_provider_calls_total\{outcome="server_error",platform="fake"\} [1-9]',
    r'diagnosis_provider_calls_total\{outcome="ok",platform="demo"\} [1-9]',
    r'diagnosis_provider_call_seconds_bucket\{le="[^"]+",platform="fake"\} ',
    r'diagnosis_provider_call_seconds_count\{platform="demo"\} [1-9]',
    r"diagnosis_progress_flushes_total [1-9]",
    r"diagnosis_cache_out_of_sync_total ",
    r'diagnosis_breaker_state\{platform="fake"\} 0',
    r"diagnosis_sse_subscribers 0",
    r"diagnosis_executions_running 0",
]


async def test_metrics_expose_every_series_the_spec_names(api_client, fake_openai, tmp_path):
    # given a finished run on demo and one on the fake with a failed task
    fake_openai.script("fake-model", status(500), status(500))
    fake_openai.default("fake-model", ok())
    async with api_client(fake_base_url=fake_openai.base_url) as (client, _app):
        for platforms in (["demo"], ["fake"]):
            created = await client.post("/api/diagnoses", json={
                "brand": "蔚来", "platforms": platforms, "questions": ["a", "b"]})
            await wait_terminal(client, created.json()["execution_id"])
        # when
        response = await client.get("/metrics")
        # then
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        text = response.text
        for pattern in SERIES:
            assert re.search("^" + pattern, text, re.MULTILINE), pattern


async def test_docs_describe_every_route_with_a_summary_and_the_create_body_with_examples(
    api_client,
):
    async with api_client() as (client, _app):
        assert (await client.get("/docs")).status_code == 200
        spec = (await client.get("/openapi.json")).json()
        routes = [(m, p, op) for p, ops in spec["paths"].items() for m, op in ops.items()]
        assert len(routes) >= 12
        for method, path, op in routes:
            assert op.get("summary"), (method, path)
            assert op.get("description"), (method, path)
        create = spec["paths"]["/api/diagnoses"]["post"]
        examples = create["requestBody"]["content"]["application/json"]["examples"]
        assert examples["demo"]["value"]["platforms"] == ["demo"]
        assert {"202", "400", "413", "422"} <= set(create["responses"])
        assert spec["components"]["schemas"]["DiagnosisCreate"]["examples"]
        for suffix in ("", "/results", "/events", "/cancel", "/retry", "/report"):
            ops = spec["paths"][f"/api/diagnoses/{{execution_id}}{suffix}"]
            assert all("404" in op["responses"] for op in ops.values()), suffix
        # and the demo example really starts a diagnosis
        started = await client.post("/api/diagnoses", json=examples["demo"]["value"])
        assert started.status_code == 202, started.text
