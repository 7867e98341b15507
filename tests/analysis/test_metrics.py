"""Metric definitions of docs/metrics.md, including its worked example, number for number."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from diagnosis.analysis.metrics import (
    Answer,
    Mention,
    brand_metrics,
    rank_weight,
    subject_metrics,
    visibility_score,
    wilson_interval,
)
from diagnosis.analysis.report import ReportInput, ResultView, build_report
from diagnosis.analysis.schemas import BrandSpec
from tests.analysis.factories import OPEN, TEMPLATED, mention

OWN, BLUE, ORBIT = "青柠", "蓝鲸", "Orbit"
BRANDS = (BrandSpec(OWN, is_own=True), BrandSpec(BLUE), BrandSpec(ORBIT))
Q1, Q2, Q3 = OPEN, "What are the best robot vacuums?", TEMPLATED


def report_input(
    questions: tuple[str, ...] = (Q1, Q2, Q3), *, samples: int = 2, brands=BRANDS
) -> ReportInput:
    return ReportInput(
        execution_id="ex1",
        brands=brands,
        questions=questions,
        platforms=(("deepseek", "DeepSeek"),),
        samples=samples,
        status="partial_success",
        created_at=datetime(2025, 1, 2, 3, 0, tzinfo=UTC),
        finished_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
    )


def by_name(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in rows}


# --- Wilson interval --------------------------------------------------------------------


def test_wilson_interval_matches_hand_computed_values() -> None:
    assert wilson_interval(3, 10) == pytest.approx((0.10779, 0.60323), abs=1e-5)
    assert wilson_interval(2, 4) == pytest.approx((0.15004, 0.84996), abs=1e-5)
    assert wilson_interval(3, 4) == pytest.approx((0.30064, 0.95441), abs=1e-5)


def test_wilson_interval_stays_within_zero_and_one_at_the_extremes() -> None:
    lo, hi = wilson_interval(0, 5)  # type: ignore[misc]
    assert lo == 0.0 and 0 < hi < 1
    lo, hi = wilson_interval(5, 5)  # type: ignore[misc]
    assert 0 < lo < 1 and hi == 1.0


def test_wilson_interval_of_no_observations_is_none() -> None:
    assert wilson_interval(0, 0) is None


# --- each metric on a small hand-built set ------------------------------------------------


def test_rank_weight_is_inverse_log2_of_rank_plus_one() -> None:
    assert rank_weight(1) == 1.0
    assert rank_weight(2) == pytest.approx(0.63093, abs=1e-5)
    assert rank_weight(3) == 0.5
    assert rank_weight(None) == 0.0


def test_each_metric_on_a_hand_built_set() -> None:
    # given three answers: A named 1st twice (pos, neg), B named 2nd once (pos), one empty
    brands = (BrandSpec("A", is_own=True), BrandSpec("B"))
    answers = [
        Answer({"A": Mention(1, "positive"), "B": Mention(2, "positive")}),
        Answer({"A": Mention(1, "negative")}),
        Answer({}),
    ]
    # when
    a, b = brand_metrics(brands, visibility=answers, sentiment=answers, samples=1)
    # then
    assert (a.mentions, a.answers, a.mention_rate) == (2, 3, pytest.approx(0.6667, abs=1e-4))
    assert a.mention_rate_ci is None  # one sample: no interval
    assert (a.avg_rank, a.top1_share) == (1.0, pytest.approx(0.6667, abs=1e-4))
    assert a.share_of_voice == pytest.approx(0.6667, abs=1e-4)
    assert a.share_of_voice_weighted == pytest.approx(2 / 2.63093, abs=1e-4)
    assert a.sentiment_index == 0.0  # (1 - 1) / 2
    assert b.avg_rank == 2.0 and b.top1_share == 0.0 and b.sentiment_index == 1.0
    assert b.rank_score == pytest.approx(0.63093 / 3, abs=1e-4)
    assert a.share_of_voice + b.share_of_voice == pytest.approx(1.0, abs=1e-4)
    assert a.share_of_voice_weighted + b.share_of_voice_weighted == pytest.approx(1.0, abs=1e-4)
    assert a.visibility_score == pytest.approx(
        100 * (0.5 * 2 / 3 + 0.3 * 2 / 3 + 0.2 * 0.5), abs=0.01
    )


def test_visibility_score_spans_zero_to_one_hundred() -> None:
    assert visibility_score(1.0, 1.0, 1.0) == pytest.approx(100.0)
    assert visibility_score(0.0, 0.0, None) == 0.0
    assert visibility_score(0.0, 0.0, -1.0) == 0.0


def test_templated_answer_counts_toward_its_subject_sentiment_only() -> None:
    brands = (BrandSpec("A", is_own=True), BrandSpec("B"))
    about_a = Answer({"A": Mention(1, "negative"), "B": Mention(2, "positive")}, subject="A")
    a, b = brand_metrics(brands, visibility=[], sentiment=[about_a], samples=1)
    assert a.sentiment_index == -1.0
    assert b.sentiment_index is None and b.sentiment_answers == 0


def test_subject_metrics_measure_each_brand_over_the_answers_about_it() -> None:
    brands = (BrandSpec("A", is_own=True), BrandSpec("B"))
    answers = [
        Answer({"A": Mention(1, "positive")}, subject="A"),
        Answer({"A": Mention(1, "positive")}, subject="B"),  # B not named in its own answer
    ]
    a, b = subject_metrics(brands, answers, samples=1)
    assert (a.answers, a.mention_rate, a.sentiment_index) == (1, 1.0, 1.0)
    assert (b.answers, b.mention_rate, b.sentiment_index) == (1, 0.0, None)
    assert a.share_of_voice is None and a.visibility_score is None


def test_unknown_brands_and_malformed_mentions_are_ignored() -> None:
    answer = Answer.from_analysis(
        {"mentions": [mention("Nope", 1), {"brand": "A", "rank": True, "sentiment": "great"}]},
        subject=None,
        known={"A"},
    )
    assert list(answer.mentions) == ["A"]
    assert answer.mentions["A"] == Mention(rank=None, sentiment="neutral", count=1)


# --- the worked example of docs/metrics.md -------------------------------------------------


@pytest.fixture
def worked_example(make_result: Callable[..., ResultView]) -> list[ResultView]:
    r = make_result
    return [
        r(
            Q1,
            mentions=[
                mention(BLUE, 1, "positive"),
                mention(OWN, 2, "positive"),
                mention(ORBIT, 3, "neutral"),
            ],
            cited=("https://zhihu.com/question/1", "https://jd.com/item/9"),
        ),
        r(Q1, sample=1, mentions=[mention(BLUE, 1, "positive"), mention(ORBIT, 2, "negative")]),
        r(
            Q2,
            mentions=[mention(OWN, 1, "positive"), mention(BLUE, 3, "neutral")],
            cited=("https://zhihu.com/question/2",),
        ),
        r(Q2, sample=1),
        r(
            Q3,
            subject=OWN,
            mentions=[mention(OWN, 1, "positive")],
            cited=("https://smzdm.com/p/3",),
        ),
        r(
            Q3,
            subject=OWN,
            sample=1,
            mentions=[mention(OWN, 1, "neutral"), mention(BLUE, 2, "positive")],
        ),
        r(Q3, subject=BLUE, mentions=[mention(BLUE, 1, "negative")]),
        r(Q3, subject=BLUE, sample=1, status="error", error_kind="timeout"),
        r(Q3, subject=ORBIT, mentions=[mention(ORBIT, 1, "neutral")]),
        r(Q3, subject=ORBIT, sample=1),
    ]


def test_worked_example_brand_metrics(worked_example: list[ResultView]) -> None:
    report = build_report(report_input(), worked_example)
    assert report["summary"]["total_results"] == 10
    assert report["summary"]["ok_results"] == 9
    assert report["summary"]["failed_results"] == 1
    assert report["summary"]["metrics_basis"] == "open_questions"
    own, blue, orbit = (by_name(report["brands"])[n] for n in (OWN, BLUE, ORBIT))
    # metric: (青柠, 蓝鲸, Orbit), the figures of the worked example in docs/metrics.md
    table = {
        "answers": (4, 4, 4),
        "mentions": (2, 3, 2),
        "mention_rate": (0.5, 0.75, 0.5),
        "mention_rate_ci": ([0.15, 0.85], [0.3006, 0.9544], [0.15, 0.85]),
        "avg_rank": (1.5, 1.6667, 2.5),
        "top1_share": (0.25, 0.5, 0.0),
        "share_of_voice": (0.2857, 0.4286, 0.2857),
        "share_of_voice_weighted": (0.31, 0.4751, 0.2149),
        "rank_score": (0.4077, 0.625, 0.2827),
        "sentiment_index": (0.75, 0.25, -0.3333),
        "visibility_score": (54.73, 68.75, 40.15),
    }
    expected = {
        name: {metric: values[i] for metric, values in table.items()}
        for i, name in enumerate((OWN, BLUE, ORBIT))
    }
    for row in (own, blue, orbit):
        assert {k: row[k] for k in expected[row["name"]]} == expected[row["name"]]
    assert own["is_own"] and not blue["is_own"]
    assert blue["sentiment_counts"] == {"positive": 2, "neutral": 1, "negative": 1}


def test_worked_example_questions_gaps_sources_errors(worked_example: list[ResultView]) -> None:
    report = build_report(report_input(), worked_example)
    q1, q2, q3 = report["questions"]
    assert [q["kind"] for q in (q1, q2, q3)] == ["open", "open", "templated"]
    assert [b["mention_rate"] for b in q1["brands"]] == [0.5, 1.0, 1.0]
    assert [b["mention_rate"] for b in q2["brands"]] == [0.5, 0.5, 0.0]
    assert [(b["answers"], b["mention_rate"], b["sentiment_index"]) for b in q3["brands"]] == [
        (2, 1.0, 0.5),
        (1, 1.0, -1.0),
        (2, 0.5, 0.0),
    ]
    assert report["gaps"] == [
        {
            "question": Q1,
            "kind": "open",
            "answers": 2,
            "own_mentions": 1,
            "gap_answers": 1,
            "brand_absent": True,
            "competitors": [BLUE, ORBIT],
            "competitor_counts": {BLUE: 1, ORBIT: 1},
            "platforms": ["deepseek"],
        }
    ]
    assert report["sources"]["top_domains"] == [
        {"domain": "zhihu.com", "count": 2},
        {"domain": "jd.com", "count": 1},
        {"domain": "smzdm.com", "count": 1},
    ]
    assert report["errors"]["by_kind"] == {"timeout": 1}


# --- empty cases ---------------------------------------------------------------------------


def test_no_ok_answers_gives_empty_metrics_and_says_so(
    make_result: Callable[..., ResultView],
) -> None:
    results = [
        make_result(Q1, status="error", error_kind="timeout"),
        make_result(Q1, sample=1, status="error", error_kind="auth"),
        make_result(Q3, subject=OWN, status="cancelled"),
    ]
    report = build_report(report_input(), results)
    assert report["summary"]["ok_results"] == 0
    assert report["summary"]["failed_results"] == 3
    assert "no successful answers" in report["summary"]["note"]
    for row in report["brands"]:
        assert row["mention_rate"] == 0.0 and row["top1_share"] == 0.0
        assert row["mention_rate_ci"] is None
        assert row["avg_rank"] is None and row["sentiment_index"] is None
        assert row["share_of_voice"] == 0.0 and row["visibility_score"] == 0.0
    assert report["gaps"] == [] and report["sources"]["top_domains"] == []
    assert report["errors"]["by_kind"] == {"timeout": 1, "auth": 1, "cancelled": 1}


def test_no_results_at_all_does_not_divide_by_zero() -> None:
    report = build_report(report_input(), [])
    assert report["summary"]["total_results"] == 0
    assert report["summary"]["note"].startswith("no successful answers")
    assert all(p["brands"][0]["mention_rate"] == 0.0 for p in report["platforms"])


def test_a_brand_never_mentioned_has_null_rank_and_sentiment(
    make_result: Callable[..., ResultView],
) -> None:
    results = [make_result(Q1, mentions=[mention(OWN, 1, "positive")])]
    orbit = by_name(build_report(report_input(), results)["brands"])[ORBIT]
    assert orbit["mentions"] == 0 and orbit["mention_rate"] == 0.0
    assert orbit["avg_rank"] is None and orbit["sentiment_index"] is None
    assert orbit["share_of_voice"] == 0.0 and orbit["visibility_score"] == 0.0
    assert by_name(build_report(report_input(), results)["brands"])[OWN]["share_of_voice"] == 1.0


def test_recommend_share_counts_answers_that_recommend_the_brand_over_the_measured_set() -> None:
    answers = [
        Answer.from_analysis(
            {"mentions": [mention(OWN, 1, "positive", stance="recommended"),
                          mention(BLUE, 2, stance="alternative")]},
            subject=None, known={OWN, BLUE, ORBIT},
        ),
        Answer.from_analysis(
            {"mentions": [mention(OWN, 1, "negative", stance="warned_against")]},
            subject=None, known={OWN, BLUE, ORBIT},
        ),
        Answer.from_analysis({"mentions": [mention(BLUE, 1)]}, subject=None, known={BLUE}),
        Answer.from_analysis({"mentions": []}, subject=None, known={OWN}),
    ]
    own, blue, orbit = brand_metrics(BRANDS, visibility=answers, sentiment=answers, samples=1)
    assert (own.recommend_share, blue.recommend_share, orbit.recommend_share) == (0.25, 0.0, 0.0)
    assert own.stance_counts.model_dump() == {
        "recommended": 1, "alternative": 0, "warned_against": 1, "mentioned": 0
    }
    # an analysis stored before stances existed reads as "mentioned"
    assert blue.stance_counts.alternative == 1 and blue.stance_counts.mentioned == 1
