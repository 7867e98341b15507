"""Our executions in the mini-program's words (SPEC 6): its status and stage enums, its model
ids, its per-task row names and its report's brandScores.

Pure: no I/O. Every number comes from our analysis of the answer text; none is taken from a
model's claims about itself, so the old scores that were (authority, purity, consistency) are null.
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from diagnosis.analysis.metrics import (
    Answer,
    SentimentCounts,
    rank_weight,
    sentiment_index,
    visibility_score,
)
from diagnosis.api.compat_out import (
    BrandScore,
    ClientStage,
    ClientStatus,
    GeoData,
    Grade,
    MiniProgramResult,
)
from diagnosis.api.schemas import ResultOut
from diagnosis.constants import ExecutionStatus

_TERMINAL: dict[str, ClientStatus] = {
    ExecutionStatus.completed: "completed",
    ExecutionStatus.partial_success: "partial_completed",
    ExecutionStatus.failed: "failed",
    ExecutionStatus.cancelled: "failed",
    ExecutionStatus.timeout: "failed",
}
_RUNNING: dict[str, ClientStatus] = {"ai_fetching": "ai_fetching", "analyzing": "analyzing"}
CLIENT_TERMINAL: frozenset[str] = frozenset({"completed", "partial_completed", "failed"})

# Where the mini-program's id of a platform is not ours (its model picker says `chatgpt`).
CLIENT_MODEL_IDS: Mapping[str, str] = {"openai": "chatgpt"}

# overallGrade from the visibility score (0-100): even 20-point bands, documented in the README.
GRADE_CUTOFFS: tuple[tuple[float, Grade], ...] = ((80, "A"), (60, "B"), (40, "C"), (20, "D"))
SENTIMENT_NUMBER = {"positive": 1.0, "neutral": 0.0, "negative": -1.0}


def client_status(status: str, stage: str) -> ClientStatus:
    """partial_success -> partial_completed; cancelled, timeout -> failed; while running, the
    stage says which of initializing, ai_fetching, analyzing."""
    if status in _TERMINAL:
        return _TERMINAL[status]
    return _RUNNING.get(stage, "initializing")


def client_stage(status: str, stage: str) -> ClientStage:
    if status in _TERMINAL:
        return "failed" if _TERMINAL[status] == "failed" else "completed"
    if stage in ("ai_fetching", "analyzing"):
        return "ai_fetching" if stage == "ai_fetching" else "analyzing"
    return "init"


def in_client_words(payload: dict[str, Any]) -> dict[str, Any]:
    """A status payload with status/stage in the client's enums, ours kept beside them, and
    is_completed / should_stop_polling true exactly when the client's status is terminal."""
    status, stage = str(payload["status"]), str(payload["stage"])
    mapped = client_status(status, stage)
    done = mapped in CLIENT_TERMINAL
    return {
        **payload,
        "status": mapped,
        "stage": client_stage(status, stage),
        "execution_status": status,
        "execution_stage": stage,
        "is_completed": done,
        "should_stop_polling": done,
    }


def client_model_id(platform: str) -> str:
    return CLIENT_MODEL_IDS.get(platform, platform)


def whole(value: float) -> int:
    """Half up, like the client's Math.round (Python's round() goes to even: 62.5 -> 62)."""
    return math.floor(value + 0.5)


def grade(score: float) -> Grade:
    for cutoff, letter in GRADE_CUTOFFS:
        if score >= cutoff:
            return letter
    return "E"


def _geo_data(answer: Answer, brand: str, raw: Sequence[Any]) -> GeoData:
    mention = answer.mentions.get(brand)
    sentiment = 0.0
    if mention is not None:
        sentiment = SENTIMENT_NUMBER[mention.sentiment]
        judged = next((m.get("sentiment_score") for m in raw
                       if isinstance(m, Mapping) and m.get("brand") == brand), None)
        if isinstance(judged, int | float) and not isinstance(judged, bool):
            sentiment = max(-1.0, min(1.0, float(judged)))  # a judge's own score, if it gave one
    return GeoData(
        brand_mentioned=mention is not None,
        rank=mention.rank if mention is not None and mention.rank is not None else -1,
        sentiment=sentiment,
        competitors_mentioned=[name for name in answer.mentions if name != brand],
    )


def answer_score(answer: Answer, brand: str) -> float:
    """docs/metrics.md's visibility score over this one answer: presence, rank weight, tone."""
    mention = answer.mentions.get(brand)
    if mention is None:
        return round(visibility_score(0.0, 0.0, None), 2)
    counts = SentimentCounts(**{mention.sentiment: 1})
    return round(visibility_score(1.0, rank_weight(mention.rank), sentiment_index(counts)), 2)


def legacy_row(
    row: Any, *, own_brand: str, brands: Sequence[str], display_names: Mapping[str, str]
) -> MiniProgramResult:
    """One stored result with both our fields and the old client's names."""
    ours = ResultOut.model_validate(row, from_attributes=True)
    brand = ours.subject or own_brand
    geo: GeoData | None = None
    score: float | None = None
    if ours.status == "ok" and ours.analysis is not None:
        raw = ours.analysis.get("mentions") or []
        # brands appear in the order the answer first names them (the extractor's order)
        answer = Answer.from_analysis(ours.analysis, subject=ours.subject, known=set(brands))
        geo = _geo_data(answer, brand, raw)
        score = answer_score(answer, brand)
    model = client_model_id(ours.platform)
    return MiniProgramResult(
        **ours.model_dump(),
        platform_name=display_names.get(ours.platform, ours.platform),
        brand=brand,
        model=model,
        aiModel=model,
        response=ours.answer or "",
        error_type=ours.error_kind,
        geo_data=geo,
        score=score,
    )


def brand_score(metrics: Mapping[str, Any]) -> BrandScore:
    """One report brand's metrics (SPEC 8) under the old report's names, on 0-100 scales."""
    score = metrics.get("visibility_score")
    value = float(score) if score is not None else 0.0
    rate = float(metrics.get("mention_rate") or 0.0)
    index = metrics.get("sentiment_index")
    letter = grade(value)
    return BrandScore(
        isOwn=bool(metrics.get("is_own")),
        overallScore=whole(value),
        overallGrade=letter,
        overallVisibility=whole(100 * rate),
        overallSentiment=whole(50 * (float(index) + 1)) if index is not None else None,
        overallSummary=(
            f"可见度评分 {whole(value)}（{letter}），提及率 {whole(100 * rate)}% / "
            f"visibility score {whole(value)} ({letter}), mentioned in {whole(100 * rate)}%"
        ),
        visibilityScore=score,
        mentionRate=rate,
        avgRank=metrics.get("avg_rank"),
        top1Share=float(metrics.get("top1_share") or 0.0),
        shareOfVoice=metrics.get("share_of_voice"),
        sentimentIndex=index,
    )


def brand_scores(brands: Iterable[Mapping[str, Any]]) -> dict[str, BrandScore]:
    return {str(b["name"]): brand_score(b) for b in brands if b.get("name")}


def own_score(report: Mapping[str, Any] | None) -> int | None:
    """The own brand's overallScore in a stored report, or None (no report yet)."""
    for metrics in (report or {}).get("brands") or ():
        if metrics.get("is_own") and metrics.get("visibility_score") is not None:
            return whole(float(metrics["visibility_score"]))
    return None


def live_brand_summary(
    brands: Sequence[tuple[str, bool]], results: Sequence[Any]
) -> list[dict[str, Any]]:
    """Per brand over the ok answers so far: answers mentioning it and the mention rate."""
    ok = [r for r in results if r.status == "ok"]
    summary = []
    for name, is_own in brands:
        mentions = sum(
            1 for r in ok
            if any(m.get("brand") == name for m in (r.analysis or {}).get("mentions", ()))
        )
        summary.append({
            "name": name, "is_own": is_own, "answers": len(ok), "mentions": mentions,
            "mention_rate": round(mentions / len(ok), 4) if ok else 0.0,
        })
    return summary
