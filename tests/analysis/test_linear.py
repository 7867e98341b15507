"""The analysis is linear in the answer's size (issues 12-14): a long answer naming brands in
every sentence costs a bounded amount of work per character. Measured in Python function calls
and passage characters, never in wall-clock time."""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import pytest

from diagnosis.analysis import BrandSpec, analyze_answer
from diagnosis.analysis.mentions import find_mentions
from diagnosis.analysis.passages import brand_passages
from diagnosis.analysis.text import normalize, parse_layout

BRANDS = [BrandSpec("蔚来", ("NIO",)), BrandSpec("特斯拉", ("Tesla",)), BrandSpec("小米")]
SHAPES: dict[str, Callable[[int], str]] = {
    "zh prose": lambda n: "蔚来的服务很好，但是价格偏高，特斯拉更便宜，它更省心。" * n,
    "en prose": lambda n: "NIO is great, but Tesla is cheaper than NIO and it is reliable. " * n,
    "one list": lambda n: "".join(f"{i}. 蔚来：不错，比特斯拉好，小米一般。\n" for i in range(n)),
    "one sentence": lambda n: "蔚来、特斯拉和小米，" * n + "都不错。",
    "table": lambda n: "| 品牌 | 评价 |\n|---|---|\n" + "| 蔚来 | 比特斯拉好 |\n" * n,
}


def _calls(work: Callable[[], Any]) -> int:
    """Python-level calls (functions, generators, comprehensions) made while work runs."""
    count = 0

    def profile(frame: FrameType, event: str, arg: object) -> None:
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(profile)
    try:
        work()
    finally:
        sys.setprofile(None)
    return count


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_doubling_an_adversarial_answer_roughly_doubles_the_work(shape: str) -> None:
    small, large = SHAPES[shape](400), SHAPES[shape](800)
    analyze_answer(small, BRANDS)  # warm caches (compiled patterns) before counting
    ratio = _calls(lambda: analyze_answer(large, BRANDS)) / _calls(
        lambda: analyze_answer(small, BRANDS)
    )
    assert ratio < 2.3, f"{shape}: doubling the answer multiplied the calls by {ratio:.2f}"


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_passages_of_a_hundred_thousand_characters_are_bounded_by_its_size(shape: str) -> None:
    text = normalize(SHAPES[shape](100_000)[:100_000])
    mentions = find_mentions(text, BRANDS)
    passages = brand_passages(text, parse_layout(text), mentions)
    sliced = sum(len(p) for spoken in passages.values() for p in spoken)
    assert len(mentions) > 4_000
    assert sliced <= 3 * len(text), f"{shape}: {sliced} passage characters for {len(text)}"
