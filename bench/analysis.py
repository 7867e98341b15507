"""6b. Analysis per answer: `analyze_answer` on the bench's short and 3000-character answers, in
this process, timed in batches (the best batch per answer, so the machine's noise counts least).

What each answer costs wherever it is analysed (engine/analysis_pool.py analyses answers up to
INLINE_ANALYSIS_CHARS on the event loop, longer ones in its worker processes).
"""

import time

from bench.answers import LONG_ANSWER, SHORT_ANSWER
from bench.results import Check, Section, ms
from bench.sizes import Sizes
from diagnosis.analysis import BrandSpec, analyze_answer
from diagnosis.engine.analysis_pool import INLINE_ANALYSIS_CHARS

BRANDS = [BrandSpec("蔚来", ("NIO",), is_own=True), BrandSpec("理想"), BrandSpec("小鹏")]
TARGET_S = 0.0003  # a 3000-character answer
BATCHES, PER_BATCH = 7, 50


def _per_answer(text: str, batches: int, per_batch: int) -> float:
    analyze_answer(text, BRANDS)  # warm: automata and caches built
    best = float("inf")
    for _ in range(batches):
        began = time.perf_counter()
        for _ in range(per_batch):
            analyze_answer(text, BRANDS)
        best = min(best, (time.perf_counter() - began) / per_batch)
    return best


def section(sizes: Sizes) -> Section:
    batches, per_batch = (BATCHES, PER_BATCH) if sizes.name == "full" else (2, 5)
    result = Section(
        title="6b. Analysis per answer",
        meaning=(
            "`analyze_answer` (mentions, layout, rank, passages, the rules judge's tone and "
            "stance, sources) for the three bench brands, in the bench process: the best of "
            f"{batches} batches of {per_batch}. Answers up to {INLINE_ANALYSIS_CHARS} "
            "characters are analysed on the event loop, so this is how long one holds it; "
            "longer ones in the analysis processes (engine/analysis_pool.py)."
        ),
        headers=["answer", "characters", "per answer", "answers per second"],
    )
    long_s = 0.0
    for name, text in (("short (the fake's default)", SHORT_ANSWER),
                       ("realistic long (bench/answers.py)", LONG_ANSWER)):
        seconds = _per_answer(text, batches, per_batch)
        long_s = seconds
        result.rows.append([name, str(len(text)), ms(seconds), f"{1 / seconds:.0f}"])
    result.checks.append(Check(
        f"a {len(LONG_ANSWER)}-character answer analysed in <= 0.3 ms", ms(long_s),
        long_s <= TARGET_S,
    ))
    if long_s > TARGET_S:
        result.causes.append(
            f"{ms(long_s)} per {len(LONG_ANSWER)}-character answer. Matching is one pass "
            "(ahocorasick-rs automata for brands, lexicon words, cues and degree adverbs) and "
            "an answer's sentences are scored once for all its brands; what remains is the "
            "rules judge's per-clause Python (layout, passages, clause scoring), "
            f"{long_s / len(LONG_ANSWER) * 1e9:.0f} ns per character."
        )
    return result
