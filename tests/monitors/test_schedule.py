"""Schedules (pure): cron in a time zone, intervals, refusals, the catch-up slot."""

from datetime import UTC, datetime, timedelta

import pytest

from diagnosis.monitors.schedule import InvalidSchedule, Schedule, due_slot

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def test_cron_slots_follow_the_time_zone():
    schedule = Schedule(cron="0 9 * * *", timezone="Asia/Shanghai")
    assert schedule.next_after(NOW) == datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
    assert schedule.latest_at_or_before(NOW) == datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize("cron", ["0 0 30 2 *", "not a cron", "61 * * * *"])
def test_a_cron_that_never_fires_or_does_not_parse_is_refused(cron):
    with pytest.raises(InvalidSchedule):
        Schedule(cron=cron).validate(min_interval_s=300, now=NOW)


def test_schedules_more_frequent_than_the_minimum_are_refused():
    with pytest.raises(InvalidSchedule):
        Schedule(cron="*/2 * * * *").validate(min_interval_s=300, now=NOW)
    with pytest.raises(InvalidSchedule):
        Schedule(interval_s=299).validate(min_interval_s=300, now=NOW)
    Schedule(interval_s=300).validate(min_interval_s=300, now=NOW)


def test_an_unknown_zone_is_refused():
    with pytest.raises(InvalidSchedule):
        Schedule(cron="0 9 * * *", timezone="Mars/Olympus").validate(min_interval_s=1, now=NOW)


def test_due_slot_coalesces_missed_slots_into_the_latest():
    schedule = Schedule(interval_s=600)
    first = schedule.next_after(NOW)
    assert due_slot(schedule, first, NOW) is None
    slot, following = due_slot(schedule, first, first + timedelta(seconds=1900)) or (None, None)
    assert slot == first + timedelta(seconds=1800)
    assert following == first + timedelta(seconds=2400)
