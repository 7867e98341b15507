"""The real mini-program's main flow over a real uvicorn (SPEC 6, issue 11): its connection check,
its start payload (ids lowercased, question boxes joined with a space, `{brandName}` defaults),
its polling until its own enums say stop, its results page and its history tab, for a
completed, a partially successful, a cancelled and a timed-out run.

The calls and the fields asserted are the ones the client (glensun810-ai/jhw) sends and reads;
none of its code is here. Each platform it names is one of our presets pointed at the fake
OpenAI server, a distinct model per platform so the fake can script them apart.
"""

import asyncio
import json
import math
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import aconnect_sse

from tests.fake_openai import DEFAULT_ANSWER, hang, ok, status

TOKEN, OTHER_TOKEN = "tok-wechat", "tok-other"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
BRANDS = ["蔚来", "理想", "小鹏"]
# services/brandTestService.js: the ids it sends, lowercased; custom_question = boxes.join(' ')
CLIENT_MODELS = ["deepseek", "chatgpt", "gemini", "wenxin"]
OUR_PLATFORM = {"deepseek": "deepseek", "chatgpt": "openai", "gemini": "gemini",
                "wenxin": "wenxin"}
KEYS = {"deepseek": "DEEPSEEK_API_KEY", "openai": "OPENAI_API_KEY", "gemini": "GEMINI_API_KEY",
        "wenxin": "QIANFAN_API_KEY"}
TWO_BOXES = "20万左右的新能源汽车品牌推荐 {brand}的智能驾驶水平怎么样？"
# pages/index: its default questions when every box is empty
DEFAULT_BOXES = " ".join([
    "{brandName}的核心竞争优势是什么？",
    "{brandName}在目标用户群体中的认知度如何？",
    "{brandName}与竞品的主要差异化体现在哪里？",
])
CLIENT_STATUSES = {"initializing", "ai_fetching", "analyzing", "completed",
                   "partial_completed", "failed"}
CLIENT_STAGES = {"init", "ai_fetching", "analyzing", "completed", "failed"}
ROW_FIELDS = {"brand", "model", "aiModel", "response", "error_type", "geo_data", "score",
              "question", "status"}
MAX_POLLS = 600


def model_of(platform: str) -> str:
    return f"m-{platform}"


def platforms_file(tmp_path: Path, base_url: str) -> Path:
    path = tmp_path / "client-platforms.toml"
    path.write_text("".join(
        f'[platforms.{pid}]\nbase_url = "{base_url}"\nmodel = "{model_of(pid)}"\n'
        "max_retries = 0\ntimeout_s = 30\n\n"
        for pid in KEYS
    ))
    return path


@pytest.fixture
def client_server(live_server, fake_openai, monkeypatch, tmp_path):
    """`with client_server(**settings) as base_url:` our presets for the client's ids on the
    fake, tokens on (the one change the client needs)."""
    for variable in KEYS.values():
        monkeypatch.setenv(variable, "sk-test")
    fake_openai.default(None, ok(latency_s=0.02))

    def factory(**overrides: Any) -> Any:
        return live_server(
            platforms_file=platforms_file(tmp_path, fake_openai.base_url),
            api_tokens=f"{TOKEN}:wechat-user,{OTHER_TOKEN}:someone-else", **overrides,
        )

    return factory


async def start(client: httpx.AsyncClient, custom_question: str,
                models: list[str] = CLIENT_MODELS, token: str = TOKEN) -> dict[str, Any]:
    """POST /api/perform-brand-test exactly as buildPayload + startBrandTestApi send it."""
    response = await client.post(
        "/api/perform-brand-test",
        json={"brand_list": BRANDS, "selectedModels": models, "custom_question": custom_question},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text  # the client rejects anything but 200
    body = response.json()
    assert body["status"] == "success" and body["execution_id"]
    return dict(body)


def client_stops(answer: dict[str, Any]) -> bool:
    """startLegacyPolling's rule: stop on its terminal statuses, or on `failed`."""
    return answer["status"] in {"completed", "partial_completed"} or answer["status"] == "failed"


async def poll_like_the_client(client: httpx.AsyncClient, eid: str) -> list[dict[str, Any]]:
    answers: list[dict[str, Any]] = []
    for _ in range(MAX_POLLS):
        response = await client.get(f"/test/status/{eid}", headers=HEADERS)
        assert response.status_code == 200, response.text
        answer = response.json()
        check_poll_answer(answer)
        if answers:
            assert answer["progress"] >= answers[-1]["progress"]
        answers.append(answer)
        if client_stops(answer):
            return answers
        await asyncio.sleep(0.05)
    pytest.fail(f"the client would still poll after {MAX_POLLS} polls: {answers[-1]['status']}")


def check_poll_answer(answer: dict[str, Any]) -> None:
    """The fields parseTaskStatus and the polling loop read, and the stop flags' rule."""
    assert isinstance(answer["progress"], int) and 0 <= answer["progress"] <= 100
    assert answer["status"] in CLIENT_STATUSES and answer["stage"] in CLIENT_STAGES
    assert isinstance(answer["results"], list) and isinstance(answer["detailed_results"], list)
    terminal = answer["status"] in {"completed", "partial_completed", "failed"}
    assert answer["is_completed"] is terminal and answer["should_stop_polling"] is terminal
    if terminal:
        assert answer["progress"] == 100
    for row in answer["detailed_results"]:
        check_row(row)


def check_row(row: dict[str, Any]) -> None:
    assert ROW_FIELDS <= row.keys()
    assert row["brand"] in BRANDS
    assert row["model"] == row["aiModel"] and row["model"] in CLIENT_MODELS
    assert OUR_PLATFORM[row["model"]] == row["platform"]
    assert isinstance(row["response"], str)
    if row["status"] == "ok":
        assert row["error_type"] is None and row["response"] == row["answer"]
        geo = row["geo_data"]
        assert isinstance(geo["brand_mentioned"], bool)
        assert isinstance(geo["rank"], int) and (geo["rank"] >= 1 or geo["rank"] == -1)
        assert isinstance(geo["sentiment"], int | float) and -1 <= geo["sentiment"] <= 1
        assert row["brand"] not in geo["competitors_mentioned"]
        assert set(geo["competitors_mentioned"]) <= set(BRANDS)
        assert 0 <= row["score"] <= 100
    else:
        assert row["error_type"] == row["error_kind"] and row["error_type"]
        assert row["score"] is None


def documented_score(geo: dict[str, Any]) -> float:
    """docs/metrics.md's visibility score over one answer, from what geo_data says."""
    if not geo["brand_mentioned"]:
        return 0.0
    weight = 1 / math.log2(geo["rank"] + 1) if geo["rank"] >= 1 else 0.0
    return round(100 * (0.5 + 0.3 * weight + 0.2 * (geo["sentiment"] + 1) / 2), 2)


async def wait_for_ok(client: httpx.AsyncClient, eid: str, n: int) -> None:
    for _ in range(MAX_POLLS):
        view = (await client.get(f"/api/diagnoses/{eid}", headers=HEADERS)).json()
        if view["completed"] >= n:
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"fewer than {n} ok results")


async def results_page(client: httpx.AsyncClient, eid: str) -> dict[str, Any]:
    """GET /api/diagnosis/report/{id}, what pages/results loadFromApi accepts."""
    response = await client.get(f"/api/diagnosis/report/{eid}", headers=HEADERS)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["results"], "loadFromApi rejects an empty results[]"
    for row in report["results"]:
        check_row(row)
    scores = report["competitive_analysis"]["brandScores"]
    assert list(scores) == BRANDS
    for entry in scores.values():
        assert 0 <= entry["overallScore"] <= 100 and entry["overallGrade"] in "ABCDE"
        assert 0 <= entry["overallVisibility"] <= 100
        # no number from a model's claims about itself
        assert entry["overallAuthority"] is None and entry["overallPurity"] is None
        assert entry["overallConsistency"] is None
    assert report["total_tasks"] == len(report["results"])
    assert report["completed_tasks"] == sum(r["status"] == "ok" for r in report["results"])
    assert report["completion_rate"] == 100 * report["completed_tasks"] // report["total_tasks"]
    assert report["selected_models"] == CLIENT_MODELS
    assert report["custom_questions"] and report["completed_at"]
    return dict(report)


async def history_tab(client: httpx.AsyncClient, token: str = TOKEN) -> dict[str, Any]:
    response = await client.get("/api/diagnosis/history", params={"page": 1, "limit": 20},
                                headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    history = response.json()
    for item in history["reports"]:
        assert {"id", "execution_id", "brand_name", "status", "created_at",
                "overall_score"} <= item.keys()
    assert {"total", "has_more"} <= history["pagination"].keys()
    return dict(history)


async def test_a_completed_run_goes_from_connection_check_to_history(client_server,
                                                                      fake_openai):
    with client_server() as (base_url, _app):
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            # the home page's connection check goes without a token, tokens on or not
            check = await client.get("/api/test")
            assert check.status_code == 200 and check.json()["status"] == "ok"
            # a start with the client's own defaults, then one with two question boxes
            defaults = await start(client, DEFAULT_BOXES)
            assert defaults["total_tasks"] == 3 * len(BRANDS) * len(CLIENT_MODELS)
            answers = await poll_like_the_client(client, defaults["execution_id"])
            started = await start(client, TWO_BOXES)
            # one open question once, one {brand} question per brand, on four models
            assert started["total_tasks"] == (1 + len(BRANDS)) * len(CLIENT_MODELS)
            eid = started["execution_id"]
            answers = await poll_like_the_client(client, eid)
            final = answers[-1]
            assert final["status"] == "completed" and final["stage"] == "completed"
            assert final["execution_status"] == "completed" and final["execution_stage"] == "done"
            rows = final["detailed_results"]
            assert len(rows) == started["total_tasks"]
            assert all(r["status"] == "ok" for r in rows)
            # the open question is asked on its own, once per model, about the own brand
            open_rows = [r for r in rows if r["question"] == "20万左右的新能源汽车品牌推荐"]
            assert sorted(r["model"] for r in open_rows) == sorted(CLIENT_MODELS)
            assert {r["brand"] for r in open_rows} == {"蔚来"}
            # the fake's answer ranks 蔚来 1, 理想 2, 小鹏 3
            geo = open_rows[0]["geo_data"]
            assert geo["brand_mentioned"] is True and geo["rank"] == 1
            assert geo["competitors_mentioned"] == ["理想", "小鹏"]
            assert open_rows[0]["score"] == documented_score(geo)
            about = {r["brand"]: r for r in rows if r["model"] == "chatgpt"
                     and r["question"].endswith("的智能驾驶水平怎么样？")}
            assert set(about) == set(BRANDS) and about["小鹏"]["geo_data"]["rank"] == 3
            assert about["小鹏"]["response"] == DEFAULT_ANSWER

            report = await results_page(client, eid)
            assert report["status"] == "completed" and report["completion_rate"] == 100
            assert report["custom_questions"] == ["20万左右的新能源汽车品牌推荐",
                                                  "{brand}的智能驾驶水平怎么样？"]
            own = report["competitive_analysis"]["brandScores"]["蔚来"]
            ours = next(b for b in report["brands"] if b["name"] == "蔚来")
            assert own["overallScore"] == math.floor(ours["visibility_score"] + 0.5)
            assert own["overallVisibility"] == math.floor(100 * ours["mention_rate"] + 0.5)

            # someone else's run is not in this user's history; newest first
            await start(client, TWO_BOXES, models=["deepseek"], token=OTHER_TOKEN)
            history = await history_tab(client)
            assert [r["execution_id"] for r in history["reports"]] == [
                eid, defaults["execution_id"]]
            assert history["pagination"] == {"page": 1, "limit": 20, "total": 2,
                                             "has_more": False}
            assert history["reports"][0]["status"] == "completed"
            assert history["reports"][0]["overall_score"] == own["overallScore"]
    # `{brandName}` was asked about each brand, never literally
    prompts = [c.prompt or "" for c in fake_openai.calls]
    assert not any("{brandName}" in p or "{brand}" in p for p in prompts)
    assert sum("小鹏的核心竞争优势是什么？" in p for p in prompts) == len(CLIENT_MODELS)


async def test_a_partially_successful_run_stops_the_client_as_partial_completed(
    client_server, fake_openai
):
    # given gemini failing every call
    fake_openai.default(model_of("gemini"), status(500))
    with client_server() as (base_url, _app):
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            started = await start(client, TWO_BOXES)
            final = (await poll_like_the_client(client, started["execution_id"]))[-1]
            assert final["status"] == "partial_completed" and final["stage"] == "completed"
            assert final["execution_status"] == "partial_success"
            failed = [r for r in final["detailed_results"] if r["status"] != "ok"]
            assert len(failed) == 1 + len(BRANDS)
            assert {(r["model"], r["error_type"]) for r in failed} == {("gemini", "server_error")}
            report = await results_page(client, started["execution_id"])
            assert report["status"] == "partial_completed"
            assert report["completed_tasks"] == 3 * (1 + len(BRANDS))
            assert report["completion_rate"] == 75


async def test_a_cancelled_run_stops_the_client_as_failed_with_its_results(
    client_server, fake_openai
):
    # given wenxin never answering
    fake_openai.default(model_of("wenxin"), hang())
    with client_server() as (base_url, _app):
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            started = await start(client, TWO_BOXES)
            eid = started["execution_id"]
            # the others answer; then the run is cancelled (the main API: the client has no
            # cancel button)
            await wait_for_ok(client, eid, 3 * (1 + len(BRANDS)))
            early = await client.get(f"/api/diagnosis/report/{eid}", headers=HEADERS)
            assert early.status_code == 409 and early.json()["status"] == "error"
            cancelled = await client.post(f"/api/diagnoses/{eid}/cancel", headers=HEADERS)
            assert cancelled.status_code == 200, cancelled.text
            final = (await poll_like_the_client(client, eid))[-1]
            assert final["status"] == "failed" and final["stage"] == "failed"
            assert final["execution_status"] == "cancelled"
            assert final["is_completed"] is True and final["progress"] == 100
            by_model = {r["model"]: r["status"] for r in final["detailed_results"]}
            assert by_model["wenxin"] == "cancelled" and by_model["deepseek"] == "ok"
            report = await results_page(client, eid)
            assert report["status"] == "failed" and report["execution_status"] == "cancelled"
            history = await history_tab(client)
            assert history["reports"][0]["status"] == "failed"


async def test_a_timed_out_run_stops_the_client_as_failed(client_server, fake_openai):
    # given gemini never answering and a deadline of 2 s
    fake_openai.default(model_of("gemini"), hang())
    with client_server(default_deadline_s=2) as (base_url, _app):
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            started = await start(client, TWO_BOXES)
            eid = started["execution_id"]
            final = (await poll_like_the_client(client, eid))[-1]
            assert final["status"] == "failed" and final["execution_status"] == "timeout"
            timed_out = [r for r in final["detailed_results"] if r["model"] == "gemini"]
            assert {r["error_type"] for r in timed_out} == {"deadline"}
            ok_rows = [r for r in final["detailed_results"] if r["status"] == "ok"]
            assert len(ok_rows) == 3 * (1 + len(BRANDS))
            report = await results_page(client, eid)
            assert report["execution_status"] == "timeout" and report["completion_rate"] == 75


async def test_the_stream_speaks_the_clients_vocabulary(client_server, fake_openai):
    fake_openai.default(model_of("gemini"), status(500))
    with client_server() as (base_url, _app):
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            started = await start(client, TWO_BOXES)
            events = []
            async with asyncio.timeout(30):
                async with aconnect_sse(client, "GET", started["stream_url"],
                                        headers=HEADERS) as source:
                    async for sse in source.aiter_sse():
                        events.append((sse.event, json.loads(sse.data)))
    assert events[0][0] == "connected" and events[-1][0] == "complete"
    for _name, data in events[1:]:
        assert data["status"] in CLIENT_STATUSES and data["stage"] in CLIENT_STAGES
        terminal = data["status"] in {"completed", "partial_completed", "failed"}
        assert data["is_completed"] is terminal and data["should_stop_polling"] is terminal
    final = events[-1][1]
    assert final["status"] == "partial_completed"
    assert final["execution_status"] == "partial_success"


async def test_the_connection_check_ignores_a_stale_token_and_other_routes_do_not(
    client_server,
):
    with client_server() as (base_url, _app):
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            stale = {"Authorization": "Bearer expired-login-token"}
            assert (await client.get("/api/test", headers=stale)).status_code == 200
            for path in ("/api/diagnosis/history", "/api/diagnosis/report/x", "/test/status/x"):
                response = await client.get(path, headers=stale)
                assert response.status_code == 401, path
                assert response.json()["status"] == "error"
