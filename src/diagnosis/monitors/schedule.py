"""Schedules and their slots (pure: the caller passes the clock). A cron expression in a time
zone (croniter over zoneinfo) or a fixed interval; never imports the engine or the database.

A slot is the instant a run is due. After downtime every missed slot coalesces into ONE
catch-up run, for the latest slot that is due (docs/monitors.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, CroniterBadDateError, croniter

# Interval slots are counted from this instant, so every scheduler computes the same slots.
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
MAX_INTERVAL_S = 366 * 24 * 3600


class InvalidSchedule(ValueError):
    """A schedule that cannot run: bad cron, unknown zone, a cron that never fires, too short."""


@dataclass(frozen=True, slots=True)
class Schedule:
    cron: str | None = None
    timezone: str = "UTC"
    interval_s: int | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schedule:
        if data.get("interval_s") is not None:
            return cls(interval_s=int(data["interval_s"]))
        return cls(cron=str(data["cron"]), timezone=str(data.get("timezone") or "UTC"))

    def to_dict(self) -> dict[str, Any]:
        if self.interval_s is not None:
            return {"interval_s": self.interval_s}
        return {"cron": self.cron, "timezone": self.timezone}

    def validate(self, *, min_interval_s: int, now: datetime) -> None:
        """Raise InvalidSchedule unless the schedule fires, and never more often than allowed."""
        if self.interval_s is not None:
            if self.interval_s < min_interval_s:
                raise InvalidSchedule(
                    f"interval_s must be at least {min_interval_s} "
                    "(DIAGNOSIS_MONITOR_MIN_INTERVAL_S)"
                )
            if self.interval_s > MAX_INTERVAL_S:
                raise InvalidSchedule(f"interval_s must be at most {MAX_INTERVAL_S}")
            return
        first = self.next_after(now)
        second = self.next_after(first)
        # Cron's shortest gap can hide anywhere in a day: check a day of fire times.
        gap = (second - first).total_seconds()
        t = second
        for _ in range(1440):
            if t - first > timedelta(days=1):
                break
            nxt = self.next_after(t)
            gap = min(gap, (nxt - t).total_seconds())
            if gap < min_interval_s:
                break
            t = nxt
        if gap < min_interval_s:
            raise InvalidSchedule(
                f"cron fires every {int(gap)} s: at least {min_interval_s} s between runs "
                "(DIAGNOSIS_MONITOR_MIN_INTERVAL_S)"
            )

    def _zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidSchedule(f"unknown time zone: {self.timezone}") from exc

    def _cron(self, start: datetime) -> croniter:
        assert self.cron is not None
        try:
            return croniter(self.cron, start.astimezone(self._zone()))
        except (CroniterBadCronError, ValueError, KeyError) as exc:
            raise InvalidSchedule(f"invalid cron expression: {self.cron}") from exc

    def next_after(self, t: datetime) -> datetime:
        """The first slot strictly after `t` (UTC)."""
        if self.interval_s is not None:
            k = int((t - EPOCH).total_seconds() // self.interval_s) + 1
            return EPOCH + timedelta(seconds=k * self.interval_s)
        try:
            fire = self._cron(t).get_next(datetime)
        except CroniterBadDateError as exc:
            raise InvalidSchedule(f"cron never fires: {self.cron}") from exc
        return _utc(fire)

    def latest_at_or_before(self, t: datetime) -> datetime:
        """The last slot at or before `t` (UTC): what a catch-up run fills."""
        if self.interval_s is not None:
            k = int((t - EPOCH).total_seconds() // self.interval_s)
            return EPOCH + timedelta(seconds=k * self.interval_s)
        nxt = self.next_after(t - timedelta(microseconds=1))
        if nxt == _utc(t):
            return nxt
        try:
            return _utc(self._cron(t).get_prev(datetime))
        except CroniterBadDateError as exc:
            raise InvalidSchedule(f"cron never fires: {self.cron}") from exc


def due_slot(
    schedule: Schedule, next_run_at: datetime, now: datetime
) -> tuple[datetime, datetime] | None:
    """(slot to run, next_run_at after it) when `next_run_at` has come, else None.

    Every slot missed between `next_run_at` and `now` coalesces into one run for the latest.
    """
    if now < next_run_at:
        return None
    slot = max(next_run_at, schedule.latest_at_or_before(now))
    return slot, schedule.next_after(max(slot, now))


def _utc(t: datetime) -> datetime:
    return t.astimezone(UTC)
