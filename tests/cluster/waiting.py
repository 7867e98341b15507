"""The one bounded wait of the in-process cluster tests: Redis and the workers act on their own
schedule, so a test polls for the state it expects, and a broken part fails it instead of
hanging it."""

import asyncio
from collections.abc import Callable


async def eventually(condition: Callable[[], bool], *, bound_s: float = 10.0,
                     every_s: float = 0.01) -> None:
    async with asyncio.timeout(bound_s):
        while True:
            if condition():
                return
            await asyncio.sleep(every_s)
