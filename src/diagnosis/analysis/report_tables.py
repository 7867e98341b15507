"""The report tables both renderers show, as (headers, rows) of plain display strings.

Column choice, labels and number formatting live here; it must never produce markup or escape
anything: Markdown syntax, HTML tags and escaping are each renderer's own job.
"""

from __future__ import annotations

from collections.abc import Sequence

Row = tuple[str, ...]
Table = tuple[list[str], list[Row]]

_BRAND_HEADERS = [
    "品牌 Brand",
    "提及率 Mention rate",
    "95% CI",
    "平均排名 Avg rank",
    "首位率 Top-1",
    "声量 SoV",
    "加权声量 SoV (rank-weighted)",
    "情感指数 Sentiment",
    "推荐率 Recommended",
    "可见度 Visibility",
]
# compact=True: the HTML page's narrower labels for some of those columns.
_BRAND_HEADERS_COMPACT = {
    "提及率 Mention rate": "提及率 Mention",
    "加权声量 SoV (rank-weighted)": "加权声量 Weighted SoV",
    "情感指数 Sentiment": "情感 Sentiment",
    "推荐率 Recommended": "推荐 Recommended",
}


def pct(value: float | None) -> str:
    """A 0..1 rate as a percentage with one decimal, or — when there is none."""
    return "—" if value is None else f"{value * 100:.1f}%"


def num(value: float | None, digits: int = 2) -> str:
    """A plain number with `digits` decimals, or — when there is none."""
    return "—" if value is None else f"{value:.{digits}f}"


def ci(value: Sequence[float] | None) -> str:
    """A 0..1 interval as a percentage range, or — when there is none."""
    return "—" if not value else f"{value[0] * 100:.1f}–{value[1] * 100:.1f}%"


def brands_table(report: dict, *, compact: bool = False) -> Table:
    """One row per brand with its headline metrics; the own brand is marked after its name.

    compact: shorter column labels and a ★ (rather than "(own)") for the own brand.
    """
    marker = " ★" if compact else " (own)"
    rows: list[Row] = [
        (
            b["name"] + marker if b.get("is_own") else b["name"],
            pct(b["mention_rate"]),
            ci(b["mention_rate_ci"]),
            num(b["avg_rank"]),
            pct(b["top1_share"]),
            pct(b["share_of_voice"]),
            pct(b["share_of_voice_weighted"]),
            num(b["sentiment_index"]),
            pct(b.get("recommend_share")),  # absent from reports stored before it existed
            num(b["visibility_score"], 1),
        )
        for b in report["brands"]
    ]
    headers = [_BRAND_HEADERS_COMPACT.get(h, h) if compact else h for h in _BRAND_HEADERS]
    return headers, rows


def platforms_table(report: dict, *, compact: bool = False) -> Table:
    """One row per platform: ok and failed answers, then each brand's mention rate there.

    compact: the brand columns are labelled "<brand> 提及率" without the English word.
    """
    suffix = " 提及率" if compact else " 提及率 mention"
    headers = ["平台 Platform", "成功 OK", "失败 Failed"]
    headers += [b["name"] + suffix for b in report["brands"]]
    rows: list[Row] = [
        (
            p["display_name"],
            str(p["ok"]),
            str(p["failed"]),
            *(pct(b["mention_rate"]) for b in p["brands"]),
        )
        for p in report["platforms"]
    ]
    return headers, rows


def gaps_table(report: dict) -> Table:
    """One row per question where competitors were mentioned and the own brand was absent."""
    headers = ["问题 Question", "缺口回答 Gap answers", "出现的竞品 Competitors", "平台 Platforms"]
    rows: list[Row] = [
        (
            g["question"],
            f"{g['gap_answers']} / {g['answers']}",
            ", ".join(f"{n} ×{g['competitor_counts'][n]}" for n in g["competitors"]),
            ", ".join(g["platforms"]),
        )
        for g in report["gaps"]
    ]
    return headers, rows


def domains_table(report: dict, *, compact: bool = False) -> Table:
    """The most cited domains, each with how many answers cite it.

    compact: the count column is labelled "回答数 Answers".
    """
    count_label = "回答数 Answers" if compact else "引用回答数 Answers citing"
    rows: list[Row] = [(d["domain"], str(d["count"])) for d in report["sources"]["top_domains"]]
    return ["域名 Domain", count_label], rows


KIND_LABELS = {
    "own": "自有 own",
    "competitor": "竞品 competitor",
    "ugc": "用户内容 UGC",
    "editorial": "媒体 editorial",
    "ecommerce": "电商 e-commerce",
    "encyclopedia": "百科 encyclopedia",
    "other": "其他 other",
}


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind)


def _sources(report: dict, key: str) -> list[dict]:
    # absent from reports stored before sources had kinds
    return list(report.get("sources", {}).get(key) or ())


def source_domains_table(report: dict) -> Table:
    """Cited registrable domains: kind, answers citing them, brands named in those answers."""
    rows: list[Row] = [
        (d["registrable_domain"], kind_label(d["kind"]), str(d["answers"]), ", ".join(d["brands"]))
        for d in _sources(report, "domains")
    ]
    return ["站点 Site", "类型 Kind", "回答数 Answers", "同现品牌 Brands named"], rows


def source_kinds_table(report: dict) -> Table:
    """The share of citations per kind (the kinds with any citation)."""
    kinds = report.get("sources", {}).get("kinds") or {}
    rows: list[Row] = [(kind_label(k), pct(v)) for k, v in kinds.items() if v]
    return ["类型 Kind", "引用占比 Share of citations"], rows


def opportunities_table(report: dict) -> Table:
    """Sites cited where competitors are named and the own brand is not, most such answers first."""
    rows: list[Row] = [
        (
            o["registrable_domain"],
            kind_label(o["kind"]),
            str(o["answers"]),
            ", ".join(o["competitors"]),
            o.get("url") or "—",
        )
        for o in _sources(report, "opportunities")
    ]
    headers = ["站点 Site", "类型 Kind", "回答数 Answers", "出现的竞品 Competitors", "页面 Page"]
    return headers, rows


def discovered_table(report: dict) -> Table:
    """Brands the answers list that the request did not: candidates, most answers first."""
    rows: list[Row] = [
        (d["name"], str(d["mentions"]), pct(d["mention_rate"]), num(d["avg_rank"]), d["example"])
        for d in report.get("discovered_brands") or ()
    ]
    headers = ["品牌 Brand", "回答数 Answers", "提及率 Mention rate", "平均排名 Avg rank",
               "示例 Example"]
    return headers, rows


def errors_table(report: dict) -> Table:
    """Failed answers counted by error kind."""
    rows: list[Row] = [(kind, str(n)) for kind, n in report["errors"]["by_kind"].items()]
    return ["类型 Kind", "次数 Count"], rows
