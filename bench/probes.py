"""What a run costs the process beyond CPU: garbage collections (via `gc.callbacks`) and
event-loop stalls (a probe that sleeps a fixed interval and records how late it wakes).

Both start and stop around one run; both are read by the bench in-process or through
bench.server's `/bench/probes` routes. Measuring only, never a change to the service.
"""

import asyncio
import gc
import time
from dataclasses import dataclass, field
from typing import Any

LAG_INTERVAL_S = 0.005
STALL_S = 0.020
_MAX_STALLS = 200


@dataclass
class GcRecorder:
    """Collections per generation and the time spent in them, from `gc.callbacks`."""

    counts: list[int] = field(default_factory=lambda: [0, 0, 0])
    seconds: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    max_pause_s: float = 0.0
    _began: float = 0.0

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
            return
        pause = time.perf_counter() - self._began
        generation = int(info["generation"])
        self.counts[generation] += 1
        self.seconds[generation] += pause
        self.max_pause_s = max(self.max_pause_s, pause)

    def start(self) -> None:
        self.counts, self.seconds, self.max_pause_s = [0, 0, 0], [0.0, 0.0, 0.0], 0.0
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def stop(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def snapshot(self) -> dict[str, Any]:
        return {"counts": list(self.counts), "seconds": list(self.seconds),
                "max_pause_s": self.max_pause_s, "threshold": list(gc.get_threshold()),
                "frozen": gc.get_freeze_count()}


class LoopLagProbe:
    """A task on the loop that wakes every LAG_INTERVAL_S: how late it woke is the longest
    time something else held the loop (a stall), to within the interval."""

    def __init__(self) -> None:
        self.max_lag_s = 0.0
        self.samples = 0
        self.over_20ms = 0
        self.stalls: list[tuple[float, float]] = []  # (wall-clock end of the stall, its length)
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            began = time.perf_counter()
            await asyncio.sleep(LAG_INTERVAL_S)
            lag = time.perf_counter() - began - LAG_INTERVAL_S
            self.samples += 1
            self.max_lag_s = max(self.max_lag_s, lag)
            if lag > STALL_S:
                self.over_20ms += 1
                if len(self.stalls) < _MAX_STALLS:
                    self.stalls.append((time.time(), lag))

    def start(self) -> None:
        self.max_lag_s, self.samples, self.over_20ms, self.stalls = 0.0, 0, 0, []
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-lag-probe")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def snapshot(self) -> dict[str, Any]:
        return {"max_lag_s": self.max_lag_s, "samples": self.samples,
                "over_20ms": self.over_20ms, "stalls": list(self.stalls)}
