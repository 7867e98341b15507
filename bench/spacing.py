"""6d. The analysis process: answers back to back, in bursts, and one by one.

One `AnswerAnalyser` worker process (engine/analysis_pool.py), fed the bench's 3000-character
answer at the same average rate in three ways, its CPU time read from /proc. Section 6's server
sends its long answers one by one as their calls end; this shows what that spacing costs the
worker per answer, against a worker that never waits. Runs in a process of its own (the pool
starts its worker through a fork server, which re-imports the main module).
"""

import asyncio
import json
import sys
import time
from typing import Any

from bench.answers import LONG_ANSWER
from bench.procs import cpu_seconds, run_json
from bench.results import Section, us
from bench.sizes import Sizes
from diagnosis.analysis import BrandSpec
from diagnosis.analysis.native import ENV
from diagnosis.engine.analysis_pool import AnswerAnalyser

BRANDS = (BrandSpec("蔚来", ("NIO",), is_own=True), BrandSpec("理想"), BrandSpec("小鹏"))
GAP_S = 0.004  # one answer per 4 ms: section 6's rate (1000 answers in about 4 s)
# (name, answers sent together, seconds between two sends); None: as fast as the worker goes
MODES: tuple[tuple[str, int, float | None], ...] = (
    ("back to back (16 in flight, the worker never waits)", 16, None),
    ("8 at a time every 32 ms", 8, 8 * GAP_S),
    ("one every 4 ms", 1, GAP_S),
)


async def _feed(analyser: AnswerAnalyser, answers: int, together: int,
                gap: float | None) -> None:
    if gap is None:
        slots = asyncio.Semaphore(together)

        async def one() -> None:
            async with slots:
                await analyser.analyse(LONG_ANSWER, BRANDS)

        await asyncio.gather(*(one() for _ in range(answers)))
        return
    sent: list[asyncio.Future[dict[str, Any]]] = []
    for _ in range(0, answers, together):
        sent += [asyncio.ensure_future(analyser.analyse(LONG_ANSWER, BRANDS))
                 for _ in range(together)]
        await asyncio.sleep(gap)
    await asyncio.gather(*sent)


async def _measure_here(answers: int, repeats: int) -> dict[str, list[float]]:
    analyser = AnswerAnalyser(processes=1, kinds_file=None)
    try:
        await analyser.analyse(LONG_ANSWER, BRANDS)  # the worker started and warm
        worker = analyser._workers[0].process.pid
        per_answer: dict[str, list[float]] = {name: [] for name, _, _ in MODES}
        for _ in range(repeats):
            for name, together, gap in MODES:
                before = cpu_seconds(worker)
                await _feed(analyser, answers, together, gap)
                per_answer[name].append((cpu_seconds(worker) - before) / answers)
        return per_answer
    finally:
        analyser.close()


def _measure(answers: int, repeats: int) -> dict[str, list[float]]:
    measured: dict[str, list[float]] = run_json("bench.spacing", answers, repeats,
                                                env={ENV: "1"})
    return measured


def section(sizes: Sizes) -> Section:
    answers, repeats = (400, 2) if sizes.name == "full" else (16, 1)
    began = time.monotonic()
    measured = _measure(answers, repeats)
    result = Section(
        title="6d. The analysis process: answers back to back and one by one",
        meaning=(
            f"One analysis worker (engine/analysis_pool.py, the compiled build) fed the "
            f"{len(LONG_ANSWER)}-character answer {answers} times per way, {repeats} rounds of "
            "the three ways in turn; its CPU time (/proc) per answer, min and max over the "
            "rounds. Section 6's server sends long answers one by one as their calls end."
        ),
        headers=["answers arrive", "worker CPU per answer (min)", "(max)"],
    )
    for name, _, _ in MODES:
        values = measured[name]
        result.rows.append([name, us(min(values)), us(max(values))])
    result.notes.append(f"took {time.monotonic() - began:.0f} s")
    return result


if __name__ == "__main__":
    print(json.dumps(asyncio.run(_measure_here(int(sys.argv[1]), int(sys.argv[2])))))
