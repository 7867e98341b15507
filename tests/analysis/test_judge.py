"""The LLM judge's contract (analysis/judge.py): the prompt, strict parsing, the cache key, and
how judged labels sit beside the rules'."""

from __future__ import annotations

import json

import pytest

from diagnosis.analysis.judge import (
    apply_verdicts,
    cache_key,
    judge_agreement,
    judge_prompt,
    parse_reply,
)
from diagnosis.analysis.stance import Verdict

BRANDS = ["蔚来", "Tesla"]


def reply(*rows: tuple[str, str, str], **extra: object) -> str:
    body = {"brands": [{"brand": b, "sentiment": s, "stance": t} for b, s, t in rows], **extra}
    return json.dumps(body, ensure_ascii=False)


def test_the_prompt_names_every_brand_once_with_the_schema_and_the_answer() -> None:
    prompt = judge_prompt("蔚来不错，Tesla 一般。", BRANDS)
    assert '["蔚来", "Tesla"]' in prompt and "蔚来不错，Tesla 一般。" in prompt
    assert '"warned_against"' in prompt and "JSON Schema" in prompt


def test_a_valid_reply_gives_one_verdict_per_brand_even_inside_a_code_fence() -> None:
    raw = reply(("蔚来", "positive", "recommended"), ("Tesla", "negative", "warned_against"))
    expected = {
        "蔚来": Verdict("positive", "recommended"),
        "Tesla": Verdict("negative", "warned_against"),
    }
    assert parse_reply(raw, BRANDS) == expected
    assert parse_reply(f"```json\n{raw}\n```", BRANDS) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "not json at all",
        reply(("蔚来", "positive", "recommended")),  # a brand missing
        reply(("蔚来", "positive", "recommended"), ("Tesla", "good", "recommended")),
        reply(("蔚来", "positive", "recommended"), ("Tesla", "neutral", "endorsed")),
        reply(("蔚来", "positive", "recommended"), ("蔚来", "neutral", "mentioned")),
        reply(("蔚来", "positive", "recommended"), ("Tesla", "neutral", "mentioned"), note="x"),
        reply(("蔚来", "positive", "recommended"), ("Tesla", "neutral", "mentioned"),
              ("BYD", "neutral", "mentioned")),
    ],
)
def test_anything_but_the_schema_naming_exactly_the_brands_is_rejected(raw: str) -> None:
    assert parse_reply(raw, BRANDS) is None


def test_the_cache_key_depends_on_answer_brands_and_model_not_on_brand_order() -> None:
    key = cache_key("a", BRANDS, "m")
    assert key == cache_key("a", list(reversed(BRANDS)), "m")
    assert len({key, cache_key("b", BRANDS, "m"), cache_key("a", ["蔚来"], "m"),
                cache_key("a", BRANDS, "m2")}) == 4


def test_judged_labels_replace_the_rules_which_stay_for_the_agreement() -> None:
    rules = {
        "mentions": [
            {"brand": "蔚来", "rank": 1, "sentiment": "positive", "stance": "recommended",
             "count": 2},
            {"brand": "Tesla", "rank": 2, "sentiment": "neutral", "stance": "mentioned",
             "count": 1},
        ],
        "sources": [],
        "judge": "rules",
    }
    judged = apply_verdicts(
        rules,
        {
            "蔚来": Verdict("positive", "recommended"),
            "Tesla": Verdict("negative", "warned_against"),
        },
        judge="llm:m",
    )
    assert judged["judge"] == "llm:m"
    assert [(m["rank"], m["count"], m["stance"]) for m in judged["mentions"]] == [
        (1, 2, "recommended"),
        (2, 1, "warned_against"),
    ]
    assert judge_agreement([judged, rules]) == {
        "labelled_by": {"llm:m": 1, "rules": 1},
        "compared_mentions": 2,
        "sentiment_agreement": 0.5,
        "stance_agreement": 0.5,
    }
