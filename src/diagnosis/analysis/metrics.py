"""Brand metrics over analysed answers, as defined in docs/metrics.md: mention rate with its
Wilson interval, average rank, top-1 share, share of voice, sentiment index, visibility score,
stance counts and recommend share.

Pure arithmetic on already-extracted mentions: it never reads answer text, never does I/O and
imports nothing from the package but diagnosis.analysis.schemas.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from diagnosis.analysis.schemas import BrandSpec

Z_95 = 1.96
SENTIMENTS = ("positive", "neutral", "negative")
STANCES = ("recommended", "alternative", "warned_against", "mentioned")
# visibility_score = 100 x (W_MENTION x mention_rate + W_RANK x rank_score + W_SENTIMENT x s)
W_MENTION, W_RANK, W_SENTIMENT = 0.5, 0.3, 0.2
RATE_DIGITS = 4  # ratios, intervals, ranks and indices are rounded to 4 decimals
SCORE_DIGITS = 2  # the 0-100 visibility score to 2


@dataclass(frozen=True, slots=True)
class Mention:
    """One brand's mention in one answer, as the extractor reported it."""

    rank: int | None
    sentiment: str = "neutral"
    count: int = 1
    stance: str = "mentioned"


@dataclass(frozen=True, slots=True)
class Answer:
    """One analysed ok answer as the metrics see it: who is mentioned, and what it is about."""

    mentions: Mapping[str, Mention] = field(default_factory=dict)
    subject: str | None = None  # the brand a templated `{brand}` question asked about

    @classmethod
    def from_analysis(
        cls, analysis: Mapping[str, Any], *, subject: str | None, known: Collection[str]
    ) -> Answer:
        """Read an extractor analysis dict, keeping tracked brands only (the first entry wins)."""
        mentions: dict[str, Mention] = {}
        for raw in analysis.get("mentions") or ():
            brand = raw.get("brand") if isinstance(raw, Mapping) else None
            if not isinstance(brand, str) or brand not in known or brand in mentions:
                continue
            rank = raw.get("rank")
            if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
                rank = None
            sentiment = raw.get("sentiment")
            count = raw.get("count")
            stance = raw.get("stance")
            mentions[brand] = Mention(
                rank=rank,
                sentiment=sentiment if sentiment in SENTIMENTS else "neutral",
                count=count if isinstance(count, int) and count > 0 else 1,
                stance=stance if stance in STANCES else "mentioned",
            )
        return cls(mentions=mentions, subject=subject)


class SentimentCounts(BaseModel):
    positive: int = 0
    neutral: int = 0
    negative: int = 0


class StanceCounts(BaseModel):
    recommended: int = 0
    alternative: int = 0
    warned_against: int = 0
    mentioned: int = 0


class BrandMetrics(BaseModel):
    """One brand's metrics over one set of answers (all, a platform's, a question's)."""

    name: str
    is_own: bool
    answers: int  # ok answers in the measured set
    mentions: int  # of those, answers mentioning the brand
    mention_rate: float
    mention_rate_ci: tuple[float, float] | None
    avg_rank: float | None
    top1_share: float
    share_of_voice: float | None  # null where it means nothing (a templated question's subject)
    share_of_voice_weighted: float | None
    rank_score: float
    sentiment_answers: int  # answers whose sentiment counts toward the brand
    sentiment_counts: SentimentCounts
    sentiment_index: float | None
    visibility_score: float | None
    stance_counts: StanceCounts = StanceCounts()  # over the answers mentioning the brand
    recommend_share: float = 0.0  # answers recommending the brand / answers in the set


def wilson_interval(successes: int, n: int, *, z: float = Z_95) -> tuple[float, float] | None:
    """Wilson score interval for a proportion; None when there is nothing to estimate (n = 0)."""
    if n <= 0:
        return None
    p = successes / n
    denom = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, center - half), min(1.0, center + half)


def rank_weight(rank: int | None) -> float:
    """1/log2(rank+1): 1 for rank 1, 0.63 for rank 2, 0.5 for rank 3; 0 when rank is unknown."""
    return 1 / math.log2(rank + 1) if rank is not None and rank >= 1 else 0.0


def sentiment_index(counts: SentimentCounts) -> float | None:
    """(positive - negative) / answers with a sentiment; None when there are none."""
    total = counts.positive + counts.neutral + counts.negative
    return (counts.positive - counts.negative) / total if total else None


def visibility_score(mention_rate: float, rank_score: float, index: float | None) -> float:
    """0-100 blend of presence, prominence and tone; a brand with no sentiment gets 0 for tone."""
    tone = (index + 1) / 2 if index is not None else 0.0
    return 100 * (W_MENTION * mention_rate + W_RANK * rank_score + W_SENTIMENT * tone)


def counts_toward_sentiment(answer: Answer, brand: str) -> bool:
    """An open answer counts for every brand it mentions, a templated one only for its subject."""
    return brand in answer.mentions and (answer.subject is None or answer.subject == brand)


@dataclass(slots=True)
class _Tally:
    mentions: int = 0
    ranks: list[int] = field(default_factory=list)
    top1: int = 0
    weight: float = 0.0
    # Counted in a plain dict and made a StanceCounts once (`stances`): a pydantic model's
    # __setattr__ costs ~1 us, and a 1000-answer report made ~9000 of them (issue 13).
    stance_counts: dict[str, int] = field(default_factory=dict)

    def add(self, mention: Mention) -> None:
        self.mentions += 1
        self.stance_counts[mention.stance] = self.stance_counts.get(mention.stance, 0) + 1
        if mention.rank is not None:
            self.ranks.append(mention.rank)
        self.top1 += mention.rank == 1
        self.weight += rank_weight(mention.rank)

    def stances(self) -> StanceCounts:
        return StanceCounts(**self.stance_counts)


def _tally(brand: str, answers: Sequence[Answer]) -> _Tally:
    tally = _Tally()
    for answer in answers:
        if (mention := answer.mentions.get(brand)) is not None:
            tally.add(mention)
    return tally


def _sentiments(brand: str, answers: Sequence[Answer]) -> SentimentCounts:
    counts: dict[str, int] = {}  # the model made once, as in _Tally
    for answer in answers:
        if counts_toward_sentiment(answer, brand):
            label = answer.mentions[brand].sentiment
            counts[label] = counts.get(label, 0) + 1
    return SentimentCounts(**counts)


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


def _r(value: float | None, digits: int = RATE_DIGITS) -> float | None:
    return None if value is None else round(value, digits)


def _metrics(
    brand: BrandSpec,
    tally: _Tally,
    counts: SentimentCounts,
    *,
    n: int,
    samples: int,
    sov: tuple[float, float] | None,
    with_score: bool,
) -> BrandMetrics:
    rate = _ratio(tally.mentions, n)
    rank_score = _ratio(tally.weight, n)
    index = sentiment_index(counts)
    ci = wilson_interval(tally.mentions, n) if samples > 1 else None
    stances = tally.stances()
    return BrandMetrics(
        name=brand.name,
        is_own=brand.is_own,
        answers=n,
        mentions=tally.mentions,
        mention_rate=round(rate, RATE_DIGITS),
        mention_rate_ci=(round(ci[0], RATE_DIGITS), round(ci[1], RATE_DIGITS)) if ci else None,
        avg_rank=_r(sum(tally.ranks) / len(tally.ranks) if tally.ranks else None),
        top1_share=round(_ratio(tally.top1, n), RATE_DIGITS),
        share_of_voice=_r(sov[0]) if sov else None,
        share_of_voice_weighted=_r(sov[1]) if sov else None,
        rank_score=round(rank_score, RATE_DIGITS),
        sentiment_answers=counts.positive + counts.neutral + counts.negative,
        sentiment_counts=counts,
        sentiment_index=_r(index),
        visibility_score=_r(visibility_score(rate, rank_score, index), SCORE_DIGITS)
        if with_score
        else None,
        stance_counts=stances,
        recommend_share=round(_ratio(stances.recommended, n), RATE_DIGITS),
    )


def brand_metrics(
    brands: Sequence[BrandSpec],
    *,
    visibility: Sequence[Answer],
    sentiment: Sequence[Answer],
    samples: int,
) -> list[BrandMetrics]:
    """Every brand's metrics: presence over `visibility`, tone over `sentiment` (docs/metrics.md).

    `visibility` is the set rates are computed over (open questions' ok answers, or all of them
    when no question is open); `sentiment` is every ok answer, filtered per brand by
    counts_toward_sentiment.
    """
    tallies = [_tally(b.name, visibility) for b in brands]
    plain_total = sum(t.mentions for t in tallies)
    weighted_total = sum(t.weight for t in tallies)
    return [
        _metrics(
            brand,
            tally,
            _sentiments(brand.name, sentiment),
            n=len(visibility),
            samples=samples,
            sov=(_ratio(tally.mentions, plain_total), _ratio(tally.weight, weighted_total)),
            with_score=True,
        )
        for brand, tally in zip(brands, tallies, strict=True)
    ]


def subject_metrics(
    brands: Sequence[BrandSpec], answers: Sequence[Answer], *, samples: int
) -> list[BrandMetrics]:
    """For a templated question: each brand measured over the answers that were about it.

    Share of voice and the visibility score are null here: an answer about X mentions X by
    construction, so they would measure the question, not the brand.
    """
    result = []
    for brand in brands:
        about = [a for a in answers if a.subject == brand.name]
        result.append(
            _metrics(
                brand,
                _tally(brand.name, about),
                _sentiments(brand.name, about),
                n=len(about),
                samples=samples,
                sov=None,
                with_score=False,
            )
        )
    return result
