"""Cross-worker limits (SPEC 4, 11): a platform's max_concurrency and rpm held across every worker,
and the API's start rate across every instance, kept in Redis. A Redis fault must never crash a
call or a request here: gates wait and retry until the caller gives up, the start limiter lets
the start through.

The bound: a platform never has more than `max_concurrency` slots held at once cluster-wide, as
each slot is one redis-py lease (`redis.asyncio.lock.Lock`) per slot index; a live worker's renewer
extends its leases every `lease_ttl_s / 3`, so after a worker dies its slots return within
`lease_ttl_s`. (A worker stalled longer than `lease_ttl_s` loses its lease and the platform may run
one call over until that call ends; that is logged.) The rpm and start windows are `limits` moving
windows, stamped with each process's clock, so they are as exact as the workers' clocks agree.
"""

import asyncio
import logging
import math
import random
import time
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager, suppress
from typing import Any, cast

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError

from diagnosis.cluster.loops import raise_if_cancelling
from diagnosis.engine.errors import RateLimited
from diagnosis.engine.gates import PlatformGate

log = logging.getLogger("diagnosis.cluster.limits")

# Slot waiters poll with jitter so workers that lost the same race do not retry in lockstep.
_POLL_S = (0.005, 0.030)
# A refused rpm waiter sleeps until the window's oldest entry leaves it, within these bounds.
_MIN_WAIT_S = 0.01
_MAX_WAIT_S = 60.0
# Redis failing: first retry after 50 ms, doubling up to 2 s (with jitter).
_BACKOFF_FIRST_S = 0.05
_BACKOFF_CAP_S = 2.0


def _backoff_s(failures: int) -> float:
    base = min(_BACKOFF_CAP_S, _BACKOFF_FIRST_S * 2 ** (failures - 1))
    return base * random.uniform(0.5, 1.0)


def _redis_fault(what: str, platform_id: str, exc: RedisError, failures: int) -> float:
    """Log a Redis fault met while waiting for `what`; returns how long to back off."""
    delay = _backoff_s(failures)
    log.warning("%s of %s unavailable (%s); retrying in %.2f s",
                what, platform_id, type(exc).__name__, delay)
    return delay


def _until(reset_time: float) -> float:
    """Seconds from now until an epoch time, within [_MIN_WAIT_S, _MAX_WAIT_S]."""
    return min(_MAX_WAIT_S, max(_MIN_WAIT_S, reset_time - time.time()))


def _moving_window(
    storage_uri: str, *, key_prefix: str, socket_timeout_s: float
) -> tuple[MovingWindowRateLimiter, ConnectionPool]:
    """A moving-window limiter on `storage_uri` ("redis://..." or limits' "async+redis://..."),
    with the connection pool it runs on (owned by the caller, which closes it)."""
    redis_url = storage_uri.removeprefix("async+")
    # Our own pool, so a hung Redis times out (the fail-open and retry paths need an answer)
    # and aclose() can close it: limits' storage has no close of its own.
    pool = ConnectionPool.from_url(
        redis_url, socket_timeout=socket_timeout_s, socket_connect_timeout=socket_timeout_s
    )
    storage = RedisStorage(
        f"async+{redis_url}",
        implementation="redispy",
        key_prefix=key_prefix,
        # limits passes connection_pool on to redis-py; its **options are typed for scalars.
        connection_pool=cast(Any, pool),
    )
    return MovingWindowRateLimiter(storage), pool


async def _close_pool(pool: ConnectionPool, *, timeout_s: float) -> None:
    try:
        async with asyncio.timeout(timeout_s):
            await pool.aclose()
    except (RedisError, OSError, TimeoutError) as exc:
        log.warning("closing the limits' Redis pool failed: %s", type(exc).__name__)


class RedisPlatformGate:
    """One platform's cluster-wide gate: `max_concurrency` leases and an optional rpm window."""

    def __init__(
        self,
        gates: "RedisPlatformGates",
        *,
        platform_id: str,
        max_concurrency: int,
        rpm: int | None,
    ) -> None:
        self.platform_id = platform_id
        self.max_concurrency = max_concurrency
        self.rpm = rpm
        self._gates = gates
        self._slot_names = [
            f"{gates.prefix}:slot:{platform_id}:{i}" for i in range(max_concurrency)
        ]
        self._rpm_item: RateLimitItem | None = RateLimitItemPerMinute(rpm) if rpm else None
        # One sweeper per platform in this process: with every slot taken, N local waiters
        # each trying every slot every few ms cost N x max_concurrency SETs per poll.
        self._turn = asyncio.Lock()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        lease = await self._acquire()
        try:
            yield
        finally:
            await self._gates._release(lease)

    async def pace(self) -> None:
        if self._rpm_item is None:
            return
        failures = 0
        limiter = self._gates._rpm_limiter
        while True:
            raise_if_cancelling()
            try:
                if await limiter.hit(self._rpm_item, self.platform_id):
                    return
                stats = await limiter.get_window_stats(self._rpm_item, self.platform_id)
                failures = 0
                # Room already (an entry left between the two calls): try again at once.
                delay = _until(stats.reset_time) if stats.remaining <= 0 else _MIN_WAIT_S
            except RedisError as exc:
                raise_if_cancelling()
                failures += 1
                delay = _redis_fault("rpm window", self.platform_id, exc, failures)
            # Jitter: the waiters refused by one full window do not all wake at the same instant.
            await asyncio.sleep(delay + random.uniform(0, _MIN_WAIT_S))

    async def _acquire(self) -> Lock:
        if self._gates.closed:
            raise RuntimeError("the platform gates are closed")
        async with self._turn:
            return await self._sweep_until_won()

    async def _sweep_until_won(self) -> Lock:
        failures = 0
        while True:
            raise_if_cancelling()
            sweep = asyncio.ensure_future(self._sweep())
            try:
                # Shielded: a SET that lands after this waiter is cancelled still takes a slot.
                lease = await asyncio.shield(sweep)
            except asyncio.CancelledError:
                self._gates._release_if_won(sweep)
                raise
            except RedisError as exc:
                raise_if_cancelling()
                failures += 1
                await asyncio.sleep(_redis_fault("slot leases", self.platform_id, exc, failures))
                continue
            if lease is not None:
                self._gates._hold(lease)
                return lease
            failures = 0
            await asyncio.sleep(random.uniform(*_POLL_S))

    async def _sweep(self) -> Lock | None:
        """One non-blocking try of every slot, from a random one (spreads the workers out)."""
        first = random.randrange(self.max_concurrency)
        for k in range(self.max_concurrency):
            lease = self._gates._lease(self._slot_names[(first + k) % self.max_concurrency])
            if await lease.acquire(blocking=False):
                return lease
        return None


class RedisPlatformGates:
    """The cluster's `GateFactory`: one gate per platform, and one renewer task that keeps every
    lease this worker holds alive. `redis` stays the caller's (it is not closed here)."""

    def __init__(
        self,
        *,
        redis: Redis,
        prefix: str,
        lease_ttl_s: float,
        storage_uri: str,
        redis_timeout_s: float = 2.0,
    ) -> None:
        if lease_ttl_s <= 0:
            raise ValueError("lease_ttl_s must be positive")
        self.prefix = prefix
        self.lease_ttl_s = lease_ttl_s
        self._redis = redis
        # A release or renewal that takes longer than this is abandoned: the lease expires anyway.
        self._redis_timeout_s = redis_timeout_s
        self._rpm_limiter, self._rpm_pool = _moving_window(
            storage_uri, key_prefix=f"{prefix}:rpm", socket_timeout_s=redis_timeout_s
        )
        self._gates: dict[str, RedisPlatformGate] = {}
        self._held: set[Lock] = set()
        self._cleanups: set[asyncio.Task[None]] = set()
        self._renewer: asyncio.Task[None] | None = None
        self.closed = False

    def __call__(self, platform_id: str, max_concurrency: int, rpm: int | None) -> PlatformGate:
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency of {platform_id} must be at least 1")
        gate = self._gates.get(platform_id)
        if gate is None or (gate.max_concurrency, gate.rpm) != (max_concurrency, rpm):
            gate = RedisPlatformGate(
                self, platform_id=platform_id, max_concurrency=max_concurrency, rpm=rpm
            )
            self._gates[platform_id] = gate
        return gate

    async def start(self) -> None:
        """Starts the lease renewer (also started by the first slot taken)."""
        if self.closed:
            raise RuntimeError("the platform gates are closed")
        self._ensure_renewer()

    async def aclose(self) -> None:
        """Stops the renewer and gives back every lease still held; bounded, never raises."""
        self.closed = True
        if self._renewer is not None:
            self._renewer.cancel()
            with suppress(asyncio.CancelledError):
                await self._renewer
            self._renewer = None
        held, self._held = list(self._held), set()
        for lease in held:
            self._own(self._release_lease(lease))
        if self._cleanups:
            _, pending = await asyncio.wait(set(self._cleanups), timeout=self._redis_timeout_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await _close_pool(self._rpm_pool, timeout_s=self._redis_timeout_s)

    # -- the gates' side ------------------------------------------------------------------------

    def _lease(self, name: str) -> Lock:
        # thread_local=False: the token must be seen by the renewer task, not only the acquirer.
        return self._redis.lock(name, timeout=self.lease_ttl_s, thread_local=False)

    def _hold(self, lease: Lock) -> None:
        self._held.add(lease)
        if not self.closed:  # a sweep that finished after aclose(): its holder releases it
            self._ensure_renewer()

    async def _release(self, lease: Lock) -> None:
        if lease not in self._held:
            return  # aclose() already gave it back
        self._held.discard(lease)
        # Shielded and owned here: a cancelled holder still gives its slot back.
        await asyncio.shield(self._own(self._release_lease(lease)))

    def _release_if_won(self, sweep: "asyncio.Future[Lock | None]") -> None:
        self._own(self._release_when_won(sweep))

    async def _release_when_won(self, sweep: "asyncio.Future[Lock | None]") -> None:
        try:
            lease = await sweep
        except RedisError:
            return
        if lease is not None:
            await self._release_lease(lease)

    async def _release_lease(self, lease: Lock) -> None:
        try:
            async with asyncio.timeout(self._redis_timeout_s):
                await lease.release()
        except LockError:
            log.warning(
                "slot lease %s had expired before its release (held past lease_ttl_s unrenewed)",
                lease.name,
            )
        except (RedisError, TimeoutError) as exc:
            log.warning(
                "could not release slot lease %s (%s); it frees itself within lease_ttl_s",
                lease.name, type(exc).__name__,
            )

    # -- the renewer ----------------------------------------------------------------------------

    def _ensure_renewer(self) -> None:
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(
                self._renew_forever(), name=f"{self.prefix} slot lease renewer"
            )
            self._renewer.add_done_callback(self._renewer_done)

    def _renewer_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            # Restarted by the next slot taken; until then held leases may lapse.
            log.error("slot lease renewer crashed", exc_info=task.exception())

    async def _renew_forever(self) -> None:
        period = self.lease_ttl_s / 3
        while True:
            await asyncio.sleep(period)
            raise_if_cancelling()
            held = list(self._held)
            if held:
                await asyncio.gather(*(self._renew(lease, timeout_s=period) for lease in held))

    async def _renew(self, lease: Lock, *, timeout_s: float) -> None:
        try:
            async with asyncio.timeout(timeout_s):
                await lease.reacquire()
        except LockError:
            if lease in self._held:  # else it was released meanwhile: nothing lost
                log.warning(
                    "slot lease %s expired while held; its platform may run one call over "
                    "max_concurrency until this call ends",
                    lease.name,
                )
        except (RedisError, TimeoutError) as exc:
            raise_if_cancelling()
            log.warning(
                "could not renew slot lease %s (%s); retrying", lease.name, type(exc).__name__
            )

    def _own(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coro)
        self._cleanups.add(task)
        task.add_done_callback(self._cleanup_done)
        return task

    def _cleanup_done(self, task: asyncio.Task[None]) -> None:
        self._cleanups.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("slot lease clean-up failed", exc_info=task.exception())


class RedisStartRateLimiter:
    """At most `per_minute` starts per key in any 60 s window, across every API instance."""

    def __init__(
        self, storage_uri: str, *, per_minute: int, prefix: str, redis_timeout_s: float = 1.0
    ) -> None:
        self.per_minute = per_minute
        self._item = RateLimitItemPerMinute(max(per_minute, 1))
        self._redis_timeout_s = redis_timeout_s
        # A short socket timeout: a hung Redis must not hold a start request for long.
        self._limiter, self._pool = _moving_window(
            storage_uri, key_prefix=f"{prefix}:starts", socket_timeout_s=redis_timeout_s
        )

    async def check(self, key: str) -> None:
        """Raise 429 with Retry-After when `key` is over its rate; else count this start."""
        if self.per_minute <= 0:
            return
        try:
            if await self._limiter.hit(self._item, key):
                return
            stats = await self._limiter.get_window_stats(self._item, key)
        except RedisError as exc:
            # Fail open: a rate limiter must not take the API down with Redis.
            log.warning("start-rate limit unavailable (%s); start allowed", type(exc).__name__)
            return
        retry_after = min(60, max(1, math.ceil(stats.reset_time - time.time())))
        raise RateLimited(
            f"too many diagnoses started: at most {self.per_minute} per minute",
            retry_after=retry_after,
        )

    async def hit(self, key: str) -> None:
        """The API's `StartLimiter` entry (the routes call it): the same as check()."""
        await self.check(key)

    async def aclose(self) -> None:
        await _close_pool(self._pool, timeout_s=self._redis_timeout_s)
