"""Our executions in the mini-program's words, without a server: its status and stage enums, its
model ids, the old row names, brandScores and grades (SPEC 6; docs/metrics.md for the score)."""

from types import SimpleNamespace

import pytest

from diagnosis.api.compat_vocabulary import (
    brand_score,
    client_stage,
    client_status,
    grade,
    in_client_words,
    legacy_row,
    own_score,
)


@pytest.mark.parametrize(
    ("status", "stage", "words"),
    [
        ("queued", "init", ("initializing", "init", False)),
        ("running", "init", ("initializing", "init", False)),
        ("running", "ai_fetching", ("ai_fetching", "ai_fetching", False)),
        ("running", "analyzing", ("analyzing", "analyzing", False)),
        ("completed", "done", ("completed", "completed", True)),
        ("partial_success", "done", ("partial_completed", "completed", True)),
        ("failed", "done", ("failed", "failed", True)),
        ("cancelled", "done", ("failed", "failed", True)),
        ("timeout", "done", ("failed", "failed", True)),
    ],
)
def test_status_and_stage_map_to_the_clients_enums_and_stop_exactly_when_terminal(
    status, stage, words
):
    assert (client_status(status, stage), client_stage(status, stage)) == words[:2]
    payload = in_client_words({"status": status, "stage": stage, "progress": 7})
    assert payload["execution_status"] == status and payload["execution_stage"] == stage
    assert payload["is_completed"] is words[2] and payload["should_stop_polling"] is words[2]
    assert payload["progress"] == 7


@pytest.mark.parametrize(
    ("score", "letter"),
    [(100, "A"), (80, "A"), (79.99, "B"), (60, "B"), (59.9, "C"), (40, "C"), (39, "D"),
     (20, "D"), (19.99, "E"), (0, "E")],
)
def test_grades_follow_the_documented_cut_offs(score, letter):
    assert grade(score) == letter


def result(**fields):
    base = {
        "task_key": "k", "question": "推荐几款车", "subject": None, "platform": "openai",
        "sample": 0, "status": "ok", "error_kind": None, "answer": "1. 理想 2. 蔚来",
        "truncated": False, "error": None, "latency_ms": 10, "attempts": 1, "usage": None,
        "finished_at": None,
        "analysis": {"mentions": [
            {"brand": "理想", "rank": 1, "sentiment": "positive", "count": 1},
            {"brand": "蔚来", "rank": 2, "sentiment": "negative", "count": 1},
        ], "sources": []},
    }
    return SimpleNamespace(**{**base, **fields})


BRANDS = ["蔚来", "理想", "小鹏"]


def test_an_open_answer_row_is_about_the_own_brand_with_its_rank_tone_and_score():
    row = legacy_row(result(), own_brand="蔚来", brands=BRANDS, display_names={"openai": "ChatGPT"})
    assert (row.brand, row.model, row.aiModel, row.platform_name) == (
        "蔚来", "chatgpt", "chatgpt", "ChatGPT")
    assert row.response == "1. 理想 2. 蔚来" and row.error_type is None
    assert row.geo_data is not None
    assert row.geo_data.model_dump() == {
        "brand_mentioned": True, "rank": 2, "sentiment": -1.0, "competitors_mentioned": ["理想"],
    }
    # 100 x (0.5 x 1 + 0.3 x 1/log2(3) + 0.2 x (-1 + 1)/2) = 68.93
    assert row.score == 68.93


def test_a_row_about_a_brand_not_mentioned_has_rank_minus_one_and_score_zero():
    row = legacy_row(result(subject="小鹏", question="小鹏怎么样"), own_brand="蔚来",
                     brands=BRANDS, display_names={})
    assert row.brand == "小鹏"
    assert row.geo_data is not None
    assert (row.geo_data.brand_mentioned, row.geo_data.rank, row.geo_data.sentiment) == (
        False, -1, 0.0)
    assert row.geo_data.competitors_mentioned == ["理想", "蔚来"]
    assert row.score == 0.0


def test_an_error_row_has_its_kind_as_error_type_and_no_numbers():
    row = legacy_row(result(status="error", error_kind="timeout", answer=None, analysis=None,
                            platform="deepseek"), own_brand="蔚来", brands=BRANDS,
                     display_names={})
    assert (row.model, row.error_type, row.response, row.geo_data, row.score) == (
        "deepseek", "timeout", "", None, None)


def test_brand_scores_come_from_the_reports_metrics_and_never_invent_the_rest():
    metrics = {"name": "蔚来", "is_own": True, "mention_rate": 0.625, "avg_rank": 1.5,
               "top1_share": 0.25, "share_of_voice": 0.4, "sentiment_index": 0.5,
               "visibility_score": 61.47}
    score = brand_score(metrics)
    # rounded half up, as the client's Math.round would (62.5 -> 63)
    assert (score.overallScore, score.overallGrade, score.overallVisibility) == (61, "B", 63)
    assert score.overallSentiment == 75 and score.visibilityScore == 61.47
    assert score.overallAuthority is None and score.overallPurity is None
    assert score.overallConsistency is None
    silent = brand_score({"name": "小鹏", "mention_rate": 0.0, "sentiment_index": None,
                          "visibility_score": 0.0})
    assert (silent.overallGrade, silent.overallSentiment) == ("E", None)
    assert own_score({"brands": [{"is_own": False, "visibility_score": 90},
                                 {"is_own": True, "visibility_score": 61.5}]}) == 62
    assert own_score(None) is None
