"""The offline demo platform: deterministic, realistic, uneven about brands, latency on demand."""

import asyncio
import re
import threading

import pytest

from diagnosis.providers import PRESETS, ChatRequest, DemoProvider

BRANDS = ["蔚来", "理想", "小鹏"]
QUESTIONS = [
    f"{topic}，推荐哪个品牌？第{n}问" for n in range(10) for topic in ("电动车", "SUV", "家用车")
]


@pytest.fixture
def demo() -> DemoProvider:
    return DemoProvider(PRESETS["demo"], latency_ms=0)


@pytest.fixture
def recorded_sleeps(monkeypatch) -> list[float]:
    """The sleeps this test's own thread asks for, none of them slept.

    asyncio.sleep is one attribute for the whole process, and a session's uvicorn threads (the
    fake provider) tick on it every 0.1 s: their sleeps go to the real function, or they would
    spin on the fake and fill this list with millions of 0.1s (CI hung formatting one).
    """
    sleeps: list[float] = []
    real_sleep, own_thread = asyncio.sleep, threading.get_ident()

    async def fake_sleep(seconds: float, *args: object) -> object:
        if threading.get_ident() != own_thread:
            return await real_sleep(seconds, *args)
        sleeps.append(seconds)
        return args[0] if args else None

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    return sleeps


async def test_same_request_gives_the_same_answer(demo):
    request = ChatRequest("推荐一款电动车", brands=BRANDS, sample=2)

    first, second = await demo.complete(request), await demo.complete(request)

    assert first.text == second.text


async def test_another_sample_may_give_another_answer(demo):
    texts = {
        (await demo.complete(ChatRequest("推荐一款电动车", brands=BRANDS, sample=s))).text
        for s in range(5)
    }

    assert len(texts) > 1


async def test_brands_are_mentioned_unevenly_but_each_at_least_once(demo):
    answers = [(await demo.complete(ChatRequest(q, brands=BRANDS))).text for q in QUESTIONS]

    counts = {brand: sum(brand in answer for answer in answers) for brand in BRANDS}

    assert all(count >= 1 for count in counts.values())
    assert len(set(counts.values())) > 1
    assert counts["蔚来"] > counts["小鹏"]


async def test_answers_look_real_lists_prose_urls_and_both_sentiments(demo):
    answers = [(await demo.complete(ChatRequest(q, brands=BRANDS))).text for q in QUESTIONS]
    joined = "\n".join(answers)

    assert re.search(r"^1\. \*\*", joined, re.MULTILINE)
    assert any(not re.search(r"^(\d+\.|###|-) ", a.split("参考来源")[0], re.M) for a in answers)
    assert "https://" in joined
    assert any(word in joined for word in ("出色", "值得推荐", "口碑很好"))
    assert any(word in joined for word in ("不太推荐", "偏高", "投诉"))


async def test_mostly_ascii_prompt_gets_an_english_answer(demo):
    completion = await demo.complete(
        ChatRequest("Which EV brand is best?", brands=["NIO", "XPeng"])
    )

    assert completion.text.isascii()


async def test_no_brands_gives_a_generic_answer(demo):
    completion = await demo.complete(ChatRequest("怎么选车？"))

    assert completion.text
    assert completion.usage and completion.usage["total_tokens"] > 0


async def test_zero_latency_does_not_sleep(recorded_sleeps):
    demo = DemoProvider(PRESETS["demo"].model_copy(update={"demo_latency_ms": 0}))

    await demo.complete(ChatRequest("推荐", brands=BRANDS))

    assert recorded_sleeps == []


async def test_configured_latency_sleeps_with_bounded_deterministic_jitter(recorded_sleeps):
    config = PRESETS["demo"].model_copy(update={"demo_latency_ms": 300, "demo_jitter_ms": 100})
    demo = DemoProvider(config)
    request = ChatRequest("推荐", brands=BRANDS)

    await demo.complete(request)
    await demo.complete(request)

    assert len(recorded_sleeps) == 2
    assert recorded_sleeps[0] == recorded_sleeps[1]
    assert 0.2 <= recorded_sleeps[0] <= 0.4
