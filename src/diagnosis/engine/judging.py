"""The judging stage (issue 12): after the fan-out, an LLM judge relabels each ok answer's
sentiment and stance, one call per answer naming all its brands.

The calls go through the judge platform's own `PlatformRuntime` (its slots, rpm, breaker and
retries), are cached in the database by (answer, brands, model) so a retry or a re-report never
pays twice, and the whole stage is bounded by DIAGNOSIS_JUDGE_DEADLINE_S: whatever is not
judged by then keeps the rules' labels. It never raises into the executor, except cancellation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from diagnosis.analysis.judge import (
    apply_verdicts,
    cache_key,
    judge_prompt,
    judged_brands,
    parse_reply,
)
from diagnosis.analysis.stance import Verdict
from diagnosis.engine.calls import PlatformRuntime
from diagnosis.persistence.judge_cache import JudgeCache
from diagnosis.providers.base import ChatRequest

if TYPE_CHECKING:
    from diagnosis.engine.service import Engine

log = logging.getLogger("diagnosis.engine.judging")


class LLMJudge:
    """An `AnswerJudge` backed by a platform: strict JSON in one call, cached."""

    def __init__(
        self, runtime: PlatformRuntime, *, model: str, cache: JudgeCache, key: str
    ) -> None:
        self.runtime = runtime
        self.model = model
        self.cache = cache
        self.key = key  # the execution, for the platform's fair slots
        self.name = f"llm:{model}"

    async def label(self, answer: str, brands: Sequence[str]) -> Mapping[str, Verdict] | None:
        key = cache_key(answer, brands, self.model)
        cached = _verdicts(await self.cache.get(key), brands)
        if cached is not None:
            return cached
        request = ChatRequest(prompt=judge_prompt(answer, brands), brands=list(brands))
        outcome = await self.runtime.call(request, key=self.key)
        if outcome.completion is None:
            log.warning(
                "judge call failed execution_id=%s kind=%s", self.key, outcome.error_kind
            )
            return None
        verdicts = parse_reply(outcome.completion.text, brands)
        if verdicts is None:
            log.warning("judge reply invalid execution_id=%s: rules kept", self.key)
            return None
        stored = {b: {"sentiment": v.sentiment, "stance": v.stance} for b, v in verdicts.items()}
        await self.cache.put(key, model=self.model, verdicts=stored)
        return verdicts


def _verdicts(cached: Mapping[str, Any] | None, brands: Sequence[str]) -> dict[str, Verdict] | None:
    if cached is None or set(cached) != set(brands):
        return None
    try:
        return {brand: Verdict(v["sentiment"], v["stance"]) for brand, v in cached.items()}
    except (KeyError, TypeError):
        return None


async def _judge_one(judge: LLMJudge, cache: JudgeCache, execution_id: str, row: Any) -> bool:
    brands = judged_brands(row.analysis)
    if not brands or row.analysis.get("judge") == judge.name:
        return False  # nothing to label, or already judged (a resumed execution)
    verdicts = await judge.label(row.answer, brands)
    if verdicts is None:
        return False
    judged = apply_verdicts(row.analysis, verdicts, judge=judge.name)
    await cache.save_analysis(execution_id, row.task_key, judged)
    return True


def _judge_for(engine: Engine, execution_id: str) -> tuple[LLMJudge, JudgeCache] | None:
    platform = engine.settings.judge_platform
    try:
        runtime = engine.runtimes.get(platform)
        model = engine.registry.configs[platform].model
        cache = JudgeCache.of(engine.repository)
    except (KeyError, AttributeError):
        log.error("judge platform not usable platform=%s: rules only", platform)
        return None
    return LLMJudge(runtime, model=model, cache=cache, key=execution_id), cache


async def judge_execution(engine: Engine, execution_id: str) -> int:
    """Relabel the execution's ok answers with the LLM judge, within the judging deadline;
    returns how many answers it labelled. A no-op when DIAGNOSIS_JUDGE_PLATFORM is empty."""
    if not engine.settings.judge_platform:
        return 0
    built = _judge_for(engine, execution_id)
    if built is None:
        return 0
    judge, cache = built
    done: list[bool] = []

    async def one(row: Any) -> None:
        try:
            done.append(await _judge_one(judge, cache, execution_id, row))
        except Exception:  # one answer's failure (a DB hiccup) leaves the others judged
            log.exception("judging failed execution_id=%s task=%s", execution_id, row.task_key)

    try:
        async with asyncio.timeout(engine.settings.judge_deadline_s):
            rows = await engine.repository.all_results(execution_id)
            async with asyncio.TaskGroup() as group:
                for row in rows:
                    if row.status == "ok" and row.answer and row.analysis:
                        group.create_task(one(row))
    except TimeoutError:
        log.warning(
            "judging deadline execution_id=%s judged=%d: the rest keep the rules' labels",
            execution_id, sum(done),
        )
    except Exception:
        log.exception("judging stage failed execution_id=%s", execution_id)
    return sum(done)
