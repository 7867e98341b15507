"""The LLM judge (issue 12) end to end: real SQLite file, real HTTP to the fake provider scripted
to answer as the judge platform with valid, invalid, slow and failing judge JSON."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from sqlalchemy import text

from diagnosis.constants import ExecutionStatus
from diagnosis.engine.service import Competitor
from tests.engine.conftest import fake_platform, request
from tests.fake_openai import DEFAULT_ANSWER, hang, ok, status

BRANDS_LINE = re.compile(r"Brands to label \(exactly these, spelled as given\): (\[.*\])")
COMPETITORS = [Competitor("理想", ["Li Auto"]), Competitor("小鹏", ["XPeng"])]


def judge_reply(sentiment: str, stance: str):
    """A judge that labels every brand it is asked about the same way, as strict JSON."""

    def reply(prompt: str) -> str:
        brands = json.loads(BRANDS_LINE.search(prompt).group(1))
        return json.dumps(
            {"brands": [{"brand": b, "sentiment": sentiment, "stance": stance} for b in brands]},
            ensure_ascii=False,
        )

    return reply


@pytest.fixture(autouse=True)
def distinct_answers(fake_openai) -> None:
    """Each question gets its own answer. Identical answers share one cached verdict, and whether
    a second lookup already sees the first one's verdict depends on timing: call counts would
    not be exact."""
    fake_openai.default("p", ok(lambda prompt: f"{DEFAULT_ANSWER}\n（{prompt}）"))


def platforms(base_url: str, **judge: object) -> list:
    return [
        fake_platform("p", base_url),
        fake_platform("judge", base_url, max_retries=0, **judge),
    ]


async def run(engine, questions=("20万左右的新能源汽车品牌推荐",)):
    record = await engine.create(
        request(["p"], questions=list(questions), competitors=COMPETITORS)
    )
    await engine.runner.wait(record.execution_id)
    row = await engine.repository.get_execution(record.execution_id)
    return row, await engine.repository.all_results(record.execution_id)


async def test_a_valid_judge_reply_relabels_every_brand_in_one_call_per_answer(
    make_engine, fake_openai
):
    fake_openai.default("judge", ok(judge_reply("negative", "warned_against")))
    async with make_engine(platforms(fake_openai.base_url), judge_platform="judge") as engine:
        row, rows = await run(engine, questions=("q1", "q2"))
    assert row.status == ExecutionStatus.completed
    calls = fake_openai.calls_for("judge")
    assert len(calls) == 2  # one call per answer, not per brand
    assert all(all(b in call.prompt for b in ("蔚来", "理想", "小鹏")) for call in calls)
    for result in rows:
        assert result.analysis["judge"] == "llm:judge"
        assert {(m["sentiment"], m["stance"]) for m in result.analysis["mentions"]} == {
            ("negative", "warned_against")
        }
        assert {r["brand"] for r in result.analysis["rules"]} == {"蔚来", "理想", "小鹏"}
    judges = row.report["judges"]
    assert judges["labelled_by"] == {"llm:judge": 2}
    assert judges["compared_mentions"] == 6
    assert judges["sentiment_agreement"] is not None and judges["sentiment_agreement"] < 1


async def test_an_invalid_judge_reply_keeps_the_rules_for_that_answer(make_engine, fake_openai):
    fake_openai.script(
        "judge",
        ok("I think NIO is great!"),  # not JSON
        ok('{"brands": [{"brand": "蔚来", "sentiment": "great", "stance": "recommended"}]}'),
    )
    fake_openai.default("judge", ok(judge_reply("neutral", "mentioned")))
    async with make_engine(platforms(fake_openai.base_url), judge_platform="judge") as engine:
        row, rows = await run(engine, questions=("q1", "q2", "q3"))
        async with engine.repository._reader.connect() as conn:
            cached = (await conn.execute(text("select count(*) from judge_verdicts"))).scalar()
    assert row.status == ExecutionStatus.completed
    assert sorted(r.analysis["judge"] for r in rows) == ["llm:judge", "rules", "rules"]
    assert row.report["judges"]["labelled_by"] == {"llm:judge": 1, "rules": 2}
    assert cached == 1  # only the valid reply is cached


async def test_a_failing_judge_platform_keeps_the_rules_and_the_execution_ends(
    make_engine, fake_openai
):
    fake_openai.default("judge", status(500))
    async with make_engine(platforms(fake_openai.base_url), judge_platform="judge") as engine:
        row, rows = await run(engine)
    assert row.status == ExecutionStatus.completed and row.stage == "done"
    assert [r.analysis["judge"] for r in rows] == ["rules"]
    assert all("stance" in m for m in rows[0].analysis["mentions"])


async def test_a_slow_judge_is_cut_by_the_judging_deadline(make_engine, fake_openai):
    fake_openai.default("judge", hang(60))
    async with make_engine(
        platforms(fake_openai.base_url, timeout_s=30),
        judge_platform="judge",
        judge_deadline_s=0.5,
    ) as engine:
        row, rows = await asyncio.wait_for(run(engine), timeout=20)
    assert row.status == ExecutionStatus.completed and row.stage == "done"
    assert [r.analysis["judge"] for r in rows] == ["rules"]
    assert row.report["judges"]["sentiment_agreement"] is None


async def test_a_second_run_of_the_same_answers_is_judged_from_the_cache(make_engine, fake_openai):
    fake_openai.default("judge", ok(judge_reply("positive", "recommended")))
    async with make_engine(platforms(fake_openai.base_url), judge_platform="judge") as engine:
        await run(engine)
        first_calls = len(fake_openai.calls_for("judge"))
        row, rows = await run(engine)  # same question, same fake answer
        await engine.report(row.execution_id, None)  # a re-report reads the stored labels
        await engine.report(row.execution_id, None, "md")
    assert first_calls == 1
    assert len(fake_openai.calls_for("judge")) == 1  # the second run and the reports paid nothing
    assert rows[0].analysis["judge"] == "llm:judge"
    assert row.report["judges"]["labelled_by"] == {"llm:judge": 1}


async def test_without_a_judge_platform_the_rules_label_every_answer(make_engine, fake_openai):
    async with make_engine(platforms(fake_openai.base_url)) as engine:
        row, rows = await run(engine)
    assert fake_openai.calls_for("judge") == []
    assert rows[0].analysis["judge"] == "rules"
    assert row.report["judges"]["labelled_by"] == {"rules": 1}


async def test_judge_calls_stay_within_the_judge_platforms_concurrency(make_engine, fake_openai):
    fake_openai.default("judge", ok(judge_reply("neutral", "mentioned"), latency_s=0.05))
    async with make_engine(
        platforms(fake_openai.base_url, max_concurrency=2), judge_platform="judge"
    ) as engine:
        _row, rows = await run(engine, questions=[f"q{i}" for i in range(6)])
    assert len(fake_openai.calls_for("judge")) == 6
    assert fake_openai.peak_concurrency("judge") == 2
    assert {r.analysis["judge"] for r in rows} == {"llm:judge"}
