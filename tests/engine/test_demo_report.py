"""The offline demo gives a report with something to show: different, non-zero figures."""

from diagnosis.engine.service import Competitor
from diagnosis.providers.registry import load_platforms
from tests.engine.conftest import request


async def test_demo_report_for_nio_vs_li_and_xpeng_has_distinct_nonzero_figures(make_engine):
    demo = load_platforms(None)["demo"].model_copy(update={"demo_latency_ms": 0})
    async with make_engine([demo]) as engine:
        record = await engine.create(
            request(
                ["demo"],
                competitors=[Competitor("理想"), Competitor("小鹏")],
                questions=[
                    "20万左右的新能源汽车品牌推荐",
                    "家用SUV买哪个牌子好",
                    "{brand}的口碑怎么样",
                ],
                samples=5,
            )
        )
        await engine.runner.wait(record.execution_id)
        report = await engine.report(record.execution_id, None, "json")
        markdown = (await engine.report(record.execution_id, None, "md")).decode()
    brands = {b["name"]: b for b in report["brands"]}
    assert list(brands) == ["蔚来", "理想", "小鹏"] and brands["蔚来"]["is_own"]
    for field in ("mention_rate", "share_of_voice", "visibility_score"):
        values = [brands[name][field] for name in brands]
        assert all(v and v > 0 for v in values), (field, values)
        assert len(set(values)) > 1, (field, values)
    assert report["summary"]["ok_results"] == record.total
    assert "蔚来" in markdown and "理想" in markdown
