"""Where the clocks change (a community configured in a zone with daylight saving), sessions and lateness still
follow the local wall clock: 09:00 is 09:00 on the day before the change and on the day after."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from childcare.attendance import services
from childcare.attendance.models import AttendanceState
from childcare.programmes.services import create_programme
from tests.attendance.factories import ChildFactory, ShiftFactory, VolunteerFactory, enrol
from tests.factories import CoordinatorFactory, VenueFactory

BERLIN = ZoneInfo("Europe/Berlin")  # clocks go forward at 02:00 on 2026-03-29
BEFORE, AFTER = date(2026, 3, 28), date(2026, 3, 30)


def berlin(day: date, at: time) -> datetime:
    return datetime.combine(day, at, BERLIN).astimezone(UTC)


@pytest.fixture
def camp(app, app_ctx, monkeypatch, time_machine):
    monkeypatch.setitem(app.config, "TIMEZONE", "Europe/Berlin")
    time_machine.move_to(berlin(date(2026, 3, 1), time(12)))
    venue = VenueFactory()
    coordinator = CoordinatorFactory(community=venue.community)
    return create_programme(actor=coordinator, community_id=venue.community_id, venue_id=venue.id,
                            kind="holiday_camp", title="春假营", capacity=5, starts_on=BEFORE, ends_on=AFTER,
                            weekdays=[1, 2, 3, 4, 5, 6, 7], start_time=time(9), end_time=time(12),
                            late_after_minutes=10)


def test_sessions_keep_their_local_start_across_the_clock_change(camp):
    starts = {s.on_date: s.starts_at for s in camp.sessions}
    assert starts[BEFORE] == datetime(2026, 3, 28, 8, 0, tzinfo=UTC)  # UTC+1
    assert starts[AFTER] == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)  # UTC+2
    assert all(s.starts_at.astimezone(BERLIN).time() == time(9) for s in camp.sessions)


@pytest.mark.parametrize(("day", "at", "state"), [(BEFORE, time(9, 10), AttendanceState.PRESENT),
                                                  (BEFORE, time(9, 11), AttendanceState.LATE),
                                                  (AFTER, time(9, 10), AttendanceState.PRESENT),
                                                  (AFTER, time(9, 11), AttendanceState.LATE)])
def test_lateness_counts_from_the_local_start_on_both_sides_of_the_change(camp, time_machine, day, at, state):
    session = next(s for s in camp.sessions if s.on_date == day)
    child = ChildFactory()
    enrol(child, camp)
    volunteer = VolunteerFactory()
    ShiftFactory(session=session, volunteer=volunteer)
    time_machine.move_to(berlin(day, at))
    assert services.check_in(actor=volunteer, session_id=session.id, child_id=child.id).state == state
