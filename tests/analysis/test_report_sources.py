"""The report's sources section (docs/metrics.md "Sources"): registrable domains and URLs with
kind and brands, kind shares, and citation opportunities over a scripted set of answers."""

from __future__ import annotations

from datetime import UTC, datetime

from diagnosis.analysis import analyze_answer
from diagnosis.analysis.report import ReportInput, ResultView, build_report
from diagnosis.analysis.schemas import BrandSpec
from tests.analysis.factories import OPEN, TEMPLATED

BRANDS = (
    BrandSpec("青柠", is_own=True, domains=("qingning.com",)),
    BrandSpec("蓝鲸", domains=("lanjing.cn",)),
    BrandSpec("Orbit"),
)

# (template, subject, answer): every answer is analysed by the real extractor.
ANSWERS = [
    # A: competitors only, cites zhihu (twice, one page), jd and the rival's own site
    (OPEN, None, "1. **蓝鲸**：好 https://zhuanlan.zhihu.com/p/1\n2. **Orbit**：一般\n"
     "见 https://zhuanlan.zhihu.com/p/1 https://item.jd.com/7.html https://www.lanjing.cn/x"),
    # B: competitor only, cites another zhihu page and wikipedia
    (OPEN, None, "蓝鲸不错。https://www.zhihu.com/question/2 https://en.wikipedia.org/wiki/X"),
    # C: names the own brand too: not an opportunity
    (OPEN, None, "青柠和蓝鲸都行 https://zhuanlan.zhihu.com/p/1 https://www.qingning.com/a"),
    # D: templated about a competitor: not eligible for opportunities
    (TEMPLATED, "蓝鲸", "蓝鲸怎么样？还行 https://item.jd.com/8.html"),
    # E: nobody named: cites, but no brand and no opportunity
    (OPEN, None, "看预算 https://www.bbc.co.uk/news/1"),
]


def report() -> dict:
    results = [
        ResultView(
            task_key=f"t{i}", question=t.replace("{brand}", s or ""), template=t, subject=s,
            platform="deepseek", sample=0, status="ok", error_kind=None, answer=text,
            latency_ms=1, analysis=analyze_answer(text, BRANDS),
        )
        for i, (t, s, text) in enumerate(ANSWERS)
    ]
    inp = ReportInput(
        execution_id="ex", brands=BRANDS, questions=(OPEN, TEMPLATED),
        platforms=(("deepseek", "DeepSeek"),), samples=1, status="completed",
        created_at=datetime(2025, 1, 1, tzinfo=UTC), finished_at=None,
    )
    return build_report(inp, results)


def test_registrable_domains_are_counted_once_per_answer_with_kind_and_brands():
    domains = {d["registrable_domain"]: d for d in report()["sources"]["domains"]}
    assert [d["registrable_domain"] for d in report()["sources"]["domains"]] == [
        "zhihu.com", "jd.com", "bbc.co.uk", "lanjing.cn", "qingning.com", "wikipedia.org",
    ]
    assert domains["zhihu.com"] == {
        "registrable_domain": "zhihu.com", "kind": "ugc", "answers": 3,
        "brands": ["蓝鲸", "青柠", "Orbit"],  # 蓝鲸 in A, B, C; 青柠 in C; Orbit in A
    }
    assert domains["jd.com"]["answers"] == 2 and domains["jd.com"]["kind"] == "ecommerce"
    assert domains["lanjing.cn"]["kind"] == "competitor"
    assert domains["qingning.com"]["kind"] == "own"
    assert domains["bbc.co.uk"]["brands"] == []


def test_urls_carry_kind_answers_brands_and_the_old_count():
    urls = {u["url"]: u for u in report()["sources"]["urls"]}
    assert urls["https://zhuanlan.zhihu.com/p/1"] == {
        "url": "https://zhuanlan.zhihu.com/p/1", "count": 2, "kind": "ugc", "answers": 2,
        "brands": ["蓝鲸", "青柠", "Orbit"],
    }
    # the host-level list of older reports is still there
    top = {d["domain"]: d["count"] for d in report()["sources"]["top_domains"]}
    assert top["zhuanlan.zhihu.com"] == 2 and top["zhihu.com"] == 1


def test_kind_shares_are_over_all_citations_and_sum_to_one():
    kinds = report()["sources"]["kinds"]
    # 9 citations (answer x page): ugc 3 (A, B, C), ecommerce 2 (A, D), competitor 1 (A),
    # own 1 (C), encyclopedia 1 (B), editorial 1 (E)
    assert set(kinds) == {
        "own", "competitor", "ugc", "editorial", "ecommerce", "encyclopedia", "other",
    }
    assert kinds == {
        "own": 0.1111, "competitor": 0.1111, "ugc": 0.3333, "editorial": 0.1111,
        "ecommerce": 0.2222, "encyclopedia": 0.1111, "other": 0.0,
    }


def test_opportunities_are_sites_cited_where_competitors_are_named_and_the_brand_is_not():
    opportunities = report()["sources"]["opportunities"]
    assert opportunities == [
        # A's and B's zhihu pages are cited once each: the tie goes to the first URL
        {"registrable_domain": "zhihu.com", "url": "https://www.zhihu.com/question/2",
         "kind": "ugc", "answers": 2, "competitors": ["蓝鲸", "Orbit"]},
        {"registrable_domain": "jd.com", "url": "https://item.jd.com/7.html",
         "kind": "ecommerce", "answers": 1, "competitors": ["蓝鲸", "Orbit"]},
        {"registrable_domain": "wikipedia.org", "url": "https://en.wikipedia.org/wiki/X",
         "kind": "encyclopedia", "answers": 1, "competitors": ["蓝鲸"]},
    ]  # not the rival's own site (lanjing.cn), not C (names 青柠), D (about 蓝鲸) or E


def test_sources_stored_before_kinds_existed_are_classified_at_report_time():
    old = ResultView(
        task_key="t", question=OPEN, template=OPEN, subject=None, platform="deepseek", sample=0,
        status="ok", error_kind=None, answer="…", latency_ms=1,
        analysis={"mentions": [{"brand": "蓝鲸", "rank": 1, "sentiment": "neutral", "count": 1}],
                  "sources": [{"url": "https://item.jd.com/1", "domain": "item.jd.com"}]},
    )
    inp = ReportInput(
        execution_id="ex", brands=BRANDS, questions=(OPEN,), platforms=(("deepseek", "D"),),
        samples=1, status="completed", created_at=None, finished_at=None,
    )
    sources = build_report(inp, [old])["sources"]
    assert sources["domains"][0]["registrable_domain"] == "jd.com"
    assert sources["opportunities"][0]["kind"] == "ecommerce"


def test_every_renderer_shows_sites_kinds_and_opportunities():
    from diagnosis.analysis import render_csv, render_html, render_markdown

    built = report()
    markdown = render_markdown(built)
    assert "## 引用机会 Citation opportunities" in markdown
    assert "| zhihu.com | 用户内容 UGC | 2 | 蓝鲸, Orbit | https://www.zhihu.com/question/2 |" in (
        markdown
    )
    assert "| 用户内容 UGC | 33.3% |" in markdown
    html = render_html(built)
    assert "引用机会 Citation opportunities" in html and "wikipedia.org" in html
    assert "<td>百科 encyclopedia</td>" in html
    results = [
        ResultView(
            task_key="t", question=OPEN, template=OPEN, subject=None, platform="deepseek",
            sample=0, status="ok", error_kind=None, answer=ANSWERS[0][2], latency_ms=1,
            analysis=analyze_answer(ANSWERS[0][2], BRANDS, citations=[{"url": "https://x.com/1"}]),
        )
    ]
    import csv
    import io

    [row] = list(csv.DictReader(io.StringIO(render_csv(results, BRANDS).decode("utf-8-sig"))))
    assert row["source_kinds"] == "ugc ugc ecommerce competitor"
    assert row["source_cited_by"] == "api text text text"
    assert row["sources"].split()[0] == "https://x.com/1"
