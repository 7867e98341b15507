"""Joins stored results to the analysis package's report builder and renderers.

The analysis package knows nothing of rows or records; this module translates.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from diagnosis.analysis import (
    BrandSpec,
    ReportInput,
    ResultView,
    build_report,
    render_csv,
    render_html,
    render_markdown,
)


def result_views(rows: Sequence[Any]) -> list[ResultView]:
    return [
        ResultView(
            task_key=r.task_key,
            question=r.question,
            template=r.template,
            subject=r.subject,
            platform=r.platform,
            sample=r.sample,
            status=r.status,
            error_kind=r.error_kind,
            answer=r.answer,
            latency_ms=r.latency_ms,
            analysis=r.analysis,
        )
        for r in rows
    ]


def report_input(
    record: Any,
    *,
    brands: Sequence[BrandSpec],
    display_names: dict[str, str],
    status: str,
    finished_at: datetime | None,
) -> ReportInput:
    return ReportInput(
        execution_id=str(record.execution_id),
        brands=list(brands),
        questions=list(record.questions),
        platforms=[(pid, display_names.get(pid, pid)) for pid in record.platforms],
        samples=int(record.samples),
        status=status,
        created_at=record.created_at,
        finished_at=finished_at,
    )


def build_execution_report(
    record: Any,
    rows: Sequence[Any],
    *,
    brands: Sequence[BrandSpec],
    display_names: dict[str, str],
    status: str,
    finished_at: datetime | None,
) -> dict[str, Any]:
    inp = report_input(
        record,
        brands=brands,
        display_names=display_names,
        status=status,
        finished_at=finished_at,
    )
    return build_report(inp, result_views(rows))


REPORT_MEDIA_TYPES = {
    "json": "application/json",
    "md": "text/markdown; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
}


def render(
    fmt: str, report: dict[str, Any], rows: Sequence[Any], brands: Sequence[BrandSpec]
) -> bytes:
    if fmt == "md":
        return render_markdown(report).encode()
    if fmt == "csv":
        return render_csv(result_views(rows), brands)
    if fmt == "html":
        return render_html(report).encode()
    raise ValueError(f"unknown report format {fmt!r}")
