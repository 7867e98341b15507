"""The process-wide per-platform runtimes: provider client, semaphore, rate limiter, breaker.

Built lazily from the platform registry and shared by every execution (limits are per key).
"""

import asyncio
import logging

from diagnosis.engine.breaker import BreakerState, CircuitBreaker
from diagnosis.engine.calls import PlatformRuntime, RetryPolicy
from diagnosis.engine.gates import GateFactory, open_gates
from diagnosis.providers.registry import PlatformRegistry

log = logging.getLogger("diagnosis.engine.breaker")


def _log_transition(platform_id: str, old: BreakerState, new: BreakerState) -> None:
    log.warning("breaker platform=%s %s -> %s", platform_id, old.value, new.value)


class PlatformRuntimes:
    def __init__(
        self,
        registry: PlatformRegistry,
        *,
        global_concurrency: int,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 8.0,
        retry_after_cap_s: float = 60.0,
        max_answer_chars: int = 100_000,
        gates: GateFactory = open_gates,
    ) -> None:
        self.registry = registry
        self._gates = gates
        self._max_answer_chars = max_answer_chars
        self._global = asyncio.Semaphore(global_concurrency)
        self._backoff = (backoff_base_s, backoff_cap_s, retry_after_cap_s)
        self._runtimes: dict[str, PlatformRuntime] = {}

    def get(self, platform_id: str) -> PlatformRuntime:
        runtime = self._runtimes.get(platform_id)
        if runtime is None:
            config = self.registry.configs[platform_id]
            base, cap, retry_after_cap = self._backoff
            runtime = PlatformRuntime(
                self.registry.provider(platform_id),
                platform_id=platform_id,
                max_concurrency=config.max_concurrency,
                rpm=config.rpm,
                timeout_s=config.timeout_s,
                retry=RetryPolicy(
                    max_retries=config.max_retries,
                    backoff_base_s=base,
                    backoff_cap_s=cap,
                    retry_after_cap_s=retry_after_cap,
                ),
                breaker=CircuitBreaker(
                    platform_id,
                    failure_threshold=config.failure_threshold,
                    reset_timeout_s=config.reset_timeout_s,
                    on_transition=_log_transition,
                ),
                global_limit=self._global,
                max_answer_chars=self._max_answer_chars,
                gate=self._gates(platform_id, config.max_concurrency, config.rpm),
            )
            self._runtimes[platform_id] = runtime
        return runtime

    def breaker_states(self) -> dict[str, str]:
        return {pid: rt.breaker.state.value for pid, rt in self._runtimes.items()}

    def display_names(self) -> dict[str, str]:
        return {pid: cfg.display_name for pid, cfg in self.registry.configs.items()}

    async def aclose(self) -> None:
        await self.registry.aclose()
