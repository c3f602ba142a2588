"""A coordinator creates a programme in their community; its sessions follow the school calendar in UTC."""

from datetime import UTC, date, datetime, time

import pytest
import sqlalchemy as sa

from childcare.audit.models import AuditEntry
from childcare.db import db
from childcare.errors import Forbidden, InvalidInput, NotFound
from childcare.programmes import services
from childcare.programmes.models import CalendarDay, ProgrammeSession
from childcare.programmes.services import InvalidProgramme, NoSessions, SessionOverlap
from tests.factories import AdminFactory, CommunityFactory, CoordinatorFactory, UserFactory, VenueFactory
from tests.programmes.factories import LeaveFactory


@pytest.fixture
def clock(monkeypatch):
    """Set the services' clock: only sessions after 'now' are replanned."""

    def _set(when: datetime) -> None:
        monkeypatch.setattr(services, "utcnow", lambda: when)

    return _set


def _entries(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def _sessions(programme) -> list[ProgrammeSession]:
    return list(db.session.scalars(sa.select(ProgrammeSession).where(ProgrammeSession.programme_id == programme.id)
                                   .order_by(ProgrammeSession.starts_at)))


def _after_school(actor, community, **overrides):
    values = {"actor": actor, "community_id": community.id, "kind": "after_school", "title": "四点半课堂",
              "capacity": 20, "starts_on": date(2026, 9, 28), "ends_on": date(2026, 10, 16),
              "weekdays": [1, 2, 3, 4, 5], "start_time": time(16, 30), "end_time": time(18, 30)}
    values.update(overrides)
    return services.create_programme(**values)


@pytest.fixture
def community():
    return CommunityFactory()


@pytest.fixture
def coordinator(community):
    return CoordinatorFactory(community=community)


def test_sessions_are_stored_in_utc_half_past_four_in_shanghai_is_half_past_eight(app_ctx, coordinator, community):
    venue = VenueFactory(community=community)
    programme = _after_school(coordinator, community, venue_id=venue.id)

    first = _sessions(programme)[0]
    assert first.on_date == date(2026, 9, 28)
    assert first.starts_at == datetime(2026, 9, 28, 8, 30, tzinfo=UTC)
    assert first.ends_at == datetime(2026, 9, 28, 10, 30, tzinfo=UTC)
    assert first.venue_id == venue.id


def test_the_national_day_holiday_has_no_session_but_the_make_up_saturday_has_one(app_ctx, coordinator, community):
    programme = _after_school(coordinator, community)

    dates = [s.on_date for s in _sessions(programme)]
    assert not [d for d in dates if date(2026, 10, 1) <= d <= date(2026, 10, 7)]
    assert date(2026, 10, 10) in dates and date(2026, 10, 8) in dates


def test_creating_a_programme_is_audited_with_its_details(app_ctx, coordinator, community):
    programme = _after_school(coordinator, community, priority_groups=["本社区双职工家庭", "其他"])

    [entry] = _entries("programme.created")
    assert entry.object_id == programme.id and entry.community_id == community.id
    assert entry.actor_id == coordinator.id
    assert entry.after["title"] == "四点半课堂" and entry.after["priority_groups"] == ["本社区双职工家庭", "其他"]
    assert [(g.rank, g.name) for g in programme.priority_groups] == [(1, "本社区双职工家庭"), (2, "其他")]


def test_a_coordinator_cannot_create_a_programme_in_another_community(app_ctx, coordinator):
    other = CommunityFactory()
    with pytest.raises(Forbidden):
        _after_school(coordinator, other)


def test_a_coordinator_cannot_see_or_change_another_communitys_programme(app_ctx, coordinator):
    other = CommunityFactory()
    theirs = _after_school(CoordinatorFactory(community=other), other)
    with pytest.raises(NotFound):
        services.get_programme_for_manager(actor=coordinator, programme_id=theirs.id)
    with pytest.raises(NotFound):
        services.update_programme(actor=coordinator, programme_id=theirs.id, title="改名")
    with pytest.raises(NotFound):
        services.update_session(actor=coordinator, session_id=_sessions(theirs)[0].id, cancelled=True)


@pytest.mark.parametrize(("changes", "field"), [
    ({"title": "  "}, "title"),
    ({"capacity": -1}, "capacity"),
    ({"ends_on": date(2026, 9, 1)}, "ends_on"),
    ({"ends_on": date(2027, 12, 31)}, "ends_on"),
    ({"end_time": time(16, 0)}, "end_time"),
    ({"weekdays": []}, "weekdays"),
    ({"weekdays": [0, 8]}, "weekdays"),
    ({"min_age": 19}, "min_age"),
    ({"min_age": 10, "max_age": 6}, "max_age"),
    ({"min_grade": 4, "max_grade": 2}, "max_grade"),
    ({"max_grade": 10}, "max_grade"),
    ({"registration_opens_at": datetime(2026, 9, 10, 8, tzinfo=UTC),
      "registration_closes_at": datetime(2026, 9, 1, 8, tzinfo=UTC)}, "registration_closes_at"),
    ({"excluded_dates": ["2026-02-30"]}, "excluded_dates"),
    ({"kind": "sleepover"}, "kind"),
    ({"fee_cents": -100}, "fee_cents"),
])
def test_invalid_details_are_refused_on_the_field_they_concern(app_ctx, coordinator, community, changes, field):
    with pytest.raises(InvalidProgramme) as refused:
        _after_school(coordinator, community, **changes)
    assert refused.value.field == field


def test_a_venue_of_another_community_is_refused(app_ctx, coordinator, community):
    elsewhere = VenueFactory()
    with pytest.raises(InvalidProgramme) as refused:
        _after_school(coordinator, community, venue_id=elsewhere.id)
    assert refused.value.field == "venue_id"


def test_dates_that_leave_no_session_are_refused(app_ctx, coordinator, community):
    with pytest.raises(NoSessions) as refused:
        _after_school(coordinator, community, starts_on=date(2026, 10, 1), ends_on=date(2026, 10, 7))
    assert refused.value.code == "no_sessions"


def test_registration_times_without_a_zone_are_shanghai_time(app_ctx, coordinator, community):
    programme = _after_school(coordinator, community, registration_opens_at=datetime(2026, 9, 1, 8, 0),
                              registration_closes_at=datetime(2026, 9, 20, 20, 0))
    assert programme.registration_opens_at == datetime(2026, 9, 1, 0, 0, tzinfo=UTC)
    assert programme.registration_closes_at == datetime(2026, 9, 20, 12, 0, tzinfo=UTC)


def test_an_unknown_year_comes_with_a_warning(app_ctx, coordinator, community):
    programme = _after_school(coordinator, community, starts_on=date(2026, 12, 14), ends_on=date(2027, 1, 15))

    warnings = services.schedule_warnings(programme)
    assert len(warnings) == 1 and "2027" in warnings[0]


def test_capacity_is_not_changed_here_but_with_the_waiting_list(app_ctx, coordinator, community):
    programme = _after_school(coordinator, community)
    with pytest.raises(InvalidProgramme) as refused:
        services.update_programme(actor=coordinator, programme_id=programme.id, capacity=30)
    assert refused.value.code == "capacity_elsewhere" and refused.value.field == "capacity"
    assert programme.capacity == 20


def test_changing_the_title_is_audited_with_before_and_after(app_ctx, coordinator, community):
    programme = _after_school(coordinator, community)
    services.update_programme(actor=coordinator, programme_id=programme.id, title="四点半课堂（秋季）")

    [entry] = _entries("programme.updated")
    assert entry.before == {"title": "四点半课堂"} and entry.after == {"title": "四点半课堂（秋季）"}


def test_shortening_a_programme_deletes_free_sessions_and_cancels_those_with_leave(app_ctx, coordinator, community,
                                                                                    clock):
    programme = _after_school(coordinator, community)
    by_date = {s.on_date: s for s in _sessions(programme)}
    LeaveFactory(session=by_date[date(2026, 10, 15)])
    clock(datetime(2026, 9, 1, tzinfo=UTC))

    services.update_programme(actor=coordinator, programme_id=programme.id, ends_on=date(2026, 10, 14))

    left = {s.on_date: s for s in _sessions(programme)}
    assert date(2026, 10, 16) not in left
    assert left[date(2026, 10, 15)].cancelled
    assert not left[date(2026, 10, 14)].cancelled
    [entry] = _entries("programme.updated")
    assert entry.after["sessions_removed"] == 1 and entry.after["sessions_cancelled"] == 1


def test_past_sessions_are_history_and_stay_as_they_were(app_ctx, coordinator, community, clock):
    programme = _after_school(coordinator, community)
    clock(datetime(2026, 10, 9, 12, tzinfo=UTC))

    services.update_programme(actor=coordinator, programme_id=programme.id, start_time=time(17, 0),
                              excluded_dates=["2026-09-29", "2026-10-13"])

    by_date = {s.on_date: s for s in _sessions(programme)}
    assert by_date[date(2026, 9, 29)].starts_at == datetime(2026, 9, 29, 8, 30, tzinfo=UTC)
    assert date(2026, 10, 13) not in by_date
    assert by_date[date(2026, 10, 12)].starts_at == datetime(2026, 10, 12, 9, 0, tzinfo=UTC)


def test_a_session_moved_by_hand_keeps_its_time_when_the_programme_time_changes(app_ctx, coordinator, community,
                                                                                  clock):
    programme = _after_school(coordinator, community)
    clock(datetime(2026, 9, 1, tzinfo=UTC))
    moved = {s.on_date: s for s in _sessions(programme)}[date(2026, 10, 9)]
    services.update_session(actor=coordinator, session_id=moved.id, starts_at_local=datetime(2026, 10, 9, 15, 0),
                            ends_at_local=datetime(2026, 10, 9, 17, 0))

    services.update_programme(actor=coordinator, programme_id=programme.id, start_time=time(17, 0),
                              end_time=time(19, 0))

    assert moved.starts_at == datetime(2026, 10, 9, 7, 0, tzinfo=UTC)
    other = {s.on_date: s for s in _sessions(programme)}[date(2026, 10, 12)]
    assert other.starts_at == datetime(2026, 10, 12, 9, 0, tzinfo=UTC)


def test_a_new_venue_moves_the_future_sessions_that_were_in_the_old_one(app_ctx, coordinator, community, clock):
    old, new = VenueFactory(community=community), VenueFactory(community=community)
    programme = _after_school(coordinator, community, venue_id=old.id)
    clock(datetime(2026, 9, 1, tzinfo=UTC))

    services.update_programme(actor=coordinator, programme_id=programme.id, venue_id=new.id)

    assert {s.venue_id for s in _sessions(programme)} == {new.id}


def test_reordering_priority_groups_keeps_the_groups(app_ctx, coordinator, community):
    programme = _after_school(coordinator, community, priority_groups=["甲", "乙"])
    ids = {g.name: g.id for g in programme.priority_groups}

    services.update_programme(actor=coordinator, programme_id=programme.id, priority_groups=["乙", "甲", "丙"])

    assert [(g.rank, g.name) for g in programme.priority_groups] == [(1, "乙"), (2, "甲"), (3, "丙")]
    assert {g.name: g.id for g in programme.priority_groups if g.name in ids} == ids


def test_a_session_can_be_cancelled_and_restored_and_each_step_is_audited(app_ctx, coordinator, community):
    programme = _after_school(coordinator, community)
    item = _sessions(programme)[0]

    services.update_session(actor=coordinator, session_id=item.id, cancelled=True, note="停电")
    assert item.cancelled and item.note == "停电"
    services.update_session(actor=coordinator, session_id=item.id, cancelled=False)

    assert _entries("programme.session_cancelled")[0].community_id == community.id
    assert len(_entries("programme.session_restored")) == 1


def test_two_sessions_of_a_programme_cannot_start_at_the_same_time(app_ctx, coordinator, community):
    programme = _after_school(coordinator, community)
    first, second = _sessions(programme)[:2]
    with pytest.raises(SessionOverlap) as refused:
        services.update_session(actor=coordinator, session_id=second.id, starts_at_local=datetime(2026, 9, 28, 16, 30),
                                ends_at_local=datetime(2026, 9, 28, 18, 0))
    assert refused.value.code == "overlap"
    # The SAVEPOINT kept the unit of work usable.
    services.update_session(actor=coordinator, session_id=first.id, note="带水杯")


def test_a_session_must_end_after_it_starts(app_ctx, coordinator, community):
    item = _sessions(_after_school(coordinator, community))[0]
    with pytest.raises(InvalidProgramme) as refused:
        services.update_session(actor=coordinator, session_id=item.id, starts_at_local=datetime(2026, 9, 28, 17, 0),
                                ends_at_local=datetime(2026, 9, 28, 16, 0))
    assert refused.value.field == "ends_at_local"


def test_a_holiday_entered_in_the_calendar_takes_the_sessions_off_that_day(app_ctx, coordinator, community, clock):
    programme = _after_school(coordinator, community, starts_on=date(2027, 1, 4), ends_on=date(2027, 1, 29))
    clock(datetime(2026, 12, 1, tzinfo=UTC))
    assert date(2027, 1, 25) in {s.on_date for s in _sessions(programme)}

    day = services.set_calendar_day(actor=coordinator, on_date=date(2027, 1, 25), is_school_day=False, name="寒假")

    assert date(2027, 1, 25) not in {s.on_date for s in _sessions(programme)}
    assert _entries("programme.calendar_day_set")[0].after["replanned"] == [programme.id]
    assert len(_entries("programme.sessions_replanned")) == 1
    assert services.schedule_warnings(programme) == []

    services.delete_calendar_day(actor=coordinator, calendar_day_id=day.id)

    assert date(2027, 1, 25) in {s.on_date for s in _sessions(programme)}
    assert db.session.scalar(sa.select(sa.func.count(CalendarDay.id))) == 0
    assert len(_entries("programme.calendar_day_deleted")) == 1


def test_entering_a_date_twice_changes_the_entry(app_ctx, coordinator):
    services.set_calendar_day(actor=coordinator, on_date=date(2027, 10, 1), is_school_day=False, name="国庆")
    services.set_calendar_day(actor=coordinator, on_date=date(2027, 10, 1), is_school_day=False, name="国庆节")
    assert db.session.scalars(sa.select(CalendarDay.name)).all() == ["国庆节"]


def test_another_coordinator_may_not_change_or_remove_an_entry_but_an_administrator_may(app_ctx, coordinator):
    # The calendar is every community's: an entry changes the classes of communities the other coordinator does
    # not run.
    day = services.set_calendar_day(actor=coordinator, on_date=date(2027, 10, 1), is_school_day=False, name="国庆")
    elsewhere = CoordinatorFactory(community=CommunityFactory())

    with pytest.raises(InvalidInput) as refused:
        services.set_calendar_day(actor=elsewhere, on_date=date(2027, 10, 1), is_school_day=True, name="补班")
    assert refused.value.field == "on_date"
    with pytest.raises(Forbidden):
        services.delete_calendar_day(actor=elsewhere, calendar_day_id=day.id)
    assert db.session.scalars(sa.select(CalendarDay.name)).all() == ["国庆"]

    services.set_calendar_day(actor=AdminFactory(), on_date=date(2027, 10, 1), is_school_day=False, name="国庆节")
    assert db.session.scalars(sa.select(CalendarDay.name)).all() == ["国庆节"]
    services.delete_calendar_day(actor=AdminFactory(), calendar_day_id=day.id)
    assert db.session.scalar(sa.select(sa.func.count(CalendarDay.id))) == 0


def test_a_guardian_cannot_change_the_school_calendar(app_ctx):
    with pytest.raises(Forbidden):
        services.set_calendar_day(actor=UserFactory(), on_date=date(2027, 1, 1), is_school_day=False, name="元旦")
