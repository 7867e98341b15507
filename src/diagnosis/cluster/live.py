"""The shared live cache (SPEC 5, 11): each live execution of this process copied to one Redis
hash that every instance reads, so cache_sync_status keeps its meaning behind a load balancer.

A copy only: the mirror never stops or slows an execution (every Redis call is bounded, every
failure logged and swallowed), and a copy whose worker died expires with its TTL.
"""

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from diagnosis.cluster.loops import raise_if_cancelling
from diagnosis.constants import ExecutionStatus
from diagnosis.engine.cache import LiveExecution, MirroredLive

log = logging.getLogger("diagnosis.cluster.live")

FAILURE_BACKOFF_CAP_S = 5.0


@dataclass(eq=False)
class _Tracked:
    live: LiveExecution
    owner: str | None
    view: str | None = None  # the last flushed status view, as JSON


def _fields(entry: _Tracked) -> dict[str, str]:
    live = entry.live
    fields = {
        "status": live.status.value,
        "progress": str(live.progress),
        "seq": str(live.seq),
        "flushed_seq": str(live.flushed_seq),
        "dirty": "1" if live.dirty else "0",
        "owner": entry.owner or "",
    }
    if entry.view is not None:
        fields["view"] = entry.view
    return fields


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _parse(execution_id: str, raw: dict[Any, Any]) -> MirroredLive:
    fields = {_text(k): _text(v) for k, v in raw.items()}
    view = fields.get("view")
    return MirroredLive(
        execution_id=execution_id,
        status=ExecutionStatus(fields["status"]),
        progress=int(fields["progress"]),
        seq=int(fields["seq"]),
        flushed_seq=int(fields["flushed_seq"]),
        dirty=fields["dirty"] == "1",
        owner=fields.get("owner") or None,
        view=json.loads(view) if view is not None else None,
    )


class RedisLiveMirror:
    """Copies tracked executions to `{prefix}:live:{execution_id}`, coalesced per interval.

    One writer task does every write and delete in order (sync() takes the same lock), so a
    pending write never re-creates a forgotten key and an older state never lands after a newer.
    """

    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        prefix: str,
        interval_s: float = 0.1,
        ttl_s: float = 30.0,
        timeout_s: float = 1.0,
    ) -> None:
        self._redis = redis
        self._key_prefix = f"{prefix}:live:"
        self._interval_s = interval_s
        self._ttl_ms = max(1, int(ttl_s * 1000))
        # Three refreshes per TTL: one late or failed refresh does not make a live entry vanish.
        self._keepalive_s = ttl_s / 3
        self._timeout_s = timeout_s
        self._tracked: dict[str, _Tracked] = {}
        self._dirty: set[str] = set()
        self._forgotten: set[str] = set()
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._writer: asyncio.Task[None] | None = None
        self._failures = 0
        # Counters for tests and benchmarks: entries written (one HSET each, whether by the
        # writer or by sync), keys deleted, keepalive rounds done.
        self.writes = 0
        self.deletes = 0
        self.refreshes = 0

    def _key(self, execution_id: str) -> str:
        return self._key_prefix + execution_id

    # -- the LiveMirror interface -----------------------------------------------------------

    def track(self, live: LiveExecution, *, owner: str | None) -> None:
        execution_id = live.execution_id
        previous = self._tracked.get(execution_id)
        view = previous.view if previous is not None else None
        self._tracked[execution_id] = _Tracked(live, owner, view)
        self._forgotten.discard(execution_id)  # its next write overwrites every field
        self._mark(execution_id)

    def changed(self, live: LiveExecution, view: dict[str, Any] | None = None) -> None:
        entry = self._tracked.get(live.execution_id)
        if entry is None:
            return  # not running here (or already forgotten): nothing to copy
        entry.live = live
        if view is not None:
            # Encoded now, once per flush: the copy is the view of that flush, whatever the
            # caller does with the dict later, and a view that cannot be encoded is refused
            # here instead of failing every later pipeline.
            try:
                entry.view = json.dumps(view, ensure_ascii=False, default=str)
            except (TypeError, ValueError) as exc:
                log.warning("live view not encodable execution_id=%s error=%s",
                            live.execution_id, type(exc).__name__)
        self._mark(live.execution_id)

    async def sync(self, live: LiveExecution) -> None:
        execution_id = live.execution_id
        entry = self._tracked.get(execution_id)
        if entry is None:
            return
        entry.live = live
        try:
            async with asyncio.timeout(self._timeout_s), self._lock:
                if self._tracked.get(execution_id) is not entry:
                    return  # forgotten (or re-tracked) while we waited for the writer
                self._dirty.discard(execution_id)
                async with self._redis.pipeline(transaction=False) as pipe:
                    self._queue_write(pipe, execution_id, entry)
                    await pipe.execute()
                self.writes += 1
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the execution goes on; the writer retries the copy
            log.warning("live copy not synced execution_id=%s error=%s",
                        execution_id, type(exc).__name__)
            if self._tracked.get(execution_id) is entry:
                self._mark(execution_id)

    def forget(self, execution_id: str) -> None:
        if self._tracked.pop(execution_id, None) is None:
            return
        # Deleted in the writer's order: a write of it already in flight lands first.
        self._dirty.discard(execution_id)
        self._forgotten.add(execution_id)
        self._wake.set()

    async def lookup(self, execution_id: str) -> MirroredLive | None:
        try:
            async with asyncio.timeout(self._timeout_s):
                raw = await self._redis.hgetall(self._key(execution_id))
            if not raw:
                return None
            return _parse(execution_id, raw)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # unreachable or unreadable: as if there were no copy
            log.warning("live copy unreadable execution_id=%s error=%s",
                        execution_id, type(exc).__name__)
            return None

    async def start(self) -> None:
        if self._writer is None:
            self._writer = asyncio.create_task(self._run(), name="live-mirror-writer")
            self._writer.add_done_callback(self._reap)

    async def aclose(self) -> None:
        """Stop the writer, then write what is still dirty (bounded). Never raises."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
        if self._dirty or self._forgotten:
            await self._write_pass()

    def _reap(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("live mirror writer stopped", exc_info=task.exception())

    # -- the writer -------------------------------------------------------------------------

    def _mark(self, execution_id: str) -> None:
        self._dirty.add(execution_id)
        self._wake.set()

    async def _run(self) -> None:
        next_pass = time.monotonic()  # the first change after a quiet spell is written at once
        next_keepalive = next_pass + self._keepalive_s
        while True:
            raise_if_cancelling()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, next_keepalive - time.monotonic())):
                    await self._wake.wait()
            if self._wake.is_set():
                # Trailing edge: changes after a pass wait for the interval, then go together.
                await asyncio.sleep(max(0.0, next_pass - time.monotonic()))
                self._wake.clear()
                ok = await self._write_pass()
                next_pass = time.monotonic() + self._pause_after(ok)
            if time.monotonic() >= next_keepalive:
                await self._keepalive()
                next_keepalive = time.monotonic() + self._keepalive_s

    def _pause_after(self, ok: bool) -> float:
        # A failing Redis is retried with a doubling pause (one warning per try), not hammered.
        self._failures = 0 if ok else min(self._failures + 1, 16)
        if ok:
            return self._interval_s
        backoff = min(self._interval_s * 2**self._failures, FAILURE_BACKOFF_CAP_S)
        return max(self._interval_s, backoff)

    async def _write_pass(self) -> bool:
        """Delete what was forgotten, then write what is dirty, in one pipeline (bounded)."""
        async with self._lock:
            deletes, self._forgotten = self._forgotten, set()
            ids, self._dirty = self._dirty, set()
            entries = {i: self._tracked[i] for i in ids if i in self._tracked}
            if not deletes and not entries:
                return True
            try:
                async with asyncio.timeout(self._timeout_s):
                    async with self._redis.pipeline(transaction=False) as pipe:
                        for execution_id in deletes:
                            pipe.delete(self._key(execution_id))
                        for execution_id, entry in entries.items():
                            self._queue_write(pipe, execution_id, entry)
                        await pipe.execute()
            except asyncio.CancelledError:
                self._retry_later(deletes, entries)
                raise
            except Exception as exc:
                self._retry_later(deletes, entries)
                log.warning("live copies not written deletes=%d writes=%d error=%s",
                            len(deletes), len(entries), type(exc).__name__)
                return False
            self.deletes += len(deletes)
            self.writes += len(entries)
            return True

    def _retry_later(self, deletes: set[str], entries: dict[str, _Tracked]) -> None:
        # Only what is still in the same state: a re-tracked id's write overwrites the key
        # anyway, and a forgotten id's copy must not come back.
        self._forgotten |= {i for i in deletes if i not in self._tracked}
        self._dirty |= {i for i, e in entries.items() if self._tracked.get(i) is e}
        if self._forgotten or self._dirty:
            self._wake.set()  # the writer tries again after its backoff, change or not

    def _queue_write(self, pipe: Any, execution_id: str, entry: _Tracked) -> None:
        key = self._key(execution_id)
        pipe.hset(key, mapping=_fields(entry))
        if entry.view is None:
            pipe.hdel(key, "view")  # a re-tracked execution must not show a past life's view
        pipe.pexpire(key, self._ttl_ms)

    async def _keepalive(self) -> None:
        """Refresh every tracked key's TTL, changed or not; a key found missing (Redis lost it,
        or a write failed long enough) is written again."""
        async with self._lock:
            ids = list(self._tracked)
            if not ids:
                return
            try:
                async with asyncio.timeout(self._timeout_s):
                    async with self._redis.pipeline(transaction=False) as pipe:
                        for execution_id in ids:
                            pipe.pexpire(self._key(execution_id), self._ttl_ms)
                        found = await pipe.execute()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("live copies not refreshed count=%d error=%s",
                            len(ids), type(exc).__name__)
                return
            self.refreshes += 1
            for execution_id, refreshed in zip(ids, found, strict=True):
                if not refreshed and execution_id in self._tracked:
                    self._mark(execution_id)
