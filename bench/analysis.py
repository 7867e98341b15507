"""6b. Analysis per answer: `analyze_answer` on the bench's short and 3000-character answers, in
this process, timed in batches (the best batch per answer, so the machine's noise counts least).

What each answer costs wherever it is analysed (engine/analysis_pool.py analyses answers up to
INLINE_ANALYSIS_CHARS on the event loop, longer ones in its worker processes), compiled by mypyc
(diagnosis/analysis/native.py) and as Python, each in a process of its own.
"""

import json
import sys
import time
from typing import Any

from bench.answers import LONG_ANSWER, SHORT_ANSWER
from bench.procs import run_json
from bench.results import Check, Section, ms, us
from bench.sizes import Sizes
from diagnosis.analysis import BrandSpec, analyze_answer
from diagnosis.analysis.native import ENV
from diagnosis.engine.analysis_pool import INLINE_ANALYSIS_CHARS

BRANDS = [BrandSpec("蔚来", ("NIO",), is_own=True), BrandSpec("理想"), BrandSpec("小鹏")]
TARGET_S = 0.0003  # a 3000-character answer
BATCHES, PER_BATCH = 7, 50
ANSWERS = (("short (the fake's default)", SHORT_ANSWER),
           ("realistic long (bench/answers.py)", LONG_ANSWER))


def _per_answer(text: str, batches: int, per_batch: int) -> float:
    analyze_answer(text, BRANDS)  # warm: automata and caches built
    best = float("inf")
    for _ in range(batches):
        began = time.perf_counter()
        for _ in range(per_batch):
            analyze_answer(text, BRANDS)
        best = min(best, (time.perf_counter() - began) / per_batch)
    return best


def _measure_here(batches: int, per_batch: int) -> dict[str, Any]:
    import diagnosis.analysis

    return {"native": diagnosis.analysis.NATIVE,
            "seconds": [_per_answer(text, batches, per_batch) for _, text in ANSWERS]}


def _measure(*, native: bool, batches: int, per_batch: int) -> dict[str, Any]:
    """In a process of its own: the build is chosen once, at import."""
    measured: dict[str, Any] = run_json("bench.analysis", batches, per_batch,
                                        env={ENV: "1" if native else "0"})
    return measured


def section(sizes: Sizes) -> Section:
    batches, per_batch = (BATCHES, PER_BATCH) if sizes.name == "full" else (2, 5)
    result = Section(
        title="6b. Analysis per answer",
        meaning=(
            "`analyze_answer` (mentions, layout, rank, passages, the rules judge's tone and "
            "stance, sources) for the three bench brands, in a process of its own: the best of "
            f"{batches} batches of {per_batch}, compiled by mypyc (what the service runs once "
            "`make install` has built it, diagnosis/analysis/native.py) and as Python. Answers "
            f"up to {INLINE_ANALYSIS_CHARS} characters are analysed on the event loop, so this "
            "is how long one holds it; longer ones in the analysis processes "
            "(engine/analysis_pool.py)."
        ),
        headers=["answer", "characters", "build", "per answer", "answers per second"],
    )
    runs = [(build, _measure(native=native, batches=batches, per_batch=per_batch))
            for build, native in (("compiled (mypyc)", True), ("Python", False))]
    measured = [(build, run) for build, run in runs if run["native"] == (build != "Python")]
    for index, (name, text) in enumerate(ANSWERS):
        for build, run in measured:
            seconds = run["seconds"][index]
            result.rows.append([name, str(len(text)), build, us(seconds), f"{1 / seconds:.0f}"])
    if not runs[0][1]["native"]:
        result.notes.append("No compiled build matching the sources (make install builds it): "
                            "the service runs the analysis as Python.")
    build, run = measured[0]
    long_s = run["seconds"][-1]
    result.checks.append(Check(
        f"a {len(LONG_ANSWER)}-character answer analysed in <= 0.3 ms", f"{us(long_s)} ({build})",
        long_s <= TARGET_S,
    ))
    if long_s > TARGET_S:
        result.causes.append(
            f"{ms(long_s)} per {len(LONG_ANSWER)}-character answer ({build}). Matching is one "
            "pass (ahocorasick-rs automata for brands, lexicon words, cues and degree adverbs) "
            "and an answer's sentences are scored once for all its brands; what remains is the "
            "rules judge's per-clause work (layout, passages, clause scoring: many short regex "
            "and automaton calls per clause), "
            f"{long_s / len(LONG_ANSWER) * 1e9:.0f} ns per character."
        )
    return result


if __name__ == "__main__":
    print(json.dumps(_measure_here(int(sys.argv[1]), int(sys.argv[2]))))
