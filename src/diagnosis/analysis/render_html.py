"""One self-contained HTML page for a built report: inline CSS, inline SVG bar charts, tables.

Formatting only: no metric is computed here and nothing is fetched; the page itself must never
make an external request (no scripts, stylesheets, fonts or images by URL, and no links out).
Every piece of text is html-escaped: brand names, questions and domains are untrusted.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from diagnosis.analysis.report_tables import (
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

OWN_COLOR = "#2563eb"
PALETTE = ("#f97316", "#10b981", "#a855f7", "#ef4444", "#14b8a6", "#eab308", "#64748b", "#ec4899")
LABEL_W, BAR_W, ROW_H = 96, 300, 28

CSS = """
:root{--fg:#0f172a;--muted:#64748b;--line:#e2e8f0;--bg:#f8fafc;--card:#fff;--own:#2563eb}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);line-height:1.5;font-family:-apple-system,
BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,"PingFang SC","Hiragino Sans GB",
"Microsoft YaHei","Noto Sans CJK SC","Noto Sans SC","Source Han Sans SC",sans-serif}
main{max-width:1080px;margin:0 auto;padding:32px 20px 48px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:18px;margin:0 0 12px}
.sub,.muted{color:var(--muted);font-size:13px}
.own{color:var(--own);font-weight:600}
section{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:20px;
margin-top:16px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:16px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px}
.card{border:1px solid var(--line);border-radius:10px;padding:12px 14px}
.card b{display:block;font-size:24px}
.note{background:#fff7ed;border:1px solid #fed7aa;border-radius:8px;padding:8px 12px;
margin-top:12px}
table{width:100%;border-collapse:collapse;font-size:13px}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:600;background:#f1f5f9}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.tag{display:inline-block;padding:0 8px;border-radius:999px;font-size:12px;background:#e0e7ff}
.tag.templated{background:#fef3c7}
.legend span{display:inline-block;margin-right:12px;font-size:12px}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px}
svg{width:100%;height:auto}svg text{font-size:12px;fill:#334155}
code{word-break:break-all}
"""


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _colors(brands: Sequence[dict]) -> dict[str, str]:
    others = iter(PALETTE * (len(brands) // len(PALETTE) + 1))
    return {b["name"]: OWN_COLOR if b.get("is_own") else next(others) for b in brands}


def _label(text: str, limit: int = 16) -> str:
    return _e(text if len(text) <= limit else text[: limit - 1] + "…")


def bar_chart(title: str, bars: Sequence[tuple[str, float, str, Sequence[float] | None]]) -> str:
    """Horizontal bars of 0..1 values: (label, value, color, optional interval whisker)."""
    height = ROW_H * len(bars) + 30
    parts = [
        f'<svg viewBox="0 0 {LABEL_W + BAR_W + 70} {height}" '
        f'style="max-width:{LABEL_W + BAR_W + 70}px" role="img" '
        f'aria-label="{_e(title)}"><title>{_e(title)}</title>'
    ]
    for i, (label, value, color, interval) in enumerate(bars):
        y = 10 + i * ROW_H
        width = max(0.0, min(1.0, value)) * BAR_W
        parts.append(
            f'<text x="{LABEL_W - 8}" y="{y + 15}" text-anchor="end">{_label(label)}</text>'
        )
        parts.append(
            f'<rect x="{LABEL_W}" y="{y + 2}" width="{BAR_W}" height="18" rx="3" fill="#f1f5f9"/>'
        )
        parts.append(
            f'<rect x="{LABEL_W}" y="{y + 2}" width="{width:.1f}" height="18" rx="3" '
            f'fill="{color}"/>'
        )
        if interval:
            lo, hi = (LABEL_W + v * BAR_W for v in interval)
            parts.append(
                f'<line x1="{lo:.1f}" x2="{hi:.1f}" y1="{y + 11}" y2="{y + 11}" '
                f'stroke="#0f172a" stroke-width="1.5"/>'
            )
        parts.append(f'<text x="{LABEL_W + BAR_W + 6}" y="{y + 15}">{_e(pct(value))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def grouped_bar_chart(
    title: str, groups: Sequence[tuple[str, Sequence[float]]], series: Sequence[tuple[str, str]]
) -> str:
    """Vertical bars of 0..1 values grouped by platform, one bar per series (brand)."""
    bar, gap, plot_h = 18, 28, 180
    group_w = bar * max(1, len(series)) + gap
    width = max(640, 50 + group_w * max(1, len(groups)))  # a lone platform must not fill the page
    parts = [
        # max-width: the chart never grows past its drawn size (no giant bars on wide screens).
        f'<svg viewBox="0 0 {width} {plot_h + 50}" style="max-width:{width}px" role="img" '
        f'aria-label="{_e(title)}">'
        f"<title>{_e(title)}</title>"
    ]
    for tick in (0, 0.5, 1):
        y = 10 + plot_h * (1 - tick)
        parts.append(f'<line x1="40" x2="{width}" y1="{y}" y2="{y}" stroke="#e2e8f0"/>')
        parts.append(f'<text x="34" y="{y + 4}" text-anchor="end">{tick * 100:.0f}%</text>')
    for g, (label, values) in enumerate(groups):
        x0 = 50 + g * group_w
        for s, value in enumerate(values):
            h = max(0.0, min(1.0, value)) * plot_h
            name, color = series[s]
            parts.append(
                f'<rect x="{x0 + s * bar}" y="{10 + plot_h - h:.1f}" width="{bar - 3}" '
                f'height="{h:.1f}" fill="{color}"><title>{_e(name)}: {_e(pct(value))}'
                "</title></rect>"
            )
        parts.append(
            f'<text x="{x0 + (group_w - gap) / 2}" y="{plot_h + 30}" '
            f'text-anchor="middle">{_label(label, 12)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _legend(series: Sequence[tuple[str, str]]) -> str:
    items = "".join(f'<span><i style="background:{c}"></i>{_e(n)}</span>' for n, c in series)
    return f'<div class="legend">{items}</div>'


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], numeric: set[int]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(f"<td{' class=n' if i in numeric else ''}>{_e(c)}</td>" for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _section(title: str, body: str) -> str:
    return f"<section><h2>{_e(title)}</h2>{body}</section>"


def _header(report: dict) -> str:
    own = report.get("own_brand") or "—"
    rivals = ", ".join(report.get("competitors") or []) or "—"
    s = report["summary"]
    meta = (
        f"执行 Execution {_e(report['execution_id'])} · 状态 Status {_e(report['status'])}"
        f" · 生成 Generated {_e(report.get('generated_at') or '—')}"
    )
    own_row = next((b for b in report["brands"] if b.get("is_own")), None)
    cards = [
        ("回答 Answers (ok / total)", f"{s['ok_results']} / {s['total_results']}"),
        ("失败 Failed", s["failed_results"]),
    ]
    if own_row:
        cards += [
            ("提及率 Mention rate", pct(own_row["mention_rate"])),
            ("声量 Share of voice", pct(own_row["share_of_voice"])),
            ("情感指数 Sentiment", num(own_row["sentiment_index"])),
            ("可见度 Visibility", num(own_row["visibility_score"], 1)),
        ]
    card_html = "".join(
        f'<div class="card"><span class="muted">{_e(k)}</span><b>{_e(v)}</b></div>'
        for k, v in cards
    )
    note = f'<div class="note">注意 Note: {_e(s["note"])}</div>' if s.get("note") else ""
    return (
        f"<header><h1>品牌诊断报告 Brand diagnosis</h1><p><span class=own>{_e(own)}</span> vs "
        f"{_e(rivals)}</p><p class=sub>{meta}</p></header>"
        f'<section><div class="cards">{card_html}</div>{note}'
        f'<p class="muted">口径 Basis: {_e(report["methodology"]["metrics_basis"])}</p></section>'
    )


def _charts(report: dict, colors: dict[str, str]) -> str:
    brands = report["brands"]
    mention = bar_chart(
        "提及率 Mention rate",
        [(b["name"], b["mention_rate"], colors[b["name"]], b["mention_rate_ci"]) for b in brands],
    )
    sov = bar_chart(
        "声量份额 Share of voice",
        [(b["name"], b["share_of_voice"] or 0.0, colors[b["name"]], None) for b in brands],
    )
    series = [(b["name"], colors[b["name"]]) for b in brands]
    groups = [
        (p["display_name"], [b["mention_rate"] for b in p["brands"]]) for p in report["platforms"]
    ]
    platform = grouped_bar_chart("各平台提及率 Mention rate per platform", groups, series)
    return (
        f'<div class="grid">{_section("提及率 Mention rate (95% CI)", mention)}'
        f"{_section('声量份额 Share of voice', sov)}</div>"
        + _section("各平台提及率 Mention rate per platform", _legend(series) + platform)
    )


def _brand_table(report: dict) -> str:
    headers, rows = brands_table(report, compact=True)
    return _section("品牌对比 Brands", _table(headers, rows, set(range(1, len(headers)))))


def _platform_table(report: dict) -> str:
    headers, rows = platforms_table(report, compact=True)
    return _section("分平台 Per platform", _table(headers, rows, set(range(1, len(headers)))))


def _question_table(report: dict) -> str:
    names = [b["name"] for b in report["brands"]]
    head = "".join(f"<th>{_e(h)}</th>" for h in ["问题 Question", "类型 Kind", "成功 OK", *names])
    body = ""
    for q in report["questions"]:
        cells = "".join(
            f'<td class="n">{_e(pct(b["mention_rate"]))} · {_e(num(b["sentiment_index"]))}</td>'
            for b in q["brands"]
        )
        body += (
            f'<tr><td>{_e(q["question"])}</td><td><span class="tag {_e(q["kind"])}">'
            f"{_e(q['kind'])}</span></td><td class=n>{q['ok']}</td>{cells}</tr>"
        )
    note = (
        '<p class="muted">open 开放问题: 是否被主动提及 (mention rate · sentiment over its '
        "answers). templated 模板问题 ({brand}): 问到该品牌时的描述 (each brand over the "
        "answers about it).</p>"
    )
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return _section("分问题 Per question", note + table)


def _gap_table(report: dict) -> str:
    if not report["gaps"]:
        return _section("缺口 Gaps", '<p class="muted">无缺口 No gaps.</p>')
    intro = '<p class="muted">竞品被提及而本品牌缺席 Competitor mentioned, own brand absent.</p>'
    return _section("缺口 Gaps", intro + _table(*gaps_table(report), {1}))


def _sources_and_errors(report: dict) -> str:
    domain_headers, domains = domains_table(report, compact=True)
    error_headers, errors = errors_table(report)
    urls = [(u["url"], u["count"]) for u in report["sources"]["urls"]]
    empty = '<p class="muted">无 None.</p>'
    return (
        '<div class="grid">'
        + _section(
            "引用域名 Top cited domains",
            _table(domain_headers, domains, {1}) if domains else empty,
        )
        + _section("错误 Errors", _table(error_headers, errors, {1}) if errors else empty)
        + "</div>"
        + (
            _section("引用链接 Top cited URLs", _table(["链接 URL", "回答数 Answers"], urls, {1}))
            if urls
            else ""
        )
        + _cited_sites(report)
    )


def _cited_sites(report: dict) -> str:
    """Sites by kind and the citation opportunities (reports stored before kinds: nothing)."""
    if not report["sources"].get("domains"):
        return ""
    sites_headers, sites = source_domains_table(report)
    kinds_headers, kinds = source_kinds_table(report)
    chances_headers, chances = opportunities_table(report)
    intro = (
        '<p class="muted">被引用、且竞品被提及而本品牌缺席的站点 Sites cited in answers that '
        "name a competitor and not the own brand: where to get covered.</p>"
    )
    none = '<p class="muted">无 None.</p>'
    return (
        '<div class="grid">'
        + _section("引用站点 Cited sites", _table(sites_headers, sites, {2}))
        + _section("来源类型 Source kinds", _table(kinds_headers, kinds, {1}))
        + "</div>"
        + _section(
            "引用机会 Citation opportunities",
            intro + (_table(chances_headers, chances, {2}) if chances else none),
        )
    )


def _discovered(report: dict) -> str:
    if "discovered_brands" not in report:
        return ""  # a report stored before discovery existed
    headers, rows = discovered_table(report)
    note = f'<p class="muted">{_e(report["methodology"].get("discovered_brands") or "")}</p>'
    body = _table(headers, rows, {1, 2, 3}) if rows else '<p class="muted">无 None.</p>'
    return _section("发现的品牌 Discovered brands (candidates)", note + body)


def render_html(report: dict) -> str:
    """The report as one self-contained HTML page (zh + en labels)."""
    colors = _colors(report["brands"])
    title = f"品牌诊断 Brand diagnosis — {report.get('own_brand') or report['execution_id']}"
    body = (
        _header(report)
        + _charts(report, colors)
        + _brand_table(report)
        + _platform_table(report)
        + _question_table(report)
        + _gap_table(report)
        + _sources_and_errors(report)
        + _discovered(report)
        + '<p class="muted">定义 Definitions: docs/metrics.md · 可见度 Visibility = '
        f"{_e(report['methodology']['visibility_formula'])}</p>"
    )
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
