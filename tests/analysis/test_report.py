"""build_report: sections, the open/templated basis rule, gaps, sources, errors, determinism."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from diagnosis.analysis.report import ReportInput, build_report, question_kind
from diagnosis.analysis.schemas import BrandSpec
from tests.analysis.factories import OPEN, TEMPLATED, mention

OWN, RIVAL = "青柠", "蓝鲸"
BRANDS = (BrandSpec(OWN, aliases=("Qingning",), is_own=True), BrandSpec(RIVAL))
PLATFORMS = (("deepseek", "DeepSeek"), ("kimi", "Kimi"))


def report_input(questions: tuple[str, ...] = (OPEN, TEMPLATED), samples: int = 1) -> ReportInput:
    return ReportInput(
        execution_id="ex-42",
        brands=BRANDS,
        questions=questions,
        platforms=PLATFORMS,
        samples=samples,
        status="completed",
        created_at=datetime(2025, 5, 1, 8, 0, tzinfo=UTC),
        finished_at=datetime(2025, 5, 1, 8, 1, tzinfo=UTC),
    )


def brand(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(b for b in report["brands"] if b["name"] == name)


def test_question_kind_is_templated_only_with_the_brand_placeholder() -> None:
    assert question_kind("{brand}怎么样？") == "templated"
    assert question_kind("推荐几款扫地机器人") == "open"


def test_templated_answers_do_not_inflate_mention_rate(make_result) -> None:
    # given an open answer naming only the rival, and a templated answer about the own brand
    results = [
        make_result(OPEN, mentions=[mention(RIVAL)]),
        make_result(TEMPLATED, subject=OWN, mentions=[mention(OWN, 1, "positive")]),
    ]
    # when
    report = build_report(report_input(), results)
    # then presence is measured on the open answer, tone includes the templated one
    own = brand(report, OWN)
    assert (own["answers"], own["mention_rate"], own["sentiment_index"]) == (1, 0.0, 1.0)
    assert report["summary"]["metrics_basis"] == "open_questions"
    assert "open questions" in report["methodology"]["metrics_basis"]


def test_without_open_questions_metrics_fall_back_to_all_answers_and_say_so(
    make_result,
) -> None:
    results = [
        make_result(TEMPLATED, subject=OWN, mentions=[mention(OWN)]),
        make_result(TEMPLATED, subject=RIVAL, mentions=[mention(RIVAL)]),
    ]
    report = build_report(report_input(questions=(TEMPLATED,)), results)
    assert report["summary"]["metrics_basis"] == "all_answers"
    assert "no open question" in report["summary"]["note"]
    assert brand(report, OWN)["mention_rate"] == 0.5
    assert report["questions"][0]["kind"] == "templated"


def test_open_questions_without_ok_answers_leave_visibility_empty(make_result) -> None:
    results = [
        make_result(OPEN, status="error", error_kind="rate_limited"),
        make_result(TEMPLATED, subject=OWN, mentions=[mention(OWN, 1, "negative")]),
    ]
    report = build_report(report_input(), results)
    assert "open questions" in report["summary"]["note"]
    own = brand(report, OWN)
    assert own["answers"] == 0 and own["mention_rate"] == 0.0 and own["sentiment_index"] == -1.0


def test_per_platform_breakdown_uses_that_platforms_answers(make_result) -> None:
    results = [
        make_result(OPEN, platform="deepseek", mentions=[mention(OWN)]),
        make_result(OPEN, platform="kimi", mentions=[mention(RIVAL)]),
        make_result(OPEN, platform="kimi", status="error", error_kind="timeout"),
    ]
    platforms = {p["platform"]: p for p in build_report(report_input(), results)["platforms"]}
    assert platforms["deepseek"]["display_name"] == "DeepSeek"
    assert [b["mention_rate"] for b in platforms["deepseek"]["brands"]] == [1.0, 0.0]
    assert [b["mention_rate"] for b in platforms["kimi"]["brands"]] == [0.0, 1.0]
    assert (platforms["kimi"]["ok"], platforms["kimi"]["failed"]) == (1, 1)


def test_wilson_interval_only_when_samples_exceed_one(make_result) -> None:
    results = [make_result(OPEN, mentions=[mention(OWN)]), make_result(OPEN)]
    assert brand(build_report(report_input(samples=1), results), OWN)["mention_rate_ci"] is None
    ci = brand(build_report(report_input(samples=2), results), OWN)["mention_rate_ci"]
    assert ci == [0.0945, 0.9055]


def test_gaps_skip_templated_answers_about_competitors(make_result) -> None:
    results = [
        make_result(TEMPLATED, subject=RIVAL, mentions=[mention(RIVAL)]),  # trivial: not a gap
        make_result(TEMPLATED, subject=OWN, mentions=[mention(RIVAL)], platform="kimi"),
        make_result(OPEN, mentions=[mention(RIVAL)]),
        make_result(OPEN, mentions=[mention(RIVAL), mention(OWN, 2)]),
    ]
    gaps = {g["question"]: g for g in build_report(report_input(), results)["gaps"]}
    assert gaps[TEMPLATED]["answers"] == 1 and gaps[TEMPLATED]["platforms"] == ["kimi"]
    assert gaps[OPEN]["gap_answers"] == 1 and gaps[OPEN]["own_mentions"] == 1
    assert gaps[OPEN]["competitors"] == [RIVAL] and gaps[OPEN]["brand_absent"] is True


def test_sources_count_each_answer_once_per_domain(make_result) -> None:
    results = [
        make_result(cited=("https://zhihu.com/a", "https://zhihu.com/b")),
        make_result(cited=("https://zhihu.com/a", "https://jd.com/x")),
    ]
    sources = build_report(report_input(), results)["sources"]
    assert sources["top_domains"] == [
        {"domain": "zhihu.com", "count": 2},
        {"domain": "jd.com", "count": 1},
    ]
    assert {k: sources["urls"][0][k] for k in ("url", "count")} == {
        "url": "https://zhihu.com/a", "count": 2,
    }


def test_pending_and_unanalysed_results_are_counted_but_not_measured(make_result) -> None:
    results = [
        make_result(OPEN, mentions=[mention(OWN)]),
        make_result(OPEN, analysed=False),  # ok, not analysed yet
        make_result(OPEN, status="pending"),
    ]
    report = build_report(report_input(), results)
    summary = report["summary"]
    assert (summary["ok_results"], summary["unanalyzed_results"]) == (2, 1)
    assert (summary["pending_results"], summary["failed_results"]) == (1, 0)
    assert brand(report, OWN)["mention_rate"] == 1.0


def test_errors_are_grouped_by_kind_and_platform(make_result) -> None:
    results = [
        make_result(status="error", error_kind="timeout"),
        make_result(status="error", error_kind="timeout", platform="kimi"),
        make_result(status="error", error_kind="circuit_open", platform="kimi"),
    ]
    errors = build_report(report_input(), results)["errors"]
    assert errors["by_kind"] == {"timeout": 2, "circuit_open": 1}
    assert errors["by_platform"]["kimi"] == {"circuit_open": 1, "timeout": 1}


def test_report_is_json_ready_and_deterministic(make_result) -> None:
    results = [make_result(OPEN, mentions=[mention(OWN), mention(RIVAL, 2)])]
    first = build_report(report_input(), results)
    assert json.dumps(first, ensure_ascii=False) == json.dumps(
        build_report(report_input(), results), ensure_ascii=False
    )
    assert first["generated_at"] == "2025-05-01T08:01:00Z"
    assert first["own_brand"] == OWN and first["competitors"] == [RIVAL]
    assert {"brands", "platforms", "questions", "gaps", "sources", "errors"} <= first.keys()
