"""Markdown rendering of a built report (the dict from build_report): summary and tables.

Formatting only: it never computes a metric (that is build_report's job) and never does I/O.
Every cell is escaped, since brand names, questions and domains come from users and models.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

DEFINITIONS_LINK = "docs/metrics.md"
_MD_SPECIAL = "\\`*_[]<>|#"


def md_escape(value: Any) -> str:
    """One table cell: Markdown/HTML specials backslash-escaped, on a single line."""
    text = " ".join(str(value).split())
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in text)


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def num(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def ci(value: Sequence[float] | None) -> str:
    return "—" if not value else f"{value[0] * 100:.1f}–{value[1] * 100:.1f}%"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in rows]
    return lines


def _brand_name(brand: dict) -> str:
    return f"{brand['name']} (own)" if brand.get("is_own") else brand["name"]


def _brands(report: dict) -> list[str]:
    headers = [
        "品牌 Brand",
        "提及率 Mention rate",
        "95% CI",
        "平均排名 Avg rank",
        "首位率 Top-1",
        "声量 SoV",
        "加权声量 SoV (rank-weighted)",
        "情感指数 Sentiment",
        "可见度 Visibility",
    ]
    rows = [
        (
            _brand_name(b),
            pct(b["mention_rate"]),
            ci(b["mention_rate_ci"]),
            num(b["avg_rank"]),
            pct(b["top1_share"]),
            pct(b["share_of_voice"]),
            pct(b["share_of_voice_weighted"]),
            num(b["sentiment_index"]),
            num(b["visibility_score"], 1),
        )
        for b in report["brands"]
    ]
    return ["## 品牌对比 Brands", "", *table(headers, rows), ""]


def _platforms(report: dict) -> list[str]:
    names = [b["name"] for b in report["brands"]]
    headers = ["平台 Platform", "成功 OK", "失败 Failed"] + [f"{n} 提及率 mention" for n in names]
    rows = [
        (p["display_name"], p["ok"], p["failed"], *(pct(b["mention_rate"]) for b in p["brands"]))
        for p in report["platforms"]
    ]
    header_cells = [md_escape(h) for h in headers]
    return ["## 分平台 Per platform", "", *table(header_cells, rows), ""]


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
    return [*lines, *table([md_escape(h) for h in headers], rows), ""]


def _gaps(report: dict) -> list[str]:
    lines = ["## 缺口 Gaps (competitor mentioned, own brand absent)", ""]
    if not report["gaps"]:
        return [*lines, "None. 无缺口。", ""]
    rows = [
        (
            g["question"],
            f"{g['gap_answers']} / {g['answers']}",
            ", ".join(f"{n} ×{g['competitor_counts'][n]}" for n in g["competitors"]),
            ", ".join(g["platforms"]),
        )
        for g in report["gaps"]
    ]
    headers = ["问题 Question", "缺口回答 Gap answers", "出现的竞品 Competitors", "平台 Platforms"]
    return [*lines, *table(headers, rows), ""]


def _sources(report: dict) -> list[str]:
    lines = ["## 引用来源 Top cited domains", ""]
    domains = report["sources"]["top_domains"]
    if not domains:
        return [*lines, "None. 无引用。", ""]
    rows = [(d["domain"], d["count"]) for d in domains]
    return [*lines, *table(["域名 Domain", "引用回答数 Answers citing"], rows), ""]


def _errors(report: dict) -> list[str]:
    lines = ["## 错误 Errors", ""]
    by_kind = report["errors"]["by_kind"]
    if not by_kind:
        return [*lines, "None. 无错误。", ""]
    return [*lines, *table(["类型 Kind", "次数 Count"], by_kind.items()), ""]


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
        *_errors(report),
        "---",
        "",
        f"定义 Definitions: see [{DEFINITIONS_LINK}]({DEFINITIONS_LINK}). "
        f"Visibility = {md_escape(report['methodology']['visibility_formula'])}.",
        "",
    ]
    return "\n".join(parts)
