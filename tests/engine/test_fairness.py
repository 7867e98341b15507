"""Platform slots are shared round-robin between executions, not first come first served."""

import asyncio

import pytest

from diagnosis.engine.fairness import FairSlots
from tests.engine.conftest import fake_platform, request
from tests.fake_openai import ok


async def test_waiters_are_served_round_robin_by_key() -> None:
    slots = FairSlots(1)
    order: list[str] = []

    async def work(key: str, n: int) -> None:
        await slots.acquire(key)
        order.append(f"{key}{n}")
        await asyncio.sleep(0)
        slots.release()

    await slots.acquire("hold")
    tasks = [asyncio.create_task(work("a", i)) for i in range(4)]
    tasks += [asyncio.create_task(work("b", i)) for i in range(2)]
    await asyncio.sleep(0)  # everyone queues
    slots.release()
    await asyncio.gather(*tasks)
    assert order == ["a0", "b0", "a1", "b1", "a2", "a3"]
    assert slots.in_use == 0


async def test_a_cancelled_waiter_gives_up_its_place_and_loses_no_slot() -> None:
    slots = FairSlots(1)
    await slots.acquire("x")
    waiter = asyncio.create_task(slots.acquire("y"))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    slots.release()
    assert slots.in_use == 0
    await asyncio.wait_for(slots.acquire("z"), 1)  # the slot is free again
    assert slots.in_use == 1


async def test_a_small_diagnosis_is_not_stuck_behind_a_large_one(make_engine, fake_openai):
    fake_openai.default("p", ok(latency_s=0.1))
    async with make_engine([fake_platform("p", fake_openai.base_url, max_concurrency=1)]) as engine:
        large = await engine.create(request(["p"], questions=[f"大{i}" for i in range(12)]))
        await fake_openai.async_wait_for_calls(1)
        small = await engine.create(request(["p"], questions=["小0", "小1"]))
        await engine.runner.wait(small.execution_id)
        await engine.runner.wait(large.execution_id)
    prompts = [c.prompt for c in fake_openai.calls_for("p")]
    # the small one's two calls alternate with the large one's, long before the large one ends
    assert max(prompts.index("小0"), prompts.index("小1")) <= 5, prompts
