"""GET /api/diagnoses/{id} (SPEC 5, 6): ETag from seq, 304, stop-polling flags, per-platform
counters and breaker state; and the invariants of SPEC 3 as seen by a client polling a run."""

import asyncio
import time
from typing import Any

import pytest

from tests.api.flows import start, wait_terminal
from tests.fake_openai import ok, status

TERMINAL = {"completed", "partial_success", "failed", "cancelled", "timeout"}
STAGES_OF = {
    "queued": {"init"},
    "running": {"init", "ai_fetching", "analyzing"},
    **{s: {"done"} for s in TERMINAL},
}


async def test_a_finished_execution_says_stop_polling_with_per_platform_counters(api_client):
    async with api_client() as (client, _app):
        created = await start(client, questions=["推荐", "{brand}怎么样"], samples=2)
        # when it ends
        view = await wait_terminal(client, created["execution_id"])
        # then
        assert view["status"] == "completed" and view["stage"] == "done"
        assert view["is_completed"] is True and view["should_stop_polling"] is True
        assert view["progress"] == 100 and view["total"] == 6
        assert view["completed"] == 6 and view["failed"] == 0
        assert view["finished_at"] and view["started_at"] and view["created_at"]
        assert view["source"] == "database"
        [demo] = view["platforms"]
        assert demo["platform"] == "demo" and demo["display_name"] == "Demo (offline)"
        assert (demo["total"], demo["completed"], demo["failed"]) == (6, 6, 0)
        assert demo["breaker"] == "closed"


async def test_a_queued_or_running_execution_says_keep_polling(api_client):
    async with api_client(demo_latency_ms=2000) as (client, _app):
        created = await start(client)
        view = (await client.get(created["status_url"])).json()
        assert view["status"] in ("queued", "running")
        assert view["is_completed"] is False and view["should_stop_polling"] is False
        assert view["progress"] < 100


async def test_the_etag_follows_seq_and_if_none_match_answers_304(api_client):
    async with api_client(demo_latency_ms=300) as (client, _app):
        created = await start(client, samples=3)
        url = created["status_url"]
        # given the first answer's ETag
        first = await client.get(url)
        etag = first.headers["etag"]
        assert str(first.json()["seq"]) in etag
        # when asked again with it before anything changed (or after: then a new ETag)
        again = await client.get(url, headers={"If-None-Match": etag})
        if again.status_code == 200:
            assert again.headers["etag"] != etag
        else:
            assert again.status_code == 304 and again.content == b""
            assert again.headers["etag"] == etag
        # then once finished, the ETag is stable and a conditional GET is 304
        await wait_terminal(client, created["execution_id"])
        final = await client.get(url)
        assert final.headers["etag"] != etag
        assert str(final.json()["seq"]) in final.headers["etag"]
        cached = await client.get(url, headers={"If-None-Match": final.headers["etag"]})
        assert cached.status_code == 304
        listed = await client.get(url, headers={"If-None-Match": f'"x", {final.headers["etag"]}'})
        assert listed.status_code == 304
        stale = await client.get(url, headers={"If-None-Match": etag})
        assert stale.status_code == 200 and stale.json()["is_completed"] is True
        # weak comparison: the tag without W/ matches too, and so does *
        strong = final.headers["etag"].removeprefix("W/")
        assert (await client.get(url, headers={"If-None-Match": strong})).status_code == 304
        assert (await client.get(url, headers={"If-None-Match": "*"})).status_code == 304


async def test_the_breaker_state_of_a_failing_platform_shows_in_the_status(
    api_client, fake_openai
):
    # given a platform that answers 500 to everything: 5 failed attempts open its breaker
    fake_openai.default("fake-model", status(500))
    async with api_client(fake_base_url=fake_openai.base_url) as (client, _app):
        questions = [f"q{i}" for i in range(12)]
        created = await start(client, platforms=["fake", "demo"], questions=questions)
        view = await wait_terminal(client, created["execution_id"])
        # then the fake platform failed with an open breaker; demo is fine
        assert view["status"] == "partial_success"
        by_id = {p["platform"]: p for p in view["platforms"]}
        assert by_id["fake"]["breaker"] == "open"
        fake = by_id["fake"]
        assert (fake["total"], fake["completed"], fake["failed"]) == (12, 0, 12)
        assert by_id["fake"]["display_name"] == "Fake GPT"
        assert by_id["demo"]["breaker"] == "closed" and by_id["demo"]["completed"] == 12
        results = (await client.get(f"/api/diagnoses/{created['execution_id']}/results")).json()
        kinds = {r["error_kind"] for r in results["items"] if r["platform"] == "fake"}
        # 12 tasks, at most 4 in flight: the later ones were refused before any call
        assert kinds <= {"server_error", "circuit_open"} and "circuit_open" in kinds


def check_answer(view: dict[str, Any], previous: dict[str, Any] | None) -> None:
    """SPEC 3's invariants over one answer and the one before it."""
    assert view["stage"] in STAGES_OF[view["status"]], (view["status"], view["stage"])
    assert view["completed"] + view["failed"] <= view["total"]
    assert view["progress"] == 100 * (view["completed"] + view["failed"]) // view["total"]
    assert view["is_completed"] == (view["status"] in TERMINAL)
    # one process, healthy DB: the cache is never behind the DB nor astray
    assert view["source"] == "database"
    assert view["cache_sync_status"] in ("synced", "cache_miss"), view
    if view["cache_sync_status"] == "synced":
        assert view["cache_progress"] >= view["progress"]
    if view["status"] in TERMINAL:
        assert view["progress"] == 100
    if previous is not None:
        assert view["progress"] >= previous["progress"]
        assert view["seq"] >= previous["seq"]
        assert view["completed"] >= previous["completed"]
        assert view["failed"] >= previous["failed"]
        if previous["status"] in TERMINAL:
            assert view["status"] == previous["status"]


@pytest.mark.parametrize("platform", ["demo", "fake"])
async def test_a_client_polling_every_50ms_never_sees_an_invariant_broken(
    api_client, fake_openai, platform
):
    # given a run of 3 questions x 5 samples with ~50 ms calls (the fake: some 500s too)
    fake_openai.script("fake-model", status(500), ok(latency_s=0.05), status(503))
    fake_openai.default("fake-model", ok(latency_s=0.05))
    async with api_client(fake_base_url=fake_openai.base_url, demo_latency_ms=50) as (client, _):
        created = await start(client, platforms=[platform], questions=["a", "b", "c"], samples=5)
        eid, total = created["execution_id"], created["total_tasks"]
        assert total == 15
        # when a client polls every 50 ms through the whole run (bounded)
        answers: list[dict[str, Any]] = []
        previous = None
        deadline = time.monotonic() + 30
        while True:
            assert time.monotonic() < deadline, "the run did not end within 30 s"
            view = (await client.get(f"/api/diagnoses/{eid}")).json()
            check_answer(view, previous)
            answers.append(view)
            previous = view
            if view["status"] in TERMINAL:
                # the first terminal answer: every result is already readable
                page = (await client.get(f"/api/diagnoses/{eid}/results?limit=500")).json()
                assert page["total"] == total == len(page["items"])
                assert all(r["status"] in ("ok", "error", "cancelled") for r in page["items"])
                assert sum(r["status"] == "ok" for r in page["items"]) == view["completed"]
                break
            await asyncio.sleep(0.05)
        # then the run was seen in motion, and ended well
        assert view["status"] in ("completed", "partial_success")
        assert len(answers) >= 3
        assert any(a["status"] == "running" and a["progress"] < 100 for a in answers)


async def test_results_visible_while_running_never_exceed_the_status_counters(api_client):
    # (a result is readable once flushed; the status route reads the same DB row)
    async with api_client(demo_latency_ms=60) as (client, _app):
        created = await start(client, questions=["a", "b", "c"], samples=4)
        eid = created["execution_id"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            page = (await client.get(f"/api/diagnoses/{eid}/results?limit=500")).json()
            view = (await client.get(f"/api/diagnoses/{eid}")).json()
            # results read first, status after: the status can only be ahead
            assert page["total"] <= view["completed"] + view["failed"]
            if view["is_completed"]:
                break
            await asyncio.sleep(0.03)
        else:
            raise AssertionError("did not end")
