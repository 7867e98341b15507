"""The significance of a change (pure): the pooled two-proportion z-test at 95%, never from one
sample per question, breaks for a changed question set or platform list."""

import math

from diagnosis.monitors.statistics import ONE_SAMPLE_NOTE, Proportion, two_proportion_z
from diagnosis.monitors.trend import RunView, compare, consecutive_changes


def test_the_z_test_matches_its_formula():
    # 8/10 -> 2/10: pooled p = 0.5, se = sqrt(0.25 * 0.2), z = -0.6 / se
    result = two_proportion_z(Proportion(8, 10), Proportion(2, 10))
    z = -0.6 / math.sqrt(0.25 * 0.2)
    assert result.z == round(z, 4) and result.significant
    assert math.isclose(result.p_value or 0, math.erfc(abs(z) / math.sqrt(2)), rel_tol=1e-4)


def test_a_small_change_on_few_answers_is_not_significant():
    assert not two_proportion_z(Proportion(5, 10), Proportion(3, 10)).significant


def test_no_test_without_answers_and_no_change_when_both_sides_are_certain():
    assert two_proportion_z(Proportion(0, 0), Proportion(3, 10)).z is None
    assert two_proportion_z(Proportion(10, 10), Proportion(20, 20)).z == 0.0


def _brand(name, *, own, mentions, answers, rank=1.0):
    return {"name": name, "is_own": own, "answers": answers, "mentions": mentions,
            "mention_rate": mentions / answers, "mention_rate_ci": None,
            "share_of_voice": None, "avg_rank": rank, "top1_share": mentions / answers,
            "sentiment_index": 0.5, "visibility_score": 50.0}


def _run(eid, *, own, rival, answers=10, samples=10, questions=("q",), platforms=("demo",)):
    brands = [_brand("A", own=True, mentions=own, answers=answers),
              _brand("B", own=False, mentions=rival, answers=answers)]
    total = own + rival
    for b in brands:
        b["share_of_voice"] = b["mentions"] / total if total else 0.0
    report = {"summary": {"ok_results": answers}, "brands": brands,
              "platforms": [{"platform": "demo", "display_name": "Demo", "ok": answers,
                             "brands": brands}]}
    return RunView(eid, "completed", None, None, list(questions), list(platforms), samples,
                   report)


def test_a_drop_from_ten_of_ten_to_none_is_significant_for_every_rate():
    pair = compare(_run("1", own=10, rival=5), _run("2", own=0, rival=5))
    change = {(c["brand"], c["metric"]): c for c in pair["changes"]}
    assert change[("A", "mention_rate")]["delta"] == -1.0
    assert change[("A", "mention_rate")]["significant"]
    assert change[("A", "share_of_voice")]["significant"]
    rank = change[("A", "avg_rank")]
    assert not rank["significant"] and rank["test"] is None


def test_one_sample_per_question_never_claims_significance():
    pair = compare(_run("1", own=10, rival=5, samples=1), _run("2", own=0, rival=5, samples=1))
    rate = next(c for c in pair["changes"] if c["metric"] == "mention_rate" and c["brand"] == "A")
    assert rate["significant"] is False and rate["note"] == ONE_SAMPLE_NOTE


def test_a_changed_question_set_or_platform_list_is_a_break_not_a_trend():
    base = _run("1", own=10, rival=5)
    questions = compare(base, _run("2", own=0, rival=5, questions=("q", "other")))
    platforms = compare(base, _run("3", own=0, rival=5, platforms=("demo", "fake")))
    assert questions["break"] and questions["changes"] == []
    assert platforms["break"] and platforms["break_reason"] == "platforms changed"


def test_consecutive_changes_are_newest_first():
    runs = [_run(str(i), own=10 - i, rival=5) for i in range(3)]
    pairs = consecutive_changes(runs)
    assert [(p["from_execution_id"], p["to_execution_id"]) for p in pairs] == [
        ("1", "2"), ("0", "1")]
