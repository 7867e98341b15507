"""The loopback fake server itself: per-model scripts, defaults, call records, peak concurrency."""

import asyncio
import subprocess
import sys
import time

import httpx

from tests.fake_openai import DEFAULT_ANSWER, FakeOpenAI, hang, ok, status


def chat(model: str, prompt: str = "q") -> dict:
    return {"model": model, "messages": [{"role": "user", "content": prompt}]}


async def test_script_is_consumed_in_order_then_default_applies(fake_openai):
    fake_openai.script("a", status(503), ok("first"))
    fake_openai.default("a", ok("later"))
    fake_openai.default(None, ok("anyone"))

    async with httpx.AsyncClient(base_url=fake_openai.base_url) as client:
        replies = [await client.post("/chat/completions", json=chat("a")) for _ in range(3)]
        other = await client.post("/chat/completions", json=chat("b"))

    assert [reply.status_code for reply in replies] == [503, 200, 200]
    assert [r.json()["choices"][0]["message"]["content"] for r in replies[1:]] == ["first", "later"]
    assert other.json()["choices"][0]["message"]["content"] == "anyone"


async def test_text_may_be_computed_from_the_prompt_and_defaults_to_a_fixed_answer(fake_openai):
    fake_openai.script("a", ok(lambda prompt: f"echo {prompt}"), ok())

    async with httpx.AsyncClient(base_url=fake_openai.base_url) as client:
        echo = await client.post("/chat/completions", json=chat("a", "你好"))
        fixed = await client.post("/chat/completions", json=chat("a"))

    assert echo.json()["choices"][0]["message"]["content"] == "echo 你好"
    assert fixed.json()["choices"][0]["message"]["content"] == DEFAULT_ANSWER


async def test_calls_are_recorded_per_model_with_auth_flag_not_key(fake_openai):
    async with httpx.AsyncClient(base_url=fake_openai.base_url) as client:
        await client.post("/chat/completions", json=chat("a", "one"))
        await client.post(
            "/chat/completions", json=chat("b", "two"), headers={"Authorization": "Bearer sk-x"}
        )

    assert [(c.model, c.prompt, c.had_auth) for c in fake_openai.calls] == [
        ("a", "one", False),
        ("b", "two", True),
    ]
    assert [c.prompt for c in fake_openai.calls_for("b")] == ["two"]
    assert "sk-x" not in repr(fake_openai.calls)


async def test_peak_concurrency_counts_calls_in_flight_per_model(fake_openai):
    fake_openai.default("slow", ok(latency_s=0.2))
    limits = httpx.Limits(max_connections=10)

    async with httpx.AsyncClient(base_url=fake_openai.base_url, limits=limits) as client:
        await asyncio.gather(
            *(client.post("/chat/completions", json=chat("slow")) for _ in range(5))
        )
        await client.post("/chat/completions", json=chat("fast"))

    assert fake_openai.peak_concurrency("slow") == 5
    assert fake_openai.peak_concurrency("fast") == 1
    assert fake_openai.peak_concurrency() == 5


async def test_hang_ends_when_the_client_gives_up(fake_openai):
    fake_openai.script("h", hang())

    async with httpx.AsyncClient(base_url=fake_openai.base_url, timeout=0.2) as client:
        try:
            await client.post("/chat/completions", json=chat("h"))
        except httpx.TimeoutException:
            pass

    await fake_openai.async_wait_until(lambda: fake_openai.in_flight("h") == 0, timeout=5)


def test_wait_for_calls_blocks_until_enough_calls_arrive():
    with FakeOpenAI() as fake:
        httpx.post(f"{fake.base_url}/chat/completions", json=chat("a"))

        assert len(fake.wait_for_calls(1, timeout=2)) == 1


def test_stopping_does_not_wait_for_hanging_calls():
    with FakeOpenAI() as fake:
        fake.default(None, hang())
        with httpx.Client(timeout=0.2) as client:
            try:
                client.post(f"{fake.base_url}/chat/completions", json=chat("a"))
            except httpx.TimeoutException:
                pass
        started = time.monotonic()
    assert time.monotonic() - started < 3


def test_module_runs_as_a_standalone_server():
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_openai", "--port", "0", "--latency-ms", "5"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip().rsplit(" ", 1)[-1]
        reply = httpx.post(f"{base_url}/chat/completions", json=chat("m"), timeout=10)
        assert reply.json()["choices"][0]["message"]["content"] == DEFAULT_ANSWER
    finally:
        process.terminate()
        process.wait(timeout=10)
