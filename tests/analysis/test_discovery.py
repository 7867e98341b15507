"""Competitor discovery (SPEC 8, docs/analysis.md "Discovered brands"): list-item and table
heads the request did not list, normalised, counted across answers; generic heads refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from diagnosis.analysis import BrandSpec, analyze_answer, render_html, render_markdown
from diagnosis.analysis.discovery import discover_brands, is_generic, list_heads
from diagnosis.analysis.report import ReportInput, ResultView, build_report

BRANDS = [BrandSpec("小米", ("Xiaomi",), is_own=True), BrandSpec("石头", ("Roborock",))]

ANSWERS = [
    "推荐几款：\n\n1. **石头**：导航稳。\n2. **科沃斯**：产品线全。\n3. **追觅**：吸力强。\n"
    "4. **其他国产品牌**：如360。\n\n### 注意事项\n- **预算**：先定预算。\n\n总结：选石头。",
    "### 1. 云鲸\n拖地好。\n\n### 2. 科沃斯（Ecovacs）\n售后多。\n\n### 总结\n看需求。",
    "| 品牌 | 型号 | 价格 |\n|---|---|---|\n| 追觅 | X30 | 4000 |\n| iRobot | Roomba j7 | 5000 |",
    "## Budget options\n1. **Eufy**: cheap.\n2. **iRobot Roomba i3** - fine\n\n## Final thoughts\n"
    "- **Final thoughts**: buy what fits.",
    "小米和石头都不错，没有列表。",
]


@pytest.mark.parametrize(
    "head",
    ["其他国产品牌", "Budget options", "Final thoughts", "总结", "注意事项", "预算", "Key features",
     "3000元以下", "Best for families", "选购建议", "Pros", "如果预算有限，可以看入门款"],
)
def test_generic_heads_are_not_brands(head):
    assert is_generic(head)


@pytest.mark.parametrize(
    "head", ["科沃斯", "iRobot", "New Balance", "Eufy", "OPPO", "三星", "vivo"]
)
def test_brand_like_heads_pass(head):
    assert not is_generic(head)


def test_heads_come_from_numbered_items_headers_and_brand_tables_with_their_rank():
    heads = [(h.name, h.rank) for h in list_heads(ANSWERS[0] + "\n\n" + ANSWERS[2])]
    assert heads == [("石头", 1), ("科沃斯", 2), ("追觅", 3), ("追觅", 1), ("iRobot", 2)]
    assert [(h.name, h.rank) for h in list_heads(ANSWERS[1])] == [("云鲸", 1), ("科沃斯", 2)]


def test_a_comparison_table_with_brands_across_gives_no_heads():
    table = "| 维度 | 小米 | 石头 |\n|---|---|---|\n| 价格 | 便宜 | 贵 |\n| 导航 | 好 | 很好 |"
    assert list_heads(table, BRANDS) == []


def test_a_list_of_criteria_gives_no_heads():
    text = "Some things to consider:\n\n- **Capacity planning**: plan ahead.\n- **Acme**: no."
    assert list_heads(text) == []


def test_discovery_counts_answers_strips_models_and_skips_tracked_brands():
    found = discover_brands(ANSWERS, BRANDS)
    assert [(d["name"], d["mentions"], d["avg_rank"]) for d in found] == [
        # ties on answers and rank: by name
        ("iRobot", 2, 2.0),  # the table's iRobot and "iRobot Roomba i3" (its model joins it)
        ("科沃斯", 2, 2.0),  # "科沃斯（Ecovacs）" is 科沃斯
        ("追觅", 2, 2.0),  # ranks 3 and 1
        ("Eufy", 1, 1.0),
        ("云鲸", 1, 1.0),
    ]
    assert found[1]["mention_rate"] == 0.4  # 2 of 5 answers
    assert found[1]["example"] == "2. 科沃斯：产品线全。"  # as written, without the bold
    assert all(d["name"] not in ("石头", "小米") for d in found)


def test_a_model_name_joins_its_brand_when_both_are_heads():
    answers = ["1. **Tesla**: good\n2. **Rivian**: ok", "1. **Tesla Model Y**: good"]
    found = discover_brands(answers, [])
    assert [(d["name"], d["mentions"]) for d in found] == [("Tesla", 2), ("Rivian", 1)]


def test_at_most_ten_candidates():
    answer = "\n".join(f"{i}. **Brand{chr(65 + i)}x**: fine" for i in range(1, 15))
    assert len(discover_brands([answer], [])) == 10


def test_the_report_lists_discovered_brands_with_a_candidates_note_in_every_format():
    results = [
        ResultView(
            task_key=f"t{i}", question="推荐扫地机器人", template="推荐扫地机器人", subject=None,
            platform="demo", sample=0, status="ok", error_kind=None, answer=text, latency_ms=1,
            analysis={"mentions": [], "sources": []},
        )
        for i, text in enumerate(ANSWERS)
    ]
    inp = ReportInput(
        execution_id="ex", brands=BRANDS, questions=("推荐扫地机器人",),
        platforms=(("demo", "Demo"),), samples=1, status="completed",
        created_at=datetime(2025, 1, 1, tzinfo=UTC), finished_at=None,
    )
    report = build_report(inp, results)
    assert [d["name"] for d in report["discovered_brands"]][:3] == ["iRobot", "科沃斯", "追觅"]
    assert "candidates" in report["methodology"]["discovered_brands"]
    assert "## 发现的品牌 Discovered brands" in render_markdown(report)
    assert "| 科沃斯 | 2 | 40.0% | 2.00 |" in render_markdown(report)
    assert "发现的品牌 Discovered brands" in render_html(report)


def _report(answers: list[str | None], analyses: list[dict]) -> dict:
    results = [
        ResultView(
            task_key=f"t{i}", question="推荐扫地机器人", template="推荐扫地机器人", subject=None,
            platform="demo", sample=0, status="ok", error_kind=None, answer=text, latency_ms=1,
            analysis=analysis,
        )
        for i, (text, analysis) in enumerate(zip(answers, analyses, strict=True))
    ]
    inp = ReportInput(
        execution_id="ex", brands=BRANDS, questions=("推荐扫地机器人",),
        platforms=(("demo", "Demo"),), samples=1, status="completed",
        created_at=datetime(2025, 1, 1, tzinfo=UTC), finished_at=None,
    )
    return build_report(inp, results)


def test_each_analysis_holds_its_answers_discoveries_and_the_report_counts_them_unread():
    analyses = [analyze_answer(text, BRANDS) for text in ANSWERS]
    assert analyses[1]["discovered"] == [
        {"name": "云鲸", "rank": 1, "example": "### 1. 云鲸"},
        {"name": "科沃斯", "rank": 2, "example": "### 2. 科沃斯（Ecovacs）"},
    ]
    assert analyses[4]["discovered"] == []  # prose names no list heads
    from_texts = discover_brands(ANSWERS, BRANDS)
    # the answers not there at all: what the report counts comes from the analyses
    unread = _report([None] * len(ANSWERS), analyses)["discovered_brands"]
    assert unread == from_texts and len(unread) == 5


def test_analyses_stored_before_they_held_discoveries_have_their_answer_read_again():
    analyses = [analyze_answer(text, BRANDS) for text in ANSWERS]
    old = [{k: v for k, v in a.items() if k != "discovered"} for a in analyses]
    broken = [{**a, "discovered": [{"name": 3, "rank": "1"}]} for a in analyses]
    mixed = [old[0], analyses[1], broken[2], analyses[3], old[4]]
    expected = discover_brands(ANSWERS, BRANDS)
    for stored in (old, broken, mixed):
        assert _report(list(ANSWERS), stored)["discovered_brands"] == expected
