"""Markdown rendering of a built report (the dict from build_report): summary and tables.

Formatting only: it never computes a metric (that is build_report's job) and never does I/O.
Every cell is escaped, since brand names, questions and domains come from users and models.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from diagnosis.analysis.report_tables import (
    Table,
    brands_table,
    discovered_table,
    domains_table,
    errors_table,
    gaps_table,
    num,
    opportunities_table,
    pct,
    platforms_table,
    source_domains_table,
    source_kinds_table,
)

DEFINITIONS_LINK = "docs/metrics.md"
_MD_SPECIAL = "\\`*_[]<>|#"


def md_escape(value: Any) -> str:
    """One table cell: Markdown/HTML specials backslash-escaped, on a single line."""
    text = " ".join(str(value).split())
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in text)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    """A Markdown table; every header and cell is escaped."""
    lines = ["| " + " | ".join(md_escape(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in rows]
    return lines


def _brands(report: dict) -> list[str]:
    return ["## 品牌对比 Brands", "", *table(*brands_table(report)), ""]


def _platforms(report: dict) -> list[str]:
    return ["## 分平台 Per platform", "", *table(*platforms_table(report)), ""]


def _questions(report: dict) -> list[str]:
    lines = [
        "## 分问题 Per question",
        "",
        "> open = 开放问题，衡量是否被主动提及 (mention rate over that question's answers); "
        "templated = 含 {brand} 的模板问题，按品牌分别提问，衡量被问到时的描述 (each brand "
        "over the answers about it: mention rate of the subject, sentiment).",
        "",
    ]
    names = [b["name"] for b in report["brands"]]
    headers = ["问题 Question", "类型 Kind", "成功 OK"]
    headers += [f"{n} 提及率 / 情感 mention / sentiment" for n in names]
    rows = [
        (
            q["question"],
            q["kind"],
            q["ok"],
            *(f"{pct(b['mention_rate'])} / {num(b['sentiment_index'])}" for b in q["brands"]),
        )
        for q in report["questions"]
    ]
    return [*lines, *table(headers, rows), ""]


def _optional_table(heading: str, headers_rows: Table, none: str) -> list[str]:
    """A section with its table, or with the `none` line when the table has no rows."""
    headers, rows = headers_rows
    return [heading, "", *(table(headers, rows) if rows else [none]), ""]


def _gaps(report: dict) -> list[str]:
    heading = "## 缺口 Gaps (competitor mentioned, own brand absent)"
    return _optional_table(heading, gaps_table(report), "None. 无缺口。")


def _sources(report: dict) -> list[str]:
    heading = "## 引用来源 Top cited domains"
    lines = _optional_table(heading, domains_table(report), "None. 无引用。")
    if not report["sources"].get("domains"):
        return lines  # a report stored before sources had kinds
    return [
        *lines,
        *_optional_table("## 引用站点 Cited sites", source_domains_table(report), "None. 无。"),
        *_optional_table("## 来源类型 Source kinds", source_kinds_table(report), "None. 无。"),
        *_optional_table(
            "## 引用机会 Citation opportunities (cited where competitors appear, own brand absent)",
            opportunities_table(report),
            "None. 无。",
        ),
    ]


def _discovered(report: dict) -> list[str]:
    if "discovered_brands" not in report:
        return []  # a report stored before discovery existed
    heading = "## 发现的品牌 Discovered brands (candidates, not in the request)"
    lines = _optional_table(heading, discovered_table(report), "None. 无。")
    note = report["methodology"].get("discovered_brands")
    return [*lines, f"> {md_escape(note)}", ""] if note and report["discovered_brands"] else lines


def _errors(report: dict) -> list[str]:
    return _optional_table("## 错误 Errors", errors_table(report), "None. 无错误。")


def _summary(report: dict) -> list[str]:
    s = report["summary"]
    lines = [
        f"- 执行 Execution: {md_escape(report['execution_id'])} — status "
        f"**{md_escape(report['status'])}**",
        f"- 结果 Results: {s['total_results']} total, {s['ok_results']} ok, "
        f"{s['failed_results']} failed, {s['pending_results']} pending",
        f"- 采样 Samples per question: {report['samples']}",
    ]
    if report.get("generated_at"):
        lines.append(f"- 生成时间 Generated at: {report['generated_at']}")
    if s.get("note"):
        lines.append(f"- **注意 Note:** {md_escape(s['note'])}")
    lines.append(f"- 口径 Basis: {md_escape(report['methodology']['metrics_basis'])}")
    return ["## 概要 Summary", "", *lines, ""]


def render_markdown(report: dict) -> str:
    """The report as a Markdown document (tables, bilingual headings, definitions footnote)."""
    own = report.get("own_brand")
    rivals = ", ".join(report.get("competitors") or []) or "—"
    title = f"# 品牌诊断 Brand diagnosis: {md_escape(own or '—')} vs {md_escape(rivals)}"
    parts = [
        title,
        "",
        *_summary(report),
        *_brands(report),
        *_platforms(report),
        *_questions(report),
        *_gaps(report),
        *_sources(report),
        *_discovered(report),
        *_errors(report),
        "---",
        "",
        f"定义 Definitions: see [{DEFINITIONS_LINK}]({DEFINITIONS_LINK}). "
        f"Visibility = {md_escape(report['methodology']['visibility_formula'])}.",
        "",
    ]
    return "\n".join(parts)
