"""A platform's concurrency slots, shared fairly between executions.

Hand-written because asyncio.Semaphore serves waiters first come, first served: one
1000-task diagnosis would hold a platform until it ends while a 3-task one started a second
later waits behind all of it (seen in BENCHMARKS.md, section 3). Here waiters are served
round-robin by key (the execution), first come, first served within a key. No I/O.
"""

import asyncio
from collections import deque


class FairSlots:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._free = capacity
        self._waiters: dict[str, deque[asyncio.Future[None]]] = {}
        self._turns: deque[str] = deque()  # keys with waiters, in the order they are served

    @property
    def in_use(self) -> int:
        return self.capacity - self._free

    async def acquire(self, key: str) -> None:
        if self._free > 0 and not self._turns:
            self._free -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._waiters.get(key)
        if queue is None:
            queue = self._waiters[key] = deque()
            self._turns.append(key)
        queue.append(future)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # the slot was handed to us as we were cancelled: pass it on
            else:
                self._forget(key, future)
            raise

    def release(self) -> None:
        while self._turns:
            key = self._turns.popleft()
            queue = self._waiters[key]
            future = queue.popleft()
            if queue:
                self._turns.append(key)  # its next waiter goes to the back of the line
            else:
                del self._waiters[key]
            if not future.done():  # skip a waiter cancelled but not yet forgotten
                future.set_result(None)
                return
        self._free += 1

    def _forget(self, key: str, future: asyncio.Future[None]) -> None:
        queue = self._waiters.get(key)
        if queue is None or future not in queue:
            return
        queue.remove(future)
        if not queue:
            del self._waiters[key]
            self._turns.remove(key)
