"""Factories for API tests: the ASGI app with its lifespan running, or a real uvicorn server.

Both use a real database (tests.databases: a SQLite file, a PostgreSQL database; each test runs
on both) and a platforms file in tmp_path: `demo` with a short latency, and `fake` pointing at
the loopback fake OpenAI server.
"""

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from diagnosis.api.app import create_app
from diagnosis.settings import Settings
from tests.databases import MakeDatabaseUrl


def platforms_toml(fake_base_url: str | None, *, demo_latency_ms: int = 20) -> str:
    text = f"""
[platforms.demo]
demo_latency_ms = {demo_latency_ms}
demo_jitter_ms = {demo_latency_ms // 2}
"""
    if fake_base_url:
        text += f"""
[platforms.fake]
kind = "openai"
base_url = "{fake_base_url}"
model = "fake-model"
display_name = "Fake GPT"
aliases = ["假模型"]
max_concurrency = 4
timeout_s = 5.0
max_retries = 1
"""
    return text


@pytest.fixture
def make_settings(tmp_path: Path, make_database_url: MakeDatabaseUrl) -> Callable[..., Settings]:
    def factory(*, fake_base_url: str | None = None, demo_latency_ms: int = 20,
                **overrides: Any) -> Settings:
        platforms = tmp_path / "platforms.toml"
        platforms.write_text(platforms_toml(fake_base_url, demo_latency_ms=demo_latency_ms))
        fields: dict[str, Any] = {
            "database_url": make_database_url("api"),
            "platforms_file": platforms,
            "flush_interval_s": 0.05,
            "retry_backoff_s": 0.01,
            "retry_backoff_cap_s": 0.05,
            "start_rate_per_min": 1000,
        }
        fields.update(overrides)
        return Settings(**fields)

    return factory


@pytest.fixture
def api_client(make_settings: Callable[..., Settings]) -> Callable[..., Any]:
    """`async with api_client(**settings) as (client, app):` the lifespan runs around it."""

    @asynccontextmanager
    async def factory(**overrides: Any) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
        app = create_app(make_settings(**overrides))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                yield client, app

    return factory


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """A real uvicorn on 127.0.0.1 in a background thread; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            lifespan="on", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def live_server(make_settings: Callable[..., Settings]) -> Callable[..., Any]:
    """`with live_server(**settings) as (base_url, app):` a real uvicorn for SSE tests."""

    @contextmanager
    def factory(**overrides: Any) -> Iterator[tuple[str, Any]]:
        app = create_app(make_settings(**overrides))
        with serve_in_thread(app) as base_url:
            yield base_url, app

    return factory
