"""The LLM judge's contract: one prompt per answer naming all its brands, a strict JSON reply
checked against a schema, the cache key, and how its labels replace the rules' (SPEC 8).

Pure: it builds and reads strings. The provider-backed judge lives in engine/judging.py; this
module never imports providers, persistence or the engine, and never does I/O.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from diagnosis.analysis.sentiment import Sentiment
from diagnosis.analysis.stance import Stance, Verdict

RULES = "rules"


class AnswerJudge(Protocol):
    """Labels every brand of one answer in one go; None when it could not (the rules stand)."""

    name: str

    async def label(self, answer: str, brands: Sequence[str]) -> Mapping[str, Verdict] | None: ...


class JudgedBrand(BaseModel):
    model_config = ConfigDict(extra="forbid")

    brand: str
    sentiment: Sentiment
    stance: Stance


class JudgeReply(BaseModel):
    """The only reply the judge may give: {"brands": [{"brand", "sentiment", "stance"}]}."""

    model_config = ConfigDict(extra="forbid")

    brands: list[JudgedBrand]


_SCHEMA = json.dumps(JudgeReply.model_json_schema(), ensure_ascii=False, separators=(",", ":"))
_FENCE = re.compile(r"^\s*```(?:json)?\s*(?P<body>.*?)\s*```\s*$", re.DOTALL)

PROMPT = """You label how an AI assistant's answer speaks about brands. Judge the answer text \
only.

Brands to label (exactly these, spelled as given): {brands}

For each brand:
- sentiment: "positive", "neutral" or "negative" -- the answer's overall tone about it. After a \
contrast ("but", "但", "不过") the later clause carries the verdict; a comparative or \
superlative counts for the brand it is about, not for the one it is compared with.
- stance: "recommended" (put forward as a good choice, explicitly or by a positive verdict), \
"alternative" (offered with a hedge, as a fallback or on a condition: "可以考虑", "worth a \
look", "a fine pick if ..., otherwise ..."), "warned_against" (advised against, explicitly or by \
a negative verdict: "不建议", "avoid", "too expensive to recommend"), or "mentioned" (named \
without a verdict, e.g. only as a yardstick).

Reply with one JSON object and nothing else, valid against this JSON Schema:
{schema}

The answer:
<<<
{answer}
>>>"""


def judge_prompt(answer: str, brands: Sequence[str]) -> str:
    """The one prompt that asks for every brand of the answer at once."""
    return PROMPT.format(
        brands=json.dumps(list(brands), ensure_ascii=False), schema=_SCHEMA, answer=answer
    )


def parse_reply(raw: str, brands: Sequence[str]) -> dict[str, Verdict] | None:
    """The verdicts when the reply is valid JSON of the schema naming exactly `brands` once
    each; None otherwise (the rules judge keeps that answer)."""
    fenced = _FENCE.match(raw)
    try:
        reply = JudgeReply.model_validate_json(fenced.group("body") if fenced else raw.strip())
    except ValidationError:
        return None
    names = [judged.brand for judged in reply.brands]
    if len(names) != len(set(names)) or set(names) != set(brands):
        return None
    return {j.brand: Verdict(j.sentiment, j.stance) for j in reply.brands}


def cache_key(answer: str, brands: Sequence[str], model: str) -> str:
    """What a judged answer is cached under: the answer, its brands (any order) and the model."""
    payload = json.dumps([answer, sorted(brands), model], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def judged_brands(analysis: Mapping[str, Any]) -> list[str]:
    """The brands the judge is asked about: those the extractor found mentioned."""
    return [m["brand"] for m in analysis.get("mentions") or () if isinstance(m, Mapping)]


def apply_verdicts(
    analysis: Mapping[str, Any], verdicts: Mapping[str, Verdict], *, judge: str
) -> dict[str, Any]:
    """The analysis with the judge's sentiment and stance; the rules' labels kept under
    `rules` so that the report can show how often the two judges agree."""
    mentions, rules = [], []
    for mention in analysis.get("mentions") or ():
        verdict = verdicts.get(mention["brand"])
        rules.append(
            {"brand": mention["brand"], "sentiment": mention.get("sentiment"),
             "stance": mention.get("stance")}
        )
        if verdict is None:
            mentions.append(dict(mention))
        else:
            mentions.append({**mention, "sentiment": verdict.sentiment, "stance": verdict.stance})
    return {**analysis, "mentions": mentions, "judge": judge, "rules": rules}


def judge_agreement(analyses: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Which judge labelled how many answers, and, over the mentions an LLM judge labelled, the
    share on which it agrees with the rules judge (null when no LLM judge ran)."""
    labelled_by: Counter[str] = Counter()
    mentions = sentiment = stance = 0
    for analysis in analyses:
        labelled_by[str(analysis.get("judge") or RULES)] += 1
        rules = {r.get("brand"): r for r in analysis.get("rules") or () if isinstance(r, Mapping)}
        for mention in analysis.get("mentions") or ():
            before = rules.get(mention.get("brand"))
            if before is None:
                continue
            mentions += 1
            sentiment += before.get("sentiment") == mention.get("sentiment")
            stance += before.get("stance") == mention.get("stance")
    return {
        "labelled_by": dict(sorted(labelled_by.items())),
        "compared_mentions": mentions,
        "sentiment_agreement": round(sentiment / mentions, 4) if mentions else None,
        "stance_agreement": round(stance / mentions, 4) if mentions else None,
    }
