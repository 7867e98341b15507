"""The Redis the cluster tests run on (127.0.0.1:6379 unless DIAGNOSIS_TEST_REDIS_URL says
otherwise). Each test gets its own key prefix, and its keys are deleted at its end, so tests never
meet. Where Redis does not answer, the tests that need it are skipped with one line; under CI they
fail instead (a skip would hide a missing service).
"""

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

REDIS_URL = os.environ.get("DIAGNOSIS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass(frozen=True)
class RedisSpace:
    """A test's Redis: the server's URL and the key prefix every cluster part of the test uses."""

    url: str
    prefix: str


def _unreachable(url: str) -> str | None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        client.close()
    return None


def _delete_prefix(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        # SAQ names its keys saq:<queue>:... and saq:job:<queue>:...; the queue is named by prefix.
        for pattern in (f"{prefix}*", f"saq:{prefix}*", f"saq:job:{prefix}*"):
            keys = list(client.scan_iter(match=pattern, count=1000))
            if keys:
                client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(scope="session")
def redis_server_url() -> str:
    """The Redis of this run; skipped (failed under CI) when it does not answer."""
    why = _unreachable(REDIS_URL)
    if why is not None:
        message = f"Redis at {REDIS_URL} is unreachable ({why}); the cluster tests need it"
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the Redis service. {message}")  # a skip would hide it
        pytest.skip(message)
    return REDIS_URL


@pytest.fixture
def redis_space(redis_server_url: str) -> Iterator[RedisSpace]:
    prefix = f"diagtest:{secrets.token_hex(4)}"
    yield RedisSpace(redis_server_url, prefix)
    _delete_prefix(redis_server_url, prefix)
