"""The report's one-pass sections give exactly what the per-slice definitions give (issue 13).

The platform, question and gap sections group the results once instead of filtering all of
them again for every platform and question, and the brand tallies count stances and sentiments
in plain dicts instead of a pydantic model's attributes. Checked against copies of the
definitions they replaced (below), patched into the same `build_report`, on result sets drawn
to mix platforms, open and templated questions, subjects, failures and unanalysed answers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diagnosis.analysis import metrics, report
from diagnosis.analysis.metrics import Answer, SentimentCounts, StanceCounts, brand_metrics
from diagnosis.analysis.report import (
    Gap,
    PlatformReport,
    QuestionReport,
    ReportInput,
    ResultView,
    build_report,
    question_kind,
    subject_metrics,
)
from diagnosis.analysis.schemas import BrandSpec

BRANDS = (BrandSpec("青柠", is_own=True), BrandSpec("蓝鲸"), BrandSpec("Acme"))
NAMES = [b.name for b in BRANDS]
TEMPLATES = ("推荐几款扫地机器人", "{brand}怎么样？", "哪个牌子好", "{brand}的售后如何")
PLATFORMS = (("deepseek", "DeepSeek"), ("kimi", "Kimi"), ("qwen", "通义千问"))


# --- the definitions the one-pass code replaced, as they were ------------------------------


@dataclass(slots=True)
class _Tally:
    mentions: int = 0
    ranks: list[int] = field(default_factory=list)
    top1: int = 0
    weight: float = 0.0
    stance_model: StanceCounts = field(default_factory=StanceCounts)

    def add(self, mention: metrics.Mention) -> None:
        self.mentions += 1
        setattr(self.stance_model, mention.stance, getattr(self.stance_model, mention.stance) + 1)
        if mention.rank is not None:
            self.ranks.append(mention.rank)
        self.top1 += mention.rank == 1
        self.weight += metrics.rank_weight(mention.rank)

    def stances(self) -> StanceCounts:
        return self.stance_model


def _tally(brand: str, answers: Sequence[Answer]) -> _Tally:
    tally = _Tally()
    for answer in answers:
        if (mention := answer.mentions.get(brand)) is not None:
            tally.add(mention)
    return tally


def _sentiments(brand: str, answers: Sequence[Answer]) -> SentimentCounts:
    counts = SentimentCounts()
    for answer in answers:
        if metrics.counts_toward_sentiment(answer, brand):
            label = answer.mentions[brand].sentiment
            setattr(counts, label, getattr(counts, label) + 1)
    return counts


def _platform_section(inp: ReportInput, results: Sequence[ResultView], pool: Any,
                      analysed: Any) -> list[PlatformReport]:
    names = dict(inp.platforms)
    ids = list(dict.fromkeys([p for p, _ in inp.platforms] + [r.platform for r in results]))
    return [
        PlatformReport(
            platform=pid,
            display_name=names.get(pid, pid),
            ok=sum(r.platform == pid and r.status == "ok" for r in results),
            failed=sum(r.platform == pid and r.status in ("error", "cancelled") for r in results),
            brands=brand_metrics(
                inp.brands,
                visibility=[a for r, a in pool if r.platform == pid],
                sentiment=[a for r, a in analysed if r.platform == pid],
                samples=inp.samples,
            ),
        )
        for pid in ids
    ]


def _question_section(inp: ReportInput, results: Sequence[ResultView],
                      analysed: Any) -> list[QuestionReport]:
    sections = []
    for template in dict.fromkeys([*inp.questions, *(r.template for r in results)]):
        answers = [a for r, a in analysed if r.template == template]
        kind = question_kind(template)
        sections.append(
            QuestionReport(
                question=template,
                kind=kind,
                ok=sum(r.template == template and r.status == "ok" for r in results),
                failed=sum(
                    r.template == template and r.status in ("error", "cancelled") for r in results
                ),
                brands=brand_metrics(
                    inp.brands, visibility=answers, sentiment=answers, samples=inp.samples
                )
                if kind == "open"
                else subject_metrics(inp.brands, answers, samples=inp.samples),
            )
        )
    return sections


def _gap_section(inp: ReportInput, analysed: Any) -> list[Gap]:
    own = next((b.name for b in inp.brands if b.is_own), None)
    if own is None:
        return []
    rivals = [b.name for b in inp.brands if b.name != own]
    gaps = []
    for template in dict.fromkeys([r.template for r, _ in analysed]):
        eligible = [
            (r, a) for r, a in analysed if r.template == template and a.subject in (None, own)
        ]
        missing = [(r, a) for r, a in eligible if own not in a.mentions]
        present: Counter[str] = Counter(
            name for _, a in missing for name in rivals if name in a.mentions
        )
        if not present:
            continue
        gap_rows = [(r, a) for r, a in missing if any(n in a.mentions for n in rivals)]
        gaps.append(
            Gap(
                question=template,
                kind=question_kind(template),
                answers=len(eligible),
                own_mentions=len(eligible) - len(missing),
                gap_answers=len(gap_rows),
                competitors=sorted(present, key=lambda n: (-present[n], rivals.index(n))),
                competitor_counts={n: present[n] for n in rivals if n in present},
                platforms=list(dict.fromkeys([r.platform for r, _ in gap_rows])),
            )
        )
    return gaps


def _reference_report(inp: ReportInput, results: list[ResultView]) -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(metrics, "_tally", _tally)
        patch.setattr(metrics, "_sentiments", _sentiments)
        patch.setattr(report, "_platform_section", _platform_section)
        patch.setattr(report, "_question_section", _question_section)
        patch.setattr(report, "_gap_section", _gap_section)
        return build_report(inp, results)


# --- result sets ---------------------------------------------------------------------------

_MENTION = st.fixed_dictionaries({
    "brand": st.sampled_from(NAMES),
    "rank": st.one_of(st.none(), st.integers(1, 6)),
    "sentiment": st.sampled_from(("positive", "neutral", "negative")),
    "stance": st.sampled_from(("recommended", "alternative", "warned_against", "mentioned")),
    "count": st.integers(1, 3),
})


@st.composite
def _result(draw: st.DrawFn, number: int) -> ResultView:
    template = draw(st.sampled_from(TEMPLATES))
    subject = draw(st.sampled_from(NAMES)) if "{brand}" in template else None
    status = draw(st.sampled_from(("ok", "ok", "ok", "error", "cancelled", "pending")))
    ok = status == "ok"
    analysed = ok and draw(st.booleans() | st.just(True))
    analysis = ({"mentions": draw(st.lists(_MENTION, max_size=4)), "sources": []}
                if analysed else None)
    return ResultView(
        task_key=f"t{number}",
        question=template.replace("{brand}", subject) if subject else template,
        template=template,
        subject=subject,
        platform=draw(st.sampled_from([pid for pid, _ in PLATFORMS] + ["ollama"])),
        sample=number % 3,
        status=status,
        error_kind=None if ok else draw(st.sampled_from((None, "timeout", "rate_limited"))),
        answer="1. **青柠**：不错。" if ok else None,
        latency_ms=120 if ok else None,
        analysis=analysis,
    )


_RESULTS = st.integers(0, 40).flatmap(
    lambda n: st.tuples(*(_result(i) for i in range(n))).map(list)
)


@settings(max_examples=300, deadline=None)
@given(_RESULTS, st.lists(st.sampled_from(TEMPLATES), unique=True, max_size=4),
       st.integers(1, 3))
def test_the_one_pass_report_is_the_per_slice_report(
    results: list[ResultView], questions: list[str], samples: int
) -> None:
    inp = ReportInput(
        execution_id="ex-13", brands=BRANDS, questions=questions, platforms=PLATFORMS,
        samples=samples, status="completed", created_at=datetime(2026, 12, 2, tzinfo=UTC),
        finished_at=datetime(2026, 12, 2, 0, 1, tzinfo=UTC),
    )
    assert build_report(inp, results) == _reference_report(inp, results)


def test_a_brand_tally_counts_each_stance_and_sentiment() -> None:
    answers = [
        Answer({"青柠": metrics.Mention(1, "positive", stance="recommended")}),
        Answer({"青柠": metrics.Mention(2, "negative", stance="warned_against")}),
        Answer({"青柠": metrics.Mention(None, "positive", stance="recommended")}),
        Answer({"蓝鲸": metrics.Mention(1)}),
    ]
    [own, _, _] = brand_metrics(BRANDS, visibility=answers, sentiment=answers, samples=1)
    assert own.stance_counts == StanceCounts(recommended=2, warned_against=1)
    assert own.sentiment_counts == SentimentCounts(positive=2, negative=1)
    assert (own.mentions, own.top1_share, own.recommend_share) == (3, 0.25, 0.5)
