"""CSV export of an execution's results: one row per result, mentions flattened per brand.

Formatting only, in memory: it never computes report metrics and never does I/O. UTF-8 with a
BOM so spreadsheet software shows Chinese correctly; cells that a spreadsheet would read as a
formula are prefixed with an apostrophe (answers are untrusted text).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from diagnosis.analysis.report import ResultView, question_kind
from diagnosis.analysis.schemas import BrandSpec

BASE_COLUMNS = (
    "task_key",
    "question",
    "template",
    "kind",
    "subject",
    "platform",
    "sample",
    "status",
    "error_kind",
    "latency_ms",
)
BRAND_FIELDS = ("mentioned", "rank", "sentiment", "count", "stance")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """A cell as text, neutralised if a spreadsheet would evaluate it (CSV injection)."""
    if value is None:
        return ""
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_START):
        return "'" + text
    return text


def header(brands: Sequence[BrandSpec]) -> list[str]:
    brand_cols = [f"{b.name} {f}" for b in brands for f in BRAND_FIELDS]
    return [*BASE_COLUMNS, *brand_cols, "sources", "source_kinds", "source_cited_by", "answer"]


def _brand_cells(result: ResultView, brands: Sequence[BrandSpec]) -> list[Any]:
    if result.analysis is None:  # not analysed (failed or pending): unknown, not "absent"
        return [None] * (len(brands) * len(BRAND_FIELDS))
    by_brand: dict[str, dict] = {}
    for m in result.analysis.get("mentions") or ():
        if isinstance(m, dict) and isinstance(m.get("brand"), str):
            by_brand.setdefault(m["brand"], m)
    cells: list[Any] = []
    for brand in brands:
        m = by_brand.get(brand.name)
        if m is None:
            cells += [0, None, None, 0, None]
        else:
            cells += [1, m.get("rank"), m.get("sentiment"), m.get("count", 1), m.get("stance")]
    return cells


def _sources(result: ResultView) -> list[str]:
    """URLs, their kinds and who cited them (api | text), space-separated and aligned: URLs
    never contain a raw space, so a space is an unambiguous separator."""
    stored = (result.analysis or {}).get("sources") or ()
    sources = [s for s in stored if isinstance(s, dict) and s.get("url")]
    return [
        " ".join(str(s["url"]) for s in sources),
        " ".join(str(s.get("kind") or "other") for s in sources),
        " ".join(str(s.get("cited_by") or "text") for s in sources),
    ]


def row(result: ResultView, brands: Sequence[BrandSpec]) -> list[str]:
    base = [
        result.task_key,
        result.question,
        result.template,
        question_kind(result.template),
        result.subject,
        result.platform,
        result.sample,
        result.status,
        result.error_kind,
        result.latency_ms,
    ]
    cells = [*base, *_brand_cells(result, brands), *_sources(result), result.answer]
    return [safe_cell(c) for c in cells]


def render_csv(results: Sequence[ResultView], brands: Sequence[BrandSpec]) -> bytes:
    """All results as CSV bytes (UTF-8 with BOM, CRLF line ends), header row first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([safe_cell(h) for h in header(brands)])
    writer.writerows(row(r, brands) for r in results)
    return buffer.getvalue().encode("utf-8-sig")
