"""Renderers: Markdown tables, CSV export (BOM, one row per result), self-contained HTML."""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Callable
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import pytest

from diagnosis.analysis.render_csv import render_csv
from diagnosis.analysis.render_html import render_html
from diagnosis.analysis.render_markdown import render_markdown
from diagnosis.analysis.report import ReportInput, ResultView, build_report
from diagnosis.analysis.schemas import BrandSpec
from tests.analysis import factories
from tests.analysis.factories import OPEN, TEMPLATED

EVIL = "<script>alert(1)</script>"
OWN, RIVAL = "青柠科技", "蓝鲸智能"
ANSWER = "1. 青柠科技：很好\n2. 蓝鲸智能，还行"


def mention(
    brand: str, rank: int, sentiment: str = "positive", stance: str | None = None
) -> dict[str, Any]:
    """The answers here name each brand twice, in a positive tone unless told otherwise."""
    return factories.mention(brand, rank, sentiment, count=2, stance=stance)


def make_input(brands: tuple[BrandSpec, ...]) -> ReportInput:
    return ReportInput(
        execution_id="ex-render",
        brands=brands,
        questions=(OPEN, TEMPLATED),
        platforms=(("deepseek", "DeepSeek 深度求索"), ("kimi", "Kimi")),
        samples=2,
        status="partial_success",
        created_at=datetime(2025, 6, 1, tzinfo=UTC),
        finished_at=datetime(2025, 6, 1, 0, 5, tzinfo=UTC),
    )


@pytest.fixture
def brands() -> tuple[BrandSpec, ...]:
    return (BrandSpec(OWN, is_own=True), BrandSpec(RIVAL), BrandSpec(EVIL))


@pytest.fixture
def results(make_result: Callable[..., ResultView]) -> list[ResultView]:
    make = functools.partial(make_result, answer=ANSWER)
    return [
        make(
            mentions=[mention(OWN, 1, stance="recommended"), mention(RIVAL, 2, "negative")],
            cited=("https://www.zhihu.com/question/1",),
        ),
        make(
            platform="kimi",
            mentions=[mention(RIVAL, 1), mention(EVIL, 2)],
            cited=('https://evil.example/"><img src=x>',),
        ),
        make(TEMPLATED, subject=OWN, mentions=[mention(OWN, 1, "neutral")]),
        make(TEMPLATED, subject=RIVAL, status="error", error_kind="timeout"),
        make(TEMPLATED, subject=EVIL, mentions=[mention(EVIL, 1)], answer='=HYPERLINK("http://x")'),
    ]


@pytest.fixture
def report(brands: tuple[BrandSpec, ...], results: list[ResultView]) -> dict[str, Any]:
    return build_report(make_input(brands), results)


def test_markdown_has_a_brand_table_with_chinese_names(report: dict[str, Any]) -> None:
    text = render_markdown(report)
    assert text.startswith(f"# 品牌诊断 Brand diagnosis: {OWN} vs {RIVAL}")
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| 品牌 Brand"))
    assert lines[header + 1].startswith("|---|")
    assert lines[header + 2].startswith(f"| {OWN} (own) | 50.0% |")
    assert lines[header + 3].startswith(f"| {RIVAL} | 100.0% |")
    for section in ("分平台 Per platform", "分问题 Per question", "缺口 Gaps", "Errors"):
        assert section in text
    assert "docs/metrics.md" in text


def test_markdown_escapes_untrusted_names(report: dict[str, Any]) -> None:
    text = render_markdown(report)
    assert EVIL not in text
    assert r"\<script\>alert(1)\<" in text


def test_markdown_of_an_empty_report_says_metrics_are_empty(brands) -> None:
    text = render_markdown(build_report(make_input(brands), []))
    assert "no successful answers" in text


def test_csv_starts_with_bom_and_round_trips_one_row_per_result(
    results: list[ResultView], brands: tuple[BrandSpec, ...]
) -> None:
    data = render_csv(results, brands)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert len(body) == len(results)
    assert f"{OWN} mentioned" in header and f"{RIVAL} sentiment" in header
    first = dict(zip(header, body[0], strict=True))
    assert first["question"] == OPEN and first["kind"] == "open"
    assert (first[f"{OWN} mentioned"], first[f"{OWN} rank"], first[f"{OWN} count"]) == (
        "1",
        "1",
        "2",
    )
    assert first[f"{RIVAL} sentiment"] == "negative"
    assert first["answer"] == "1. 青柠科技：很好\n2. 蓝鲸智能，还行"
    assert first["sources"] == "https://www.zhihu.com/question/1"
    failed = dict(zip(header, body[3], strict=True))
    assert failed["status"] == "error" and failed[f"{OWN} mentioned"] == ""


def test_csv_neutralises_formula_cells(results, brands) -> None:
    rows = list(csv.reader(io.StringIO(render_csv(results, brands).decode("utf-8-sig"))))
    assert rows[5][-1] == '\'=HYPERLINK("http://x")'


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def parsed_tags(page: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    parser = _Tags()
    parser.feed(page)
    return parser.tags


def test_html_is_self_contained(report: dict[str, Any]) -> None:
    page = render_html(report)
    assert page.startswith("<!doctype html>")
    tags = parsed_tags(page)
    names = {tag for tag, _ in tags}
    assert {"svg", "style", "table"} <= names
    assert not names & {"script", "link", "img", "iframe", "object", "embed", "a"}
    for tag, attrs in tags:
        for attr, value in attrs:
            assert attr not in ("src", "href", "xlink:href", "action", "srcset"), (tag, attr)
            assert "//" not in (value or ""), (tag, attr, value)
    assert "@import" not in page and "url(" not in page and "@font-face" not in page


def test_html_escapes_untrusted_text(report: dict[str, Any]) -> None:
    page = render_html(report)
    assert EVIL not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img" not in page and all(tag != "img" for tag, _ in parsed_tags(page))


def test_html_has_bilingual_labels_and_cjk_fonts(report: dict[str, Any]) -> None:
    page = render_html(report)
    for label in ("提及率 Mention rate", "声量份额 Share of voice", "缺口 Gaps", "引用域名"):
        assert label in page
    assert '"PingFang SC"' in page and '"Microsoft YaHei"' in page
    assert page.count("<svg") == 3
    assert OWN in page and "DeepSeek 深度求索" in page


def test_html_of_an_empty_report_renders(brands) -> None:
    page = render_html(build_report(make_input(brands), []))
    assert "no successful answers" in page and "<svg" in page


def test_every_renderer_shows_the_recommend_share(
    report: dict[str, Any], results: list[ResultView], brands: tuple[BrandSpec, ...]
) -> None:
    lines = render_markdown(report).splitlines()
    header = next(line for line in lines if line.startswith("| 品牌 Brand"))
    own_row = next(line for line in lines if line.startswith(f"| {OWN} (own)"))
    cells = [c.strip() for c in header.split("|")], [c.strip() for c in own_row.split("|")]
    assert dict(zip(*cells, strict=True))["推荐率 Recommended"] == "50.0%"
    assert "推荐 Recommended" in render_html(report)
    rows = list(csv.reader(io.StringIO(render_csv(results, brands).decode("utf-8-sig"))))
    first = dict(zip(rows[0], rows[1], strict=True))
    assert (first[f"{OWN} stance"], first[f"{RIVAL} stance"]) == ("recommended", "")
