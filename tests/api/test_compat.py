"""The mini-program's routes on the real app: a scripted client session (poll and SSE), model
names, refusals that write nothing, `since`, and the stream's error event."""

import asyncio
import json
from datetime import datetime, timedelta
from types import SimpleNamespace

import httpx
import pytest
from httpx_sse import aconnect_sse

from diagnosis.api.compat import miniprogram_events
from diagnosis.api.compat_vocabulary import live_brand_summary

LEGACY_BODY = {
    "brand_list": ["蔚来", "理想", "小鹏"],
    "selectedModels": [
        {"name": "Demo", "value": "demo", "checked": True},
        {"value": "deepseek", "checked": False},
    ],
    "custom_question": "20万左右的新能源汽车品牌推荐 适合家用吗？\n{brand}的售后怎么样？",
    "userOpenid": "o-wechat-user-1",
}
# the space between two CJK phrases is a question-box boundary (SPEC 6): two open questions
EXPECTED_QUESTIONS = {
    "20万左右的新能源汽车品牌推荐", "适合家用吗？",
    "蔚来的售后怎么样？", "理想的售后怎么样？", "小鹏的售后怎么样？",
}
STATUS_FIELDS = {
    "task_id", "progress", "stage", "status", "results", "detailed_results", "is_completed",
    "should_stop_polling", "created_at", "updated_at", "has_updates", "source",
    "cache_sync_status", "execution_status", "execution_stage",
}
# the mini-program's fields, then some of the full status that rides along
MINI_PROGRAM_PROGRESS = {
    "task_id", "progress", "stage", "status", "is_completed", "seq", "platforms",
    "execution_status", "execution_stage", "should_stop_polling",
}
# the mini-program's vocabulary (its services/taskStatusEnums.js)
TERMINAL = {"completed", "partial_completed", "failed"}
POLL_INTERVAL_S = 0.2
MAX_POLLS = 150


async def start(client: httpx.AsyncClient, body: dict) -> str:
    response = await client.post("/api/perform-brand-test", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["execution_id"])


async def history_total(client: httpx.AsyncClient) -> int:
    return int((await client.get("/api/diagnoses")).json()["total"])


def check_status_invariants(answer: dict, previous: dict | None) -> None:
    assert STATUS_FIELDS <= answer.keys()
    assert answer["has_updates"] is True
    assert answer["source"] == "database"
    assert answer["cache_sync_status"] in {"synced", "out_of_sync", "cache_miss"}
    if previous is not None:
        assert answer["progress"] >= previous["progress"]
        assert answer["seq"] >= previous["seq"]
        if previous["status"] in TERMINAL:
            assert answer["status"] == previous["status"]
    terminal = answer["status"] in TERMINAL
    assert answer["is_completed"] is terminal and answer["should_stop_polling"] is terminal
    if terminal:
        assert answer["progress"] == 100 and answer["stage"] in {"completed", "failed"}
        assert answer["execution_stage"] == "done"
    else:
        assert answer["stage"] in {"init", "ai_fetching", "analyzing"}
    assert [b["name"] for b in answer["results"]] == ["蔚来", "理想", "小鹏"]
    assert [b["is_own"] for b in answer["results"]] == [True, False, False]
    for brand in answer["results"]:
        assert 0.0 <= brand["mention_rate"] <= 1.0
    for row in answer["detailed_results"]:
        assert row["question"] in EXPECTED_QUESTIONS and row["platform"] == "demo"
        assert row["status"] in {"ok", "error", "cancelled"}


async def poll_until_stop(client: httpx.AsyncClient, eid: str) -> list[dict]:
    """What the mini-program does: poll every 200 ms until told to stop (bounded)."""
    answers: list[dict] = []
    for _ in range(MAX_POLLS):
        response = await client.get(f"/test/status/{eid}")
        assert response.status_code == 200, response.text
        answer = response.json()
        check_status_invariants(answer, answers[-1] if answers else None)
        answers.append(answer)
        if answer["should_stop_polling"]:
            return answers
        await asyncio.sleep(POLL_INTERVAL_S)
    pytest.fail(f"still running after {MAX_POLLS} polls: {answers[-1]['status']}")


async def test_a_mini_program_session_starts_polls_to_the_end_and_reads_results(api_client):
    async with api_client(demo_latency_ms=600) as (client, _app):
        # given the old client's body
        started = await client.post("/api/perform-brand-test", json=LEGACY_BODY)
        assert started.status_code == 200, started.text
        body = started.json()
        assert body["status"] == "success" and body["message"]
        eid = body["execution_id"]
        # one own brand + 2 competitors; 2 plain questions + 1 {brand} question x 3; 1 model
        assert body["total_tasks"] == 5
        # when it polls until told to stop
        answers = await poll_until_stop(client, eid)
        # then it saw the run under way (every answer checked), and the last one is final,
        # with every result and the report's summary
        assert len(answers) >= 2 and not answers[0]["is_completed"]
        final = answers[-1]
        assert final["status"] == "completed" and final["task_id"] == eid
        assert {r["question"] for r in final["detailed_results"]} == EXPECTED_QUESTIONS
        assert all(r["status"] == "ok" and r["answer"] for r in final["detailed_results"])
        assert all("mentions" in r["analysis"] for r in final["detailed_results"])
        report = (await client.get(f"/api/diagnoses/{eid}/report")).json()
        assert final["results"] == report["brands"]
        # and it is the same execution the main API shows, owned by the openid
        history = (await client.get("/api/diagnoses", params={"owner": "o-wechat-user-1"})).json()
        assert [item["execution_id"] for item in history["items"]] == [eid]
        assert history["items"][0]["platforms"] == ["demo"]


def test_a_live_summary_counts_answers_mentioning_each_brand_over_ok_answers():
    def row(status, *brands):
        return SimpleNamespace(status=status, analysis={"mentions": [{"brand": b} for b in brands]})

    rows = [row("ok", "蔚来", "理想"), row("ok", "理想"), row("error"), row("ok"),
            SimpleNamespace(status="ok", analysis=None)]
    summary = live_brand_summary([("蔚来", True), ("理想", False), ("小鹏", False)], rows)
    assert summary == [
        {"name": "蔚来", "is_own": True, "answers": 4, "mentions": 1, "mention_rate": 0.25},
        {"name": "理想", "is_own": False, "answers": 4, "mentions": 2, "mention_rate": 0.5},
        {"name": "小鹏", "is_own": False, "answers": 4, "mentions": 0, "mention_rate": 0.0},
    ]
    assert live_brand_summary([("蔚来", True)], [])[0]["mention_rate"] == 0.0


async def test_a_live_summary_while_running_matches_the_results_so_far(api_client):
    async with api_client(demo_latency_ms=600) as (client, _app):
        eid = await start(client, LEGACY_BODY)
        answers = await poll_until_stop(client, eid)
        for answer in answers:
            ok = [r for r in answer["detailed_results"] if r["status"] == "ok"]
            if answer["is_completed"]:
                continue  # the report's numbers; checked against the report elsewhere
            for brand in answer["results"]:
                mentioned = sum(
                    1 for r in ok
                    if any(m["brand"] == brand["name"] for m in r["analysis"]["mentions"])
                )
                assert brand["answers"] == len(ok) and brand["mentions"] == mentioned


@pytest.mark.parametrize(
    "models",
    [
        ["demo"],
        ["演示"],  # an alias
        [{"value": "demo"}],
        [{"id": "demo", "name": "whatever"}],
        [{"name": "Demo (offline)"}],  # the display name
        [{"label": "demo", "checked": True}, {"value": "deepseek", "checked": False}],
    ],
)
async def test_models_given_as_strings_or_objects_start_on_demo(api_client, models):
    async with api_client() as (client, _app):
        eid = await start(client, {
            "brand_list": ["蔚来"], "selectedModels": models, "customQuestions": ["介绍{brand}"],
        })
        status = (await client.get(f"/api/diagnoses/{eid}")).json()
        assert [p["platform"] for p in status["platforms"]] == ["demo"]


async def test_an_unknown_model_is_400_with_available_models_and_writes_nothing(
    api_client, monkeypatch
):
    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
    async with api_client() as (client, _app):
        for models in (["GPT-9000"], [{"value": "DeepSeek", "checked": True}]):  # unknown; no key
            response = await client.post("/api/perform-brand-test", json={
                "brand_list": ["蔚来"], "selectedModels": models,
            })
            assert response.status_code == 400, response.text
            body = response.json()
            assert body["status"] == "error"
            named = models[0] if isinstance(models[0], str) else models[0]["value"]
            assert named in body["error"]
            assert "demo" in body["available_models"]
        assert await history_total(client) == 0


@pytest.mark.parametrize(
    ("body", "status_code", "message"),
    [
        ({"brand_list": ["蔚来"], "selectedModels": [{"value": "demo", "checked": False}]},
         422, "no model selected"),
        ({"brand_list": [""], "selectedModels": ["demo"]}, 422, "brand_list"),
        ({"brand_list": [], "selectedModels": ["demo"]}, 422, "brand_list"),
        ({"brand_list": "蔚来", "selectedModels": ["demo"]}, 422, "brand_list"),
        ({"selectedModels": ["demo"]}, 422, "brand_list"),
        ({"brand_list": ["蔚来"], "selectedModels": ["demo"],
          "custom_question": "？".join(f"问题{i}" for i in range(51))}, 422, "too many questions"),
        ({"brand_list": ["蔚来"], "selectedModels": ["demo"], "customQuestions": ["长" * 501]},
         422, "at most 500"),
        ({"brand_list": ["蔚来", *[f"竞品{i}" for i in range(21)]], "selectedModels": ["demo"]},
         422, "too many competitors"),
    ],
)
async def test_a_refused_start_answers_the_error_shape_and_writes_nothing(
    api_client, body, status_code, message
):
    async with api_client() as (client, _app):
        response = await client.post("/api/perform-brand-test", json=body)
        assert response.status_code == status_code, response.text
        answer = response.json()
        assert answer["status"] == "error" and message in answer["error"]
        assert await history_total(client) == 0


async def test_too_many_tasks_and_bad_json_and_a_large_body_write_nothing(api_client):
    async with api_client(max_tasks=5) as (client, _app):
        # 3 brands x 3 default {brand} questions = 9 tasks > 5
        response = await client.post("/api/perform-brand-test", json={
            "brand_list": ["蔚来", "理想", "小鹏"], "selectedModels": ["demo"],
        })
        assert response.status_code == 422 and "max_tasks" in response.json()["error"]
        assert response.json()["total_tasks"] == 9
        response = await client.post(
            "/api/perform-brand-test", content=b"{not json",
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 422 and response.json()["status"] == "error"
        response = await client.post("/api/perform-brand-test", json={
            "brand_list": ["蔚来"], "selectedModels": ["demo"], "custom_question": "长" * 70_000,
        })
        assert response.status_code == 413
        assert await history_total(client) == 0


async def test_since_answers_has_updates_false_when_nothing_changed_without_reading_results(
    api_client
):
    async with api_client() as (client, app):
        eid = await start(client, LEGACY_BODY)
        final = (await poll_until_stop(client, eid))[-1]

        async def no_results_read(*args, **kwargs):
            raise AssertionError("a has_updates=false answer must not read results")

        engine = app.state.engine
        real_results = engine.results
        engine.results = no_results_read
        updated = datetime.fromisoformat(final["updated_at"])
        later = (updated + timedelta(seconds=1)).isoformat()
        for since in (str(final["seq"]), final["updated_at"], later):
            answer = (await client.get(f"/test/status/{eid}", params={"since": since})).json()
            assert answer == {
                "task_id": eid, "has_updates": False, "progress": 100, "status": "completed",
                "stage": "completed", "execution_status": "completed", "execution_stage": "done",
                "is_completed": True, "should_stop_polling": True, "seq": final["seq"],
            }
        engine.results = real_results
        for since in (str(final["seq"] - 1), (updated - timedelta(seconds=1)).isoformat()):
            answer = (await client.get(f"/test/status/{eid}", params={"since": since})).json()
            assert answer["has_updates"] is True and len(answer["detailed_results"]) == 5
        # blank, or the right shape but no real date: nothing is known unchanged, full answer
        for since in ("", "  ", "2024-02-30"):
            answer = (await client.get(f"/test/status/{eid}", params={"since": since})).json()
            assert answer["has_updates"] is True, since
        # a seq beyond any 64-bit integer is only a number: nothing is newer than it
        huge = (await client.get(f"/test/status/{eid}",
                                 params={"since": "9223372036854775808"})).json()
        assert huge["has_updates"] is False
        for since in ("yesterday", "-1", "1.5", "2024-13-01"):
            bad = await client.get(f"/test/status/{eid}", params={"since": since})
            assert bad.status_code == 422 and bad.json()["status"] == "error", since


async def test_an_unknown_execution_is_404_in_the_error_shape(api_client):
    async with api_client() as (client, _app):
        for path in ("/test/status/nope", "/api/stream/progress/nope"):
            response = await client.get(path)
            assert response.status_code == 404
            assert response.json()["status"] == "error" and "not found" in response.json()["error"]


async def test_the_stream_ends_with_an_error_event_when_the_execution_cannot_be_read(
    api_client, monkeypatch
):
    async with api_client() as (_client, app):
        engine = app.state.engine
        # an execution that vanished
        events = [e async for e in miniprogram_events(engine, "vanished", None)]
        assert [e.event for e in events] == ["connected", "error"]
        assert json.loads(events[-1].data) == {
            "task_id": "vanished", "status": "error", "error": "execution not found",
        }

        # an unexpected failure: reported, not leaked
        async def broken_status(*args, **kwargs):
            raise RuntimeError("disk on fire /secret/path")

        monkeypatch.setattr(engine, "status", broken_status)
        events = [e async for e in miniprogram_events(engine, "any", None)]
        assert [e.event for e in events] == ["connected", "error"]
        assert json.loads(events[-1].data)["error"] == "internal error"


async def test_the_same_run_streams_connected_first_progress_and_complete_last(live_server):
    with live_server(demo_latency_ms=300) as (base_url, _app):
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
            started = await client.post("/api/perform-brand-test", json=LEGACY_BODY)
            eid = started.json()["execution_id"]
            events = []
            async with asyncio.timeout(30):
                async with aconnect_sse(client, "GET", f"/api/stream/progress/{eid}") as source:
                    assert source.response.status_code == 200
                    async for sse in source.aiter_sse():
                        events.append((sse.event, json.loads(sse.data)))
            polled = (await client.get(f"/test/status/{eid}")).json()
    names = [name for name, _ in events]
    assert names[0] == "connected" and events[0][1] == {"task_id": eid}
    assert names[-1] == "complete" and names.count("complete") == 1
    assert set(names[1:-1]) <= {"progress"} and "progress" in names
    payloads = [data for name, data in events[1:]]
    for data in payloads:
        assert MINI_PROGRAM_PROGRESS <= data.keys()
        assert data["task_id"] == eid
    assert [d["progress"] for d in payloads] == sorted(d["progress"] for d in payloads)
    assert [d["seq"] for d in payloads] == sorted(d["seq"] for d in payloads)
    final = payloads[-1]
    assert final["status"] == "completed" and final["progress"] == 100 and final["is_completed"]
    # the stream and the polling route agree on the end
    assert polled["status"] == final["status"] and polled["seq"] == final["seq"]


async def test_history_pages_are_bounded_and_huge_integers_are_422_not_500(api_client):
    async with api_client() as (client, _app):
        first = await start(client, LEGACY_BODY)
        second = await start(client, LEGACY_BODY)
        page = (await client.get("/api/diagnosis/history", params={"page": 1, "limit": 1})).json()
        assert [r["execution_id"] for r in page["reports"]] == [second]  # newest first
        assert page["pagination"] == {"page": 1, "limit": 1, "total": 2, "has_more": True}
        page = (await client.get("/api/diagnosis/history", params={"page": 2, "limit": 1})).json()
        assert [r["execution_id"] for r in page["reports"]] == [first]
        assert page["pagination"]["has_more"] is False
        for params in ({"page": "9223372036854775808"}, {"page": 0}, {"limit": 101},
                       {"limit": 0}, {"page": "x"}, {"page": 1_000_001}):
            response = await client.get("/api/diagnosis/history", params=params)
            assert response.status_code == 422, params
            assert response.json()["status"] == "error"
        edge = await client.get("/api/diagnosis/history",
                                params={"page": 1_000_000, "limit": 100})
        assert edge.status_code == 200 and edge.json()["reports"] == []


async def test_history_when_open_files_runs_under_the_clients_openid_header(api_client):
    async with api_client() as (client, _app):
        header = {"X-User-OpenID": "o-header-user"}
        body = {k: v for k, v in LEGACY_BODY.items() if k != "userOpenid"}
        mine = (await client.post("/api/perform-brand-test", json=body, headers=header)).json()
        await client.post("/api/perform-brand-test", json=body)  # nobody's
        history = (await client.get("/api/diagnosis/history", headers=header)).json()
        assert [r["execution_id"] for r in history["reports"]] == [mine["execution_id"]]
        everyone = (await client.get("/api/diagnosis/history")).json()
        assert everyone["pagination"]["total"] == 2
