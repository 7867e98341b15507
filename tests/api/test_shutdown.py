"""Shutdown mid-run (SPEC 4): a stopped server leaves the execution resumable (running, its
unfinished tasks pending, nothing failed because of the stop); the next app on the same
database (SQLite or PostgreSQL) resumes it to the end with exactly one row per task."""

import asyncio
import collections
import time
from typing import Any

import httpx

from diagnosis.persistence.db import Database
from diagnosis.persistence.records import ResultRecord
from diagnosis.persistence.repository import Repository
from tests.fake_openai import ok


def stored(url: str, eid: str) -> tuple[str, list[ResultRecord]]:
    """The execution's status and every task row, read from the database by a fresh engine."""

    async def read() -> tuple[str, list[ResultRecord]]:
        database = Database.open(url)
        try:
            repository = Repository(database)
            execution = await repository.get_execution(eid)
            assert execution is not None
            return execution.status, await repository.all_results(eid)
        finally:
            await database.dispose()

    return asyncio.run(read())


def db_state(url: str, eid: str) -> tuple[str, dict[str, int], int]:
    """(execution status, result rows by status, distinct task keys)."""
    status, rows = stored(url, eid)
    return status, dict(collections.Counter(row.status for row in rows)), len(
        {row.task_key for row in rows}
    )


def test_a_stopped_server_leaves_the_run_resumable_and_the_next_one_finishes_it(
    live_server, api_client, make_database_url
):
    db = make_database_url("api")  # the database the servers below run on
    # given a long run on a real server (24 tasks, ~1 s each, 8 at a time)
    with live_server(demo_latency_ms=1000) as (base_url, _app):
        with httpx.Client(base_url=base_url, timeout=10) as client:
            created = client.post("/api/diagnoses", json={
                "brand": "蔚来", "competitors": ["理想"], "platforms": ["demo"],
                "questions": ["a", "b", "c"], "samples": 8})
            assert created.status_code == 202, created.text
            eid, total = created.json()["execution_id"], created.json()["total_tasks"]
            assert total == 24
            # when some results are durable, the server is stopped (the fixture's exit)
            deadline = time.monotonic() + 15
            while client.get(f"/api/diagnoses/{eid}").json()["progress"] == 0:
                assert time.monotonic() < deadline, "no progress within 15 s"
                time.sleep(0.05)

    # then the execution is left running, part done, part pending, nothing failed
    status, rows, keys = db_state(db, eid)
    assert status == "running"
    assert rows.get("ok", 0) > 0 and rows.get("pending", 0) > 0, rows
    assert set(rows) <= {"ok", "pending"}, rows
    assert sum(rows.values()) == keys == total

    # when a new app starts on the same database
    async def resume() -> dict[str, Any]:
        async with api_client(demo_latency_ms=20) as (client, _app):
            deadline = time.monotonic() + 20
            while True:
                view = (await client.get(f"/api/diagnoses/{eid}")).json()
                if view["is_completed"]:
                    break
                assert time.monotonic() < deadline, "resume did not finish"
                await asyncio.sleep(0.05)
            page = (await client.get(f"/api/diagnoses/{eid}/results?limit=500")).json()
            assert page["total"] == total
            return view

    view = asyncio.run(resume())
    # then it ends completed, with exactly one row per task
    assert view["status"] == "completed" and view["progress"] == 100
    assert (view["completed"], view["failed"]) == (total, 0)
    status, rows, keys = db_state(db, eid)
    assert status == "completed" and rows == {"ok": total} and keys == total


def pending_questions(url: str, eid: str) -> list[str]:
    _status, rows = stored(url, eid)
    return sorted(row.question for row in rows if row.status == "pending")


def test_a_resumed_run_calls_only_the_tasks_without_a_durable_result(
    live_server, api_client, fake_openai, make_database_url
):
    db = make_database_url("api")
    fake_openai.default("fake-model", ok(latency_s=0.4))
    questions = [f"问题{i}" for i in range(12)]
    # given a run on the fake platform (4 at a time), stopped once some results are durable
    with live_server(fake_base_url=fake_openai.base_url) as (base_url, _app):
        with httpx.Client(base_url=base_url, timeout=10) as client:
            created = client.post("/api/diagnoses", json={
                "brand": "蔚来", "platforms": ["fake"], "questions": questions})
            eid = created.json()["execution_id"]
            deadline = time.monotonic() + 15
            while client.get(f"/api/diagnoses/{eid}").json()["completed"] < 4:
                assert time.monotonic() < deadline, "no progress within 15 s"
                time.sleep(0.02)
    left = pending_questions(db, eid)
    assert 0 < len(left) < 12
    calls_before = len(fake_openai.calls)
    fake_openai.default("fake-model", ok())

    # when a new app resumes it
    async def resume() -> str:
        async with api_client(fake_base_url=fake_openai.base_url) as (client, _app):
            deadline = time.monotonic() + 20
            while not (view := (await client.get(f"/api/diagnoses/{eid}")).json())["is_completed"]:
                assert time.monotonic() < deadline, "resume did not finish"
                await asyncio.sleep(0.05)
            return str(view["status"])

    assert asyncio.run(resume()) == "completed"
    # then only the pending tasks were called, each once
    assert sorted(c.prompt for c in fake_openai.calls[calls_before:]) == left
    status, rows, keys = db_state(db, eid)
    assert status == "completed" and rows == {"ok": 12} and keys == 12
