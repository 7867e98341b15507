"""The start-rate limit (SPEC 9): the n+1-th start in a minute is 429 with Retry-After and
writes nothing; counted per owner with tokens on, per client address when open."""

import httpx
import pytest

from diagnosis.api.auth import RateLimited, StartRateLimiter

START = {"brand": "蔚来", "questions": ["新能源汽车推荐"], "platforms": ["demo"]}
COMPAT_START = {"brand_list": ["蔚来"], "selectedModels": ["demo"], "custom_question": "推荐？"}
COMPAT_PATH = "/api/perform-brand-test"
TOKENS = "tok-a-111:alice,tok-b-222:bob"
ALICE = {"Authorization": "Bearer tok-a-111"}
BOB = {"Authorization": "Bearer tok-b-222"}


async def post(client: httpx.AsyncClient, path: str, body: dict, **kwargs) -> httpx.Response:
    return await client.post(path, json=body, **kwargs)


async def total(client: httpx.AsyncClient, headers: dict | None = None) -> int:
    return int((await client.get("/api/diagnoses", headers=headers)).json()["total"])


def assert_retry_after(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["Retry-After"]) <= 60


async def test_the_start_after_the_limit_is_429_with_retry_after_and_writes_nothing(api_client):
    async with api_client(start_rate_per_min=2) as (client, _app):
        for _ in range(2):
            assert (await client.post("/api/diagnoses", json=START)).status_code == 202
        before = await total(client)
        refused = await client.post("/api/diagnoses", json=START)
        assert_retry_after(refused)
        assert "per minute" in refused.json()["detail"]
        assert await total(client) == before == 2


async def test_the_mini_program_start_shares_the_limit_and_answers_its_error_shape(api_client):
    async with api_client(start_rate_per_min=2) as (client, _app):
        assert (await client.post("/api/perform-brand-test", json=COMPAT_START)).status_code == 200
        assert (await client.post("/api/diagnoses", json=START)).status_code == 202
        refused = await client.post("/api/perform-brand-test", json=COMPAT_START)
        assert_retry_after(refused)
        assert refused.json()["status"] == "error" and "per minute" in refused.json()["error"]
        assert await total(client) == 2


async def test_an_open_service_counts_per_client_whatever_owner_the_body_names(api_client):
    async with api_client(start_rate_per_min=1) as (client, _app):
        first = await post(client, "/api/perform-brand-test", {**COMPAT_START, "userOpenid": "o1"})
        assert first.status_code == 200
        # a new owner or openid in the body is no way round the limit
        assert_retry_after(await post(client, "/api/diagnoses", {**START, "owner": "other"}))
        assert_retry_after(
            await client.post("/api/perform-brand-test", json={**COMPAT_START, "userOpenid": "o2"})
        )
        assert await total(client) == 1


async def test_with_tokens_each_owner_has_its_own_limit(api_client):
    async with api_client(start_rate_per_min=1, api_tokens=TOKENS) as (client, _app):
        assert (await client.post("/api/diagnoses", json=START, headers=ALICE)).status_code == 202
        alice = await post(client, "/api/perform-brand-test", COMPAT_START, headers=ALICE)
        assert_retry_after(alice)
        # bob, from the same address, is not held back by alice's starts
        bob = await post(client, "/api/perform-brand-test", COMPAT_START, headers=BOB)
        assert bob.status_code == 200
        assert await total(client, ALICE) == 1 and await total(client, BOB) == 1


async def test_a_refused_start_does_not_use_up_the_limit(api_client):
    async with api_client(start_rate_per_min=1, max_tasks=2) as (client, _app):
        unknown = await post(client, "/api/diagnoses", {**START, "platforms": ["nope"]})
        assert unknown.status_code == 400
        unknown = await post(client, COMPAT_PATH, {**COMPAT_START, "selectedModels": ["x"]})
        assert unknown.status_code == 400
        too_many = {**COMPAT_START, "custom_question": "a？b？c？"}  # 3 tasks > max_tasks=2
        assert (await client.post("/api/perform-brand-test", json=too_many)).status_code == 422
        assert (await client.post("/api/perform-brand-test", json=COMPAT_START)).status_code == 200


def test_the_limiter_frees_a_slot_sixty_seconds_after_a_start(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr("diagnosis.api.auth.time.monotonic", lambda: now[0])
    limiter = StartRateLimiter(2)
    limiter.check("k")
    now[0] += 20
    limiter.check("k")
    with pytest.raises(RateLimited) as refused:
        limiter.check("k")
    assert refused.value.extra["retry_after"] == 40
    now[0] += 40  # the first start is now 60 s old
    limiter.check("k")
    limiter.check("other")  # keys are counted apart
