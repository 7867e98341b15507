"""GET /api/diagnoses/{id}/events against a real uvicorn (SPEC 5, 6): the snapshot first,
increasing progress ids, each task once, `complete` last and the end of the stream; finished
executions answer at once; disconnecting clients leave nothing behind."""

import asyncio
import json
import re
import time
from typing import Any

import httpx
from httpx_sse import ServerSentEvent, aconnect_sse


async def start(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    payload = {"brand": "蔚来", "competitors": ["理想"], "platforms": ["demo"], **fields}
    response = await client.post("/api/diagnoses", json=payload)
    assert response.status_code == 202, response.text
    return response.json()


async def read_stream(client: httpx.AsyncClient, url: str, timeout_s: float = 30.0,
                      **kwargs: Any) -> list[ServerSentEvent]:
    events: list[ServerSentEvent] = []
    async with asyncio.timeout(timeout_s):
        async with aconnect_sse(client, "GET", url, **kwargs) as source:
            assert source.response.status_code == 200
            assert source.response.headers["content-type"].startswith("text/event-stream")
            async for event in source.aiter_sse():
                events.append(event)
    return events


async def wait_terminal(client: httpx.AsyncClient, eid: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not (await client.get(f"/api/diagnoses/{eid}")).json()["is_completed"]:
        assert time.monotonic() < deadline, "run did not end"
        await asyncio.sleep(0.02)


def check_stream(events: list[ServerSentEvent]) -> None:
    """First the snapshot, progress ids strictly increasing, `complete` last."""
    assert events and events[0].event == "progress"
    first = json.loads(events[0].data)
    assert events[0].id == str(first["seq"])
    ids = [int(e.id) for e in events if e.event == "progress"]
    assert ids == sorted(set(ids)), ids
    assert events[-1].event == "complete"
    assert [e.event for e in events].count("complete") == 1
    final = json.loads(events[-1].data)
    assert final["is_completed"] is True and final["progress"] == 100
    assert final["stage"] == "done"
    for event in events:
        if event.event == "progress":
            view = json.loads(event.data)
            assert event.id == str(view["seq"])
            assert view["status"] not in ("completed", "partial_success", "failed") or (
                view["progress"] == 100)


async def test_a_live_stream_sends_snapshot_progress_each_task_once_then_complete_and_ends(
    live_server,
):
    with live_server(demo_latency_ms=300) as (base_url, _app):
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            # given a run of 8 tasks whose first call ends ~150 ms or more after the start
            created = await start(client, questions=["a", "b", "{brand}怎么样"], samples=2)
            eid = created["execution_id"]
            # when a client follows it from the start
            events = await read_stream(client, created["events_url"])
            # then
            check_stream(events)
            first = json.loads(events[0].data)
            assert first["completed"] + first["failed"] == 0
            keys = [json.loads(e.data)["task_key"] for e in events if e.event == "task"]
            assert len(keys) == len(set(keys)), "a task event came twice"
            results = (await client.get(f"/api/diagnoses/{eid}/results")).json()["items"]
            assert set(keys) == {r["task_key"] for r in results}
            assert len(keys) == created["total_tasks"] == 8
            task = next(json.loads(e.data) for e in events if e.event == "task")
            assert set(task) >= {"task_key", "question", "platform", "status", "mentions"}
            # a task event follows the progress of the flush that wrote it, without an id
            for i, event in enumerate(events):
                if event.event == "task":
                    assert not event.id or event.id == events[i - 1].id
                    assert events[i - 1].event in ("progress", "task")
            assert json.loads(events[-1].data)["status"] == "completed"


async def test_a_finished_execution_answers_complete_at_once_also_on_reconnect(live_server):
    with live_server() as (base_url, _app):
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            created = await start(client, questions=["a"])
            await wait_terminal(client, created["execution_id"])
            final = (await client.get(created["status_url"])).json()
            for headers in ({}, {"Last-Event-ID": "3"}, {"Last-Event-ID": str(final["seq"])}):
                began = time.monotonic()
                events = await read_stream(client, created["events_url"], headers=headers)
                assert time.monotonic() - began < 2.0
                check_stream(events)
                assert [e.event for e in events] == ["progress", "complete"]
                assert json.loads(events[-1].data)["seq"] == final["seq"]


async def test_a_reconnect_mid_run_starts_with_the_current_snapshot(live_server):
    with live_server(demo_latency_ms=200) as (base_url, _app):
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            created = await start(client, questions=["a", "b", "c"], samples=3)
            # given a first connection that saw some progress
            async with aconnect_sse(client, "GET", created["events_url"]) as source:
                async for event in source.aiter_sse():
                    if event.event == "progress" and json.loads(event.data)["completed"] > 0:
                        last_id = event.id
                        break
            # when it reconnects with Last-Event-ID
            events = await read_stream(client, created["events_url"],
                                       headers={"Last-Event-ID": last_id})
            # then the first event is the snapshot now, never older than what it had
            check_stream(events)
            assert int(events[0].id) >= int(last_id)


async def test_an_unknown_execution_is_404_before_any_stream(live_server):
    with live_server() as (base_url, app):
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
            response = await client.get("/api/diagnoses/nope/events")
            assert response.status_code == 404
            assert response.headers["content-type"].startswith("application/json")
            assert response.json()["detail"]
            assert app.state.engine.broker.subscriber_count() == 0


async def test_a_slow_reader_still_gets_complete(live_server):
    with live_server(demo_latency_ms=30) as (base_url, _app):
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            created = await start(client, questions=["a", "b", "c"], samples=5)
            async with aconnect_sse(client, "GET", created["events_url"]) as source:
                # given a client that reads nothing until the run is over
                await wait_terminal(client, created["execution_id"])
                events = [e async for e in source.aiter_sse()]
            check_stream(events)


def subscribers_in_metrics(text: str) -> float:
    match = re.search(r"^diagnosis_sse_subscribers (\S+)$", text, re.MULTILINE)
    assert match, "no diagnosis_sse_subscribers series"
    return float(match.group(1))


async def test_200_clients_that_connect_and_drop_leave_no_subscriber_behind(live_server):
    with live_server(demo_latency_ms=5000) as (base_url, app):
        limits = httpx.Limits(max_connections=30)
        async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as client:
            # given a long run, so no stream ends by itself
            created = await start(client, questions=["a", "b"])
            gate = asyncio.Semaphore(20)

            async def visit() -> str:
                async with gate, aconnect_sse(client, "GET", created["events_url"]) as source:
                    async for event in source.aiter_sse():
                        return event.event  # read the first event, then drop
                return "none"

            # when 200 clients connect, read the snapshot and drop
            firsts = await asyncio.wait_for(asyncio.gather(*(visit() for _ in range(200))), 60)
            assert firsts == ["progress"] * 200
            # then every subscription is gone (bounded poll)
            broker = app.state.engine.broker
            deadline = time.monotonic() + 10
            while broker.subscriber_count() > 0:
                assert time.monotonic() < deadline, f"{broker.subscriber_count()} left"
                await asyncio.sleep(0.05)
            metrics = (await client.get("/metrics")).text
            assert subscribers_in_metrics(metrics) == 0
            # and the run is unaffected
            assert (await client.get(created["status_url"])).json()["status"] == "running"
