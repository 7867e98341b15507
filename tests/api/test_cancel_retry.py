"""POST .../cancel and .../retry (SPEC 4, 6): cancel ends a run as cancelled with a row per task;
retry makes a NEW execution that copies the ok results and calls only the others."""

import time
from pathlib import Path

from tests.api.flows import all_results, start, wait_terminal
from tests.fake_openai import ok, status


async def test_cancelling_a_long_run_ends_it_cancelled_with_a_row_per_task(api_client):
    async with api_client(demo_latency_ms=2000) as (client, _app):
        # given a long run (2 s calls, 12 tasks)
        created = await start(client, questions=["a", "b", "c", "d", "e", "f"], samples=2)
        eid = created["execution_id"]
        # when cancelled
        began = time.monotonic()
        response = await client.post(f"/api/diagnoses/{eid}/cancel")
        # then it ends at once, cancelled, at 100 %, every task accounted for
        assert response.status_code == 200, response.text
        assert time.monotonic() - began < 2.0
        view = response.json()
        assert view["status"] == "cancelled" and view["stage"] == "done"
        assert view["progress"] == 100 and view["is_completed"] is True
        assert view["completed"] + view["failed"] == view["total"] == 12
        assert (await client.get(f"/api/diagnoses/{eid}")).json()["status"] == "cancelled"
        rows = await all_results(client, eid)
        assert len(rows) == 12 and len({r["task_key"] for r in rows}) == 12
        assert {r["status"] for r in rows} <= {"ok", "cancelled"}
        assert all(r["error_kind"] == "cancelled" for r in rows if r["status"] == "cancelled")
        # and the report is there
        report = await client.get(f"/api/diagnoses/{eid}/report")
        assert report.status_code == 200 and report.json()["brands"]


async def test_a_run_past_its_deadline_ends_as_timeout_with_finished_results_kept(api_client):
    async with api_client(demo_latency_ms=1500) as (client, _app):
        # given 1 s to run calls that take 0.75-2.25 s
        created = await start(client, questions=["a", "b", "c", "d"], samples=2, deadline_s=1)
        view = await wait_terminal(client, created["execution_id"])
        assert view["status"] == "timeout" and view["progress"] == 100
        rows = await all_results(client, created["execution_id"])
        assert len(rows) == 8
        late = [r for r in rows if r["status"] != "ok"]
        assert late and all(r["error_kind"] == "deadline" for r in late)
        assert view["completed"] == 8 - len(late)


async def test_cancelling_a_finished_execution_is_409(api_client):
    async with api_client() as (client, _app):
        created = await start(client, questions=["a"])
        final = await wait_terminal(client, created["execution_id"])
        response = await client.post(f"/api/diagnoses/{created['execution_id']}/cancel")
        assert response.status_code == 409, response.text
        assert final["status"] in response.json()["detail"]
        # and nothing changed
        after = (await client.get(f"/api/diagnoses/{created['execution_id']}")).json()
        assert (after["status"], after["seq"]) == (final["status"], final["seq"])


async def test_cancelling_twice_is_409_the_second_time(api_client):
    async with api_client(demo_latency_ms=2000) as (client, _app):
        created = await start(client, questions=["a", "b"])
        eid = created["execution_id"]
        assert (await client.post(f"/api/diagnoses/{eid}/cancel")).status_code == 200
        assert (await client.post(f"/api/diagnoses/{eid}/cancel")).status_code == 409


async def test_retry_before_the_end_is_409_and_starts_nothing(api_client):
    async with api_client(demo_latency_ms=2000) as (client, _app):
        created = await start(client, questions=["a", "b"])
        before = (await client.get("/api/diagnoses")).json()["total"]
        response = await client.post(f"/api/diagnoses/{created['execution_id']}/retry")
        assert response.status_code == 409, response.text
        assert (await client.get("/api/diagnoses")).json()["total"] == before


def one_by_one_platform(tmp_path: Path, base_url: str) -> Path:
    """The fake platform one call at a time and without retries, so a scripted 500 fails
    exactly one task."""
    path = tmp_path / "serial.toml"
    path.write_text(f"""
[platforms.demo]
demo_latency_ms = 10
[platforms.fake]
kind = "openai"
base_url = "{base_url}"
model = "fake-model"
max_concurrency = 1
max_retries = 0
timeout_s = 5.0
""")
    return path


async def test_retry_runs_only_the_tasks_that_were_not_ok_in_a_new_execution(
    api_client, fake_openai, tmp_path
):
    # given a partial success: 2 of 5 tasks get a 500
    fake_openai.script("fake-model", ok(), status(500), ok(), status(500))
    fake_openai.default("fake-model", ok())
    settings = {"platforms_file": one_by_one_platform(tmp_path, fake_openai.base_url)}
    async with api_client(**settings) as (client, _app):
        questions = ["q1", "q2", "q3", "q4", "q5"]
        created = await start(client, platforms=["fake"], questions=questions)
        old_id = created["execution_id"]
        old = await wait_terminal(client, old_id)
        assert old["status"] == "partial_success" and (old["completed"], old["failed"]) == (3, 2)
        old_rows = await all_results(client, old_id)
        failed_questions = {r["question"] for r in old_rows if r["status"] != "ok"}
        assert len(failed_questions) == 2
        calls_before = len(fake_openai.calls)
        assert calls_before == 5
        # when retried (the fake now answers every call)
        response = await client.post(f"/api/diagnoses/{old_id}/retry")
        # then a new execution, pointing at the old one, runs only the 2 failed tasks
        assert response.status_code == 202, response.text
        new = response.json()
        new_id = new["execution_id"]
        assert new_id != old_id and new["total_tasks"] == 5
        assert new["status_url"] == f"/api/diagnoses/{new_id}"
        final = await wait_terminal(client, new_id)
        assert final["status"] == "completed" and final["retry_of"] == old_id
        assert (final["completed"], final["failed"], final["progress"]) == (5, 0, 100)
        retried = fake_openai.calls[calls_before:]
        assert sorted(c.prompt for c in retried) == sorted(failed_questions)
        new_rows = await all_results(client, new_id)
        assert len(new_rows) == 5 and all(r["status"] == "ok" for r in new_rows)
        copied = {r["task_key"]: r for r in old_rows if r["status"] == "ok"}
        for row in new_rows:
            if row["task_key"] in copied:
                assert row["answer"] == copied[row["task_key"]]["answer"]
                assert row["analysis"] == copied[row["task_key"]]["analysis"]
        # and the old execution never changed
        again = (await client.get(f"/api/diagnoses/{old_id}")).json()
        assert {k: again[k] for k in ("status", "seq", "completed", "failed", "finished_at")} == {
            k: old[k] for k in ("status", "seq", "completed", "failed", "finished_at")}
        assert await all_results(client, old_id) == old_rows
        # and the history lists both, the retry first
        items = (await client.get("/api/diagnoses")).json()["items"]
        assert [i["execution_id"] for i in items[:2]] == [new_id, old_id]
        assert items[0]["retry_of"] == old_id and items[1]["retry_of"] is None


async def test_retrying_a_completed_execution_copies_everything_and_calls_nothing(
    api_client, fake_openai
):
    fake_openai.default("fake-model", ok())
    async with api_client(fake_base_url=fake_openai.base_url) as (client, _app):
        created = await start(client, platforms=["fake"], questions=["a", "b"])
        await wait_terminal(client, created["execution_id"])
        calls = len(fake_openai.calls)
        response = await client.post(f"/api/diagnoses/{created['execution_id']}/retry")
        assert response.status_code == 202, response.text
        final = await wait_terminal(client, response.json()["execution_id"])
        assert final["status"] == "completed" and final["completed"] == 2
        assert len(fake_openai.calls) == calls
