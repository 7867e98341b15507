"""Trend and changes of a monitor, read from each run's STORED report (no re-analysis).

Pure: the caller loads the runs (oldest first) and passes them in. A change of question set or
platforms between two runs is a break, never a trend (docs/monitors.md).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from diagnosis.monitors.statistics import (
    EMPTY_NOTE,
    NO_TEST_NOTE,
    ONE_SAMPLE_NOTE,
    Proportion,
    two_proportion_z,
)

METRICS = (
    "mention_rate", "share_of_voice", "top1_share", "avg_rank", "sentiment_index",
    "visibility_score",
)
# The metrics that are proportions of counts in the report, so a test can judge their change.
RATE_METRICS = ("mention_rate", "share_of_voice", "top1_share")
BRAND_FIELDS = ("name", "is_own", "answers", "mentions", "mention_rate", "mention_rate_ci",
                *METRICS[1:])
TEST_NAME = "two_proportion_z"


@dataclass(frozen=True, slots=True)
class RunView:
    """A monitor's run as trend and changes need it."""

    execution_id: str
    status: str
    scheduled_for: datetime | None
    finished_at: datetime | None
    questions: Sequence[str]
    platforms: Sequence[str]
    samples: int
    report: dict[str, Any] | None


def brand_rows(report: dict[str, Any] | None, platform: str | None) -> list[dict[str, Any]] | None:
    """The report's brand metrics, overall or of one platform (id or display name, any case);
    None when the run has no report, no ok answer, or not that platform."""
    if not report or not (report.get("summary") or {}).get("ok_results"):
        return None
    if platform is None:
        return list(report.get("brands") or [])
    wanted = platform.casefold()
    for section in report.get("platforms") or ():
        names = (str(section.get("platform", "")), str(section.get("display_name", "")))
        if wanted in (n.casefold() for n in names):
            return list(section.get("brands") or []) if section.get("ok") else None
    return None


def _brand_point(row: dict[str, Any]) -> dict[str, Any]:
    point = {key: row.get(key) for key in BRAND_FIELDS}
    ci = point.get("mention_rate_ci")
    point["mention_rate_ci"] = list(ci) if ci else None
    return point


def trend_points(
    runs: Sequence[RunView], *, platform: str | None = None, brand: str | None = None
) -> list[dict[str, Any]]:
    """One point per run that has metrics (oldest first, as given)."""
    points = []
    for run in runs:
        rows = brand_rows(run.report, platform)
        if rows is None:
            continue
        brands = [_brand_point(r) for r in rows if brand is None or r.get("name") == brand]
        points.append({
            "execution_id": run.execution_id, "status": run.status,
            "scheduled_for": run.scheduled_for, "finished_at": run.finished_at,
            "samples": run.samples, "brands": brands,
        })
    return points


def break_reason(before: RunView, after: RunView) -> str | None:
    if sorted(before.questions) != sorted(after.questions):
        return "question set changed"
    if sorted(before.platforms) != sorted(after.platforms):
        return "platforms changed"
    return None


def _proportion(metric: str, row: dict[str, Any], total_mentions: int) -> Proportion:
    answers = int(row.get("answers") or 0)
    mentions = int(row.get("mentions") or 0)
    if metric == "mention_rate":
        return Proportion(mentions, answers)
    if metric == "top1_share":
        return Proportion(round(float(row.get("top1_share") or 0.0) * answers), answers)
    return Proportion(mentions, total_mentions)  # share_of_voice: of all tracked mentions


def metric_change(
    metric: str, before: dict[str, Any], after: dict[str, Any], *,
    totals: tuple[int, int], one_sample: bool,
) -> dict[str, Any]:
    b, a = before.get(metric), after.get(metric)
    delta = round(a - b, 4) if a is not None and b is not None else None
    change: dict[str, Any] = {
        "brand": after.get("name"), "metric": metric, "before": b, "after": a, "delta": delta,
        "significant": False, "test": None, "z": None, "p_value": None, "note": None,
    }
    if metric not in RATE_METRICS:
        change["note"] = NO_TEST_NOTE
    elif one_sample:
        change["note"] = ONE_SAMPLE_NOTE
    elif delta is None:
        change["note"] = EMPTY_NOTE
    else:
        result = two_proportion_z(_proportion(metric, before, totals[0]),
                                  _proportion(metric, after, totals[1]))
        change.update(test=TEST_NAME, z=result.z, p_value=result.p_value,
                      significant=result.significant)
        if result.z is None:
            change["note"] = EMPTY_NOTE
    return change


def compare(
    before: RunView, after: RunView, *, platform: str | None = None, brand: str | None = None
) -> dict[str, Any]:
    """Two consecutive runs compared per brand and metric, or a break."""
    out: dict[str, Any] = {
        "from_execution_id": before.execution_id, "to_execution_id": after.execution_id,
        "from_scheduled_for": before.scheduled_for, "to_scheduled_for": after.scheduled_for,
        "break": False, "break_reason": None, "changes": [],
    }
    reason = break_reason(before, after)
    rows_before = brand_rows(before.report, platform)
    rows_after = brand_rows(after.report, platform)
    if reason is None and (rows_before is None or rows_after is None):
        reason = "no metrics in one of the runs" if platform is None else (
            f"platform {platform} has no metrics in one of the runs")
    if reason is not None:
        out.update({"break": True, "break_reason": reason})
        return out
    assert rows_before is not None and rows_after is not None
    totals = (sum(int(r.get("mentions") or 0) for r in rows_before),
              sum(int(r.get("mentions") or 0) for r in rows_after))
    one_sample = before.samples <= 1 or after.samples <= 1
    by_name = {r.get("name"): r for r in rows_before}
    for row in rows_after:
        old = by_name.get(row.get("name"))
        if old is None or (brand is not None and row.get("name") != brand):
            continue
        out["changes"].extend(
            metric_change(m, old, row, totals=totals, one_sample=one_sample) for m in METRICS
        )
    return out


def consecutive_changes(
    runs: Sequence[RunView], *, platform: str | None = None, brand: str | None = None
) -> list[dict[str, Any]]:
    """Every pair of consecutive runs with a report, newest pair first."""
    usable = [r for r in runs if r.report is not None]
    pairs = [compare(a, b, platform=platform, brand=brand)
             for a, b in itertools.pairwise(usable)]
    return pairs[::-1]
