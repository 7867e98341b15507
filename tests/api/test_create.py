"""POST /api/diagnoses (SPEC 6): 202 with the URLs; 413, 422, 400, 422 in that order; a refused
request writes nothing."""

import json
from typing import Any

import pytest

VALID: dict[str, Any] = {"brand": "蔚来", "competitors": ["理想"], "questions": ["推荐一款车"],
                         "platforms": ["demo"]}


def body(**changes: Any) -> dict[str, Any]:
    data = {**VALID, **changes}
    return {k: v for k, v in data.items() if v is not ...}


async def history_total(client: Any) -> int:
    response = await client.get("/api/diagnoses")
    assert response.status_code == 200
    return int(response.json()["total"])


async def test_a_valid_request_is_accepted_with_the_urls_to_follow(api_client):
    async with api_client() as (client, _app):
        # when
        response = await client.post("/api/diagnoses", json=body(samples=2))
        # then
        assert response.status_code == 202, response.text
        created = response.json()
        eid = created["execution_id"]
        assert created["status"] == "queued"
        assert created["total_tasks"] == 2
        assert created["status_url"] == f"/api/diagnoses/{eid}"
        assert created["events_url"] == f"/api/diagnoses/{eid}/events"
        assert created["report_url"] == f"/api/diagnoses/{eid}/report"
        assert (await client.get(created["status_url"])).status_code == 200


async def test_platforms_are_named_by_id_display_name_or_alias_and_trimmed(api_client):
    async with api_client() as (client, _app):
        # given the demo platform under three names, and a padded brand
        response = await client.post("/api/diagnoses", json=body(
            brand="  蔚来  ", platforms=["demo", "Demo (offline)", "演示"]))
        # then it is one platform, and the brand is trimmed
        assert response.status_code == 202, response.text
        assert response.json()["total_tasks"] == 1
        status = (await client.get(response.json()["status_url"])).json()
        assert status["brand"] == "蔚来"


INVALID_FIELDS = [
    pytest.param(body(brand=""), "brand", id="brand-empty"),
    pytest.param(body(brand="   "), "brand", id="brand-whitespace"),
    pytest.param(body(brand="x" * 101), "brand", id="brand-101-chars"),
    pytest.param(body(brand=...), "brand", id="brand-missing"),
    pytest.param(body(brand=123), "brand", id="brand-not-a-string"),
    pytest.param(body(competitors=[f"c{i}" for i in range(21)]), "competitors",
                 id="21-competitors"),
    pytest.param(body(competitors=[1]), "competitors", id="competitor-not-a-string"),
    pytest.param(body(competitors=[{"name": ""}]), "competitors", id="competitor-name-empty"),
    pytest.param(body(competitors=[{"name": "a", "x": 1}]), "competitors", id="competitor-extra"),
    pytest.param(body(competitors="理想"), "competitors", id="competitors-not-a-list"),
    pytest.param(body(questions=[f"q{i}" for i in range(51)]), "questions", id="51-questions"),
    pytest.param(body(questions=["x" * 501]), "questions", id="question-501-chars"),
    pytest.param(body(questions=[None]), "questions", id="question-null"),
    pytest.param(body(samples=0), "samples", id="samples-0"),
    pytest.param(body(samples=11), "samples", id="samples-11"),
    pytest.param(body(samples="2"), "samples", id="samples-a-string"),
    pytest.param(body(samples=True), "samples", id="samples-a-bool"),
    pytest.param(body(samples=1.5), "samples", id="samples-a-float"),
    pytest.param(body(deadline_s=0), "deadline_s", id="deadline-0"),
    pytest.param(body(deadline_s=3601), "deadline_s", id="deadline-3601"),
    pytest.param(body(deadline_s="soon"), "deadline_s", id="deadline-a-string"),
    pytest.param(body(platforms=[]), "platforms", id="platforms-empty"),
    pytest.param(body(platforms=...), "platforms", id="platforms-missing"),
    pytest.param(body(platforms="demo"), "platforms", id="platforms-a-string"),
    pytest.param(body(platforms=[""]), "platforms", id="platform-name-empty"),
    pytest.param(body(aliases=[""]), "aliases", id="alias-empty"),
    pytest.param(body(owner=""), "owner", id="owner-empty"),
    pytest.param(body(owner=7), "owner", id="owner-not-a-string"),
    pytest.param(body(unexpected=1), "unexpected", id="extra-field"),
]


@pytest.mark.parametrize(("payload", "field"), INVALID_FIELDS)
async def test_an_invalid_field_is_refused_with_422_naming_it_and_nothing_is_written(
    api_client, payload, field
):
    async with api_client() as (client, _app):
        # given
        before = await history_total(client)
        # when
        response = await client.post("/api/diagnoses", json=payload)
        # then
        assert response.status_code == 422, response.text
        detail = response.json()["detail"]
        assert isinstance(detail, str) and detail.startswith(field), detail
        assert await history_total(client) == before


@pytest.mark.parametrize("raw", [
    b"{not json", b"[]", b'"brand"', b"null", b"", b"\xff\xfe",
])
async def test_a_body_that_is_not_a_json_object_is_refused_with_422(api_client, raw):
    async with api_client() as (client, _app):
        before = await history_total(client)
        response = await client.post(
            "/api/diagnoses", content=raw, headers={"content-type": "application/json"})
        assert response.status_code == 422, response.text
        assert response.json()["detail"]
        assert await history_total(client) == before


@pytest.mark.parametrize("name", ["nope", "deepseek"])
async def test_an_unknown_or_unconfigured_platform_is_refused_with_400_and_the_choices(
    api_client, monkeypatch, name
):
    # given deepseek has no key in this environment
    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
    async with api_client() as (client, _app):
        before = await history_total(client)
        # when
        response = await client.post("/api/diagnoses", json=body(platforms=["demo", name]))
        # then
        assert response.status_code == 400, response.text
        answer = response.json()
        assert name in answer["detail"]
        assert "demo" in answer["available_platforms"]
        assert "deepseek" not in answer["available_platforms"]
        assert await history_total(client) == before


async def test_a_body_over_64_kib_is_refused_with_413_before_it_is_parsed(api_client):
    async with api_client() as (client, _app):
        before = await history_total(client)
        # given a body over the limit that is also invalid JSON
        raw = b"{" + b"x" * (64 * 1024)
        # when sent with its length, and again chunked without one
        sized = await client.post(
            "/api/diagnoses", content=raw, headers={"content-type": "application/json"})

        async def chunks():
            for i in range(0, len(raw), 4096):
                yield raw[i:i + 4096]

        chunked = await client.post(
            "/api/diagnoses", content=chunks(), headers={"content-type": "application/json"})
        # then both are 413, not 422
        for response in (sized, chunked):
            assert response.status_code == 413, response.text
            assert "bytes" in response.json()["detail"]
        assert await history_total(client) == before


async def test_a_valid_body_just_under_the_limit_is_accepted(api_client):
    async with api_client() as (client, _app):
        payload = body(questions=["问" * 490] * 40)  # identical questions: asked once
        raw = json.dumps(payload, ensure_ascii=False).encode()
        raw += b" " * (64 * 1024 - len(raw))
        assert len(raw) == 64 * 1024
        response = await client.post(
            "/api/diagnoses", content=raw, headers={"content-type": "application/json"})
        assert response.status_code == 202, response.text


async def test_more_tasks_than_max_tasks_is_refused_with_422(api_client):
    async with api_client(max_tasks=5) as (client, _app):
        before = await history_total(client)
        # when 3 questions x 2 samples = 6 tasks > 5
        response = await client.post(
            "/api/diagnoses", json=body(questions=["a", "b", "c"], samples=2))
        # then
        assert response.status_code == 422, response.text
        answer = response.json()
        assert "max_tasks" in answer["detail"]
        assert answer["total_tasks"] == 6 and answer["max_tasks"] == 5
        assert await history_total(client) == before
        # and exactly max_tasks is fine
        ok = await client.post("/api/diagnoses", json=body(questions=["a", "b", "c", "d", "e"]))
        assert ok.status_code == 202, ok.text


async def test_checks_run_in_the_order_size_fields_platforms_task_count(api_client):
    async with api_client(max_tasks=1) as (client, _app):
        before = await history_total(client)
        too_many = {"questions": ["a", "b"]}
        # size beats fields: an oversized body with invalid fields
        oversized = body(brand="", platforms=["nope"], questions=["q" * 400] * 200)
        r = await client.post("/api/diagnoses", json=oversized)
        assert r.status_code == 413, r.text
        # fields beat platforms and task count
        r = await client.post(
            "/api/diagnoses", json=body(samples=0, platforms=["nope"], **too_many))
        assert r.status_code == 422 and r.json()["detail"].startswith("samples"), r.text
        # platforms beat task count
        r = await client.post("/api/diagnoses", json=body(platforms=["nope"], **too_many))
        assert r.status_code == 400 and "available_platforms" in r.json(), r.text
        # and last, the task count
        r = await client.post("/api/diagnoses", json=body(**too_many))
        assert r.status_code == 422 and "max_tasks" in r.json()["detail"], r.text
        assert await history_total(client) == before


async def test_questions_default_to_a_set_when_empty_and_brand_questions_expand(api_client):
    async with api_client() as (client, _app):
        # given no questions: the default set, each about every brand (2 brands)
        r = await client.post("/api/diagnoses", json=body(questions=[]))
        assert r.status_code == 202, r.text
        assert r.json()["total_tasks"] >= 2
        # given one {brand} question and one plain: 2 + 1 tasks
        r = await client.post("/api/diagnoses", json=body(questions=["{brand}怎么样", "推荐"]))
        assert r.json()["total_tasks"] == 3
