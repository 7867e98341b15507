"""Alert rules evaluated on a finished run against the one before it (pure, docs/monitors.md).

Kinds: `metric` (drop_points / rise_points: fire only when the change is significant;
below / above: fire when the value crosses the threshold), `overtake` (a competitor's share
of voice passes the own brand's), `run_failed` (the run ended failed, partial or timed out).
Threshold and overtake rules fire on the run where the condition starts to hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from diagnosis.monitors.trend import RunView, brand_rows, compare

FAILED_STATUSES = ("failed", "partial_success", "timeout")
# drop_points / rise_points are percentage points for rates (0.62 -> 0.40 is 22 points).
POINTS_SCALE = 100.0


@dataclass(frozen=True, slots=True)
class Firing:
    rule_index: int
    rule: dict[str, Any]
    brand: str | None
    metric: str | None
    before: float | None
    after: float | None
    delta: float | None
    message: str


def _row(rows: list[dict[str, Any]] | None, brand: str) -> dict[str, Any] | None:
    return next((r for r in rows or () if r.get("name") == brand), None)


def _own(rows: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    return next((r for r in rows or () if r.get("is_own")), None)


def _where(rule: dict[str, Any]) -> str:
    return f" on {rule['platform']}" if rule.get("platform") else ""


def _metric_firing(
    index: int, rule: dict[str, Any], previous: RunView | None, current: RunView
) -> Firing | None:
    platform = rule.get("platform")
    rows = brand_rows(current.report, platform)
    own = _own(rows)
    brand: str | None = rule.get("brand") or (own.get("name") if own else None)
    metric = rule["metric"]
    now_row = _row(rows, brand) if brand else None
    if now_row is None:
        return None
    prev_row = None
    assert brand is not None
    comparable = previous is not None and not compare(previous, current, platform=platform)["break"]
    if previous is not None and comparable:
        prev_row = _row(brand_rows(previous.report, platform), brand)
    after = now_row.get(metric)
    before = prev_row.get(metric) if prev_row else None
    delta = round(after - before, 4) if after is not None and before is not None else None
    if "drop_points" in rule or "rise_points" in rule:
        if previous is None or not comparable:
            return None
        change = next(
            (c for c in compare(previous, current, platform=platform, brand=brand)["changes"]
             if c["metric"] == metric), None)
        if change is None or not change["significant"] or change["delta"] is None:
            return None
        points = change["delta"] * POINTS_SCALE
        if "drop_points" in rule and -points >= rule["drop_points"]:
            verb = f"dropped {-points:.1f} points"
        elif "rise_points" in rule and points >= rule["rise_points"]:
            verb = f"rose {points:.1f} points"
        else:
            return None
        message = (f"{brand} {metric}{_where(rule)} {verb} ({before} -> {after}), "
                   "significant at 95%")
        return Firing(index, rule, brand, metric, before, after, delta, message)
    if after is None:
        return None
    if "below" in rule:
        holds, held = after < rule["below"], before is not None and before < rule["below"]
        verb = f"below {rule['below']}"
    else:
        holds, held = after > rule["above"], before is not None and before > rule["above"]
        verb = f"above {rule['above']}"
    if not holds or held:
        return None
    return Firing(index, rule, brand, metric, before, after, delta,
                  f"{brand} {metric}{_where(rule)} is {after}, {verb}")


def _leaders(rows: list[dict[str, Any]] | None) -> tuple[dict[str, Any] | None, list[Any]]:
    own = _own(rows)
    if own is None or own.get("share_of_voice") is None:
        return own, []
    ahead = [r for r in rows or () if not r.get("is_own")
             and (r.get("share_of_voice") or 0) > own["share_of_voice"]]
    return own, sorted(ahead, key=lambda r: -(r.get("share_of_voice") or 0))


def _overtake_firing(
    index: int, rule: dict[str, Any], previous: RunView | None, current: RunView
) -> Firing | None:
    platform = rule.get("platform")
    own, ahead = _leaders(brand_rows(current.report, platform))
    if own is None or not ahead:
        return None
    if previous is not None:
        _, ahead_before = _leaders(brand_rows(previous.report, platform))
        if ahead[0].get("name") in {r.get("name") for r in ahead_before}:
            return None  # it was already ahead: not news
    top = ahead[0]
    return Firing(
        index, rule, top.get("name"), "share_of_voice", own["share_of_voice"],
        top.get("share_of_voice"),
        round(top["share_of_voice"] - own["share_of_voice"], 4),
        f"{top.get('name')} overtook {own.get('name')} in share of voice{_where(rule)} "
        f"({top.get('share_of_voice')} vs {own['share_of_voice']})",
    )


def evaluate(
    rules: list[dict[str, Any]], previous: RunView | None, current: RunView
) -> list[Firing]:
    """The rules that fire on `current`, in rule order (at most one firing per rule)."""
    firings: list[Firing] = []
    for index, rule in enumerate(rules):
        kind = rule.get("kind", "metric")
        firing: Firing | None
        if kind == "run_failed":
            firing = (Firing(index, rule, None, None, None, None, None,
                             f"run {current.execution_id} ended {current.status}")
                      if current.status in FAILED_STATUSES else None)
        elif kind == "overtake":
            firing = _overtake_firing(index, rule, previous, current)
        else:
            firing = _metric_firing(index, rule, previous, current)
        if firing is not None:
            firings.append(firing)
    return firings
