"""Shutdown mid-run (SPEC 4): a stopped server leaves the execution resumable (running, its
unfinished tasks pending, nothing failed because of the stop); the next app on the same
database resumes it to the end with exactly one row per task."""

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx

from tests.fake_openai import ok


def db_state(path: Path, eid: str) -> tuple[str, dict[str, int], int]:
    """(execution status, result rows by status, distinct task keys), read straight from SQLite."""
    with sqlite3.connect(path) as conn:
        (status,) = conn.execute("SELECT status FROM executions WHERE id = ?", (eid,)).fetchone()
        rows = conn.execute(
            "SELECT status, count(*) FROM task_results WHERE execution_id = ? GROUP BY status",
            (eid,),
        ).fetchall()
        (keys,) = conn.execute(
            "SELECT count(DISTINCT task_key) FROM task_results WHERE execution_id = ?", (eid,)
        ).fetchone()
    return status, dict(rows), keys


def test_a_stopped_server_leaves_the_run_resumable_and_the_next_one_finishes_it(
    live_server, api_client, tmp_path
):
    db = tmp_path / "api.db"
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


def pending_questions(path: Path, eid: str) -> list[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT question FROM task_results WHERE execution_id = ? AND status = 'pending'",
            (eid,),
        ).fetchall()
    return sorted(q for (q,) in rows)


def test_a_resumed_run_calls_only_the_tasks_without_a_durable_result(
    live_server, api_client, fake_openai, tmp_path
):
    db = tmp_path / "api.db"
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
