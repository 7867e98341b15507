"""The cluster-wide limit seam (SPEC 4, 11): what a platform's calls must also pass when several
worker processes share its API key.

In one process the platform's own slots and rate limiter (calls.py) are the whole limit, so the
gate is open. The cluster's gates (diagnosis.cluster.limits) hold a Redis lease per call and
take an rpm token from a shared window. A gate never decides anything about the breaker.
"""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol


class PlatformGate(Protocol):
    def slot(self) -> AbstractAsyncContextManager[None]:
        """Held around one HTTP attempt: one of the platform's `max_concurrency` slots across the
        whole cluster. Waits while all are taken; released on exit, even on cancellation."""
        ...

    async def pace(self) -> None:
        """Waits until one more call fits the platform's cluster-wide `rpm`."""
        ...


# platform_id, max_concurrency, rpm -> the platform's gate
GateFactory = Callable[[str, int, int | None], PlatformGate]


class OpenGate:
    """The in-process gate: nothing beyond the process's own limits."""

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        yield

    async def pace(self) -> None:
        return None


def open_gates(platform_id: str, max_concurrency: int, rpm: int | None) -> PlatformGate:
    return OpenGate()
