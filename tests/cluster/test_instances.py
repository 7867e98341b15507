"""Two API instances under the queue runner (issue 16, items 1, 6-8), each a real uvicorn with
its own Redis client: any instance accepts the stream tokens another issued, shares the start
rate, and streams an execution that a worker runs; only one leads the monitors' scheduler."""

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx
import pytest
from httpx_sse import aconnect_sse

from diagnosis.api.app import create_app
from diagnosis.cluster.leader import Leadership
from diagnosis.settings import Settings
from tests.api.conftest import serve_in_thread
from tests.cluster.conftest import NodeFactory
from tests.cluster.waiting import eventually
from tests.databases import postgresql_only
from tests.engine.conftest import fake_platform
from tests.fake_openai import FakeOpenAI, ok

pytestmark = [postgresql_only, pytest.mark.usefixtures("dump_stuck_tasks")]

TOKEN = "tok-cluster-a1b2c3d4e5"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def two_instances(cluster_settings: Callable[..., Settings], tmp_path: Any) -> Callable[
        ..., Any]:
    @contextmanager
    def factory(platforms_toml: str = "", **overrides: Any) -> Iterator[list[str]]:
        platforms = tmp_path / "platforms.toml"
        platforms.write_text(platforms_toml)
        settings = cluster_settings(platforms_file=platforms, **overrides)
        apps.clear()
        with ExitStack() as stack:
            apps.extend(create_app(settings) for _ in range(2))
            yield [stack.enter_context(serve_in_thread(app)) for app in apps]

    apps: list[Any] = []
    factory.apps = apps  # type: ignore[attr-defined]

    return factory


async def test_a_stream_token_from_one_instance_is_accepted_by_the_other(
    two_instances: Callable[..., Any],
) -> None:
    with two_instances(api_tokens=f"{TOKEN}:alice") as (a, b):
        async with httpx.AsyncClient() as client:
            created = await client.post(f"{a}/api/diagnoses", headers=AUTH,
                                        json={"brand": "蔚来", "platforms": ["demo"]})
            assert created.status_code == 202
            eid = created.json()["execution_id"]
            token = (await client.post(f"{a}/api/auth/stream-token", headers=AUTH)).json()
            response = await client.get(f"{b}/api/diagnoses/{eid}",
                                        params={"access_token": token["access_token"]})
            assert response.status_code == 200 and response.json()["owner"] == "alice"
            forged = await client.get(f"{b}/api/diagnoses/{eid}",
                                      params={"access_token": "Zm9yZ2Vk.c2ln"})
            assert forged.status_code == 401


async def test_the_start_rate_is_one_limit_for_every_instance(
    two_instances: Callable[..., Any],
) -> None:
    with two_instances(start_rate_per_min=3) as (a, b):
        async with httpx.AsyncClient() as client:
            codes = []
            for base in (a, b, a, b):
                response = await client.post(f"{base}/api/diagnoses",
                                             json={"brand": "蔚来", "platforms": ["demo"]})
                codes.append(response.status_code)
            assert codes == [202, 202, 202, 429]
            assert 1 <= int(response.headers["retry-after"]) <= 60
            assert "detail" in response.json()


async def test_an_execution_started_on_one_instance_streams_on_the_other(
    two_instances: Callable[..., Any], make_node: NodeFactory, fake_openai: FakeOpenAI,
) -> None:
    fake_openai.default(None, ok(latency_s=0.05))
    toml = (f'[platforms.fake]\nkind = "openai"\nbase_url = "{fake_openai.base_url}"\n'
            'model = "fake"\nmax_concurrency = 2\nmax_retries = 0\n')
    platform = fake_platform("fake", fake_openai.base_url, max_concurrency=2)
    with two_instances(toml) as (a, b):
        async with httpx.AsyncClient(timeout=30) as client:
            created = await client.post(f"{a}/api/diagnoses", json={
                "brand": "蔚来", "platforms": ["fake"],
                "questions": [f"问题{i}" for i in range(8)]})
            eid = created.json()["execution_id"]
            async with aconnect_sse(client, "GET", f"{b}/api/diagnoses/{eid}/events") as sse:
                async with make_node("worker", [platform]), asyncio.timeout(60):
                    events = [e async for e in sse.aiter_sse()]
    names = [e.event for e in events]
    assert names[0] == "progress" and names[-1] == "complete"
    assert names.count("task") == 8  # every task's summary crossed from the worker to B
    seqs = [int(e.id) for e in events if e.event == "progress"]
    assert seqs == sorted(seqs)


async def test_one_instance_leads_the_monitors_and_another_takes_over_when_it_goes(
    cluster_settings: Callable[..., Settings],
) -> None:
    import redis.asyncio as aioredis

    settings = cluster_settings()
    leading: list[str] = []

    def lead_as(name: str) -> Any:
        async def lead() -> Any:
            leading.append(name)

            async def stop() -> None:
                leading.remove(name)
            return stop
        return lead

    clients = [aioredis.Redis.from_url(settings.redis_url) for _ in range(2)]
    first, second = (
        Leadership(c, name=f"{settings.redis_prefix}:lead:test", ttl_s=1.5, lead=lead_as(n))
        for c, n in zip(clients, ("first", "second"), strict=True)
    )
    try:
        await first.start()
        await eventually(lambda: leading == ["first"])
        await second.start()
        await asyncio.sleep(2 * 1.5)  # two lease periods: the second must not have led
        assert leading == ["first"]
        await first.aclose()  # the leader goes: its lock is released
        await eventually(lambda: leading == ["second"])
    finally:
        await first.aclose()
        await second.aclose()
        for c in clients:
            await c.aclose()


def test_exactly_one_instance_runs_the_monitors_scheduler(
    two_instances: Callable[..., Any],
) -> None:
    with two_instances():
        apps = two_instances.apps  # type: ignore[attr-defined]

        def scheduling() -> list[bool]:
            return [app.state.monitors.scheduler._task is not None for app in apps]

        deadline = time.monotonic() + 10
        while sorted(scheduling()) != [False, True]:
            assert time.monotonic() < deadline, scheduling()
            time.sleep(0.02)
        assert sorted(scheduling()) == [False, True]
