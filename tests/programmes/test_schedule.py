"""An after-school class follows the official school calendar; a holiday camp follows its date range."""

from datetime import date, timedelta

import chinese_calendar

from childcare.programmes import schedule
from childcare.programmes.models import ProgrammeKind
from tests.programmes.factories import CalendarDayFactory

AFTER_SCHOOL = ProgrammeKind.AFTER_SCHOOL
CAMP = ProgrammeKind.HOLIDAY_CAMP
MON_FRI = [1, 2, 3, 4, 5]


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def test_the_2026_national_day_holiday_has_no_after_school_session(app_ctx):
    start, end = date(2026, 9, 28), date(2026, 10, 16)
    holidays = [d for d in _days(date(2026, 10, 1), date(2026, 10, 8)) if chinese_calendar.is_holiday(d)]
    assert date(2026, 10, 1) in holidays and len(holidays) >= 7

    dates = schedule.session_dates(AFTER_SCHOOL, start, end, MON_FRI, [])

    assert not set(holidays) & set(dates)
    assert dates == [d for d in _days(start, end) if chinese_calendar.is_workday(d)]


def test_an_official_make_up_working_day_gets_a_session_when_the_class_runs_every_weekday(app_ctx):
    make_up_days = [d for d in chinese_calendar.get_workdays(date(2026, 2, 1), date(2026, 2, 28)) if d.weekday() >= 5]
    assert date(2026, 2, 14) in make_up_days  # a Saturday before the Spring Festival

    dates = schedule.session_dates(AFTER_SCHOOL, date(2026, 2, 9), date(2026, 2, 28), MON_FRI, [])

    assert date(2026, 2, 14) in dates and date(2026, 2, 28) in dates
    assert date(2026, 2, 17) not in dates  # 春节
    assert date(2026, 2, 15) not in dates  # an ordinary Sunday, and a holiday


def test_a_class_on_some_weekdays_only_does_not_meet_on_a_make_up_saturday(app_ctx):
    dates = schedule.session_dates(AFTER_SCHOOL, date(2026, 2, 9), date(2026, 2, 28), [2, 4], [])

    assert date(2026, 2, 14) not in dates
    assert all(d.isoweekday() in (2, 4) for d in dates)
    assert date(2026, 2, 10) in dates and date(2026, 2, 26) in dates


def test_excluded_dates_are_skipped(app_ctx):
    dates = schedule.session_dates(AFTER_SCHOOL, date(2026, 3, 2), date(2026, 3, 13), MON_FRI,
                                   ["2026-03-05", date(2026, 3, 6)])

    assert date(2026, 3, 5) not in dates and date(2026, 3, 6) not in dates
    assert len(dates) == 8


def test_a_holiday_camp_over_the_spring_festival_runs_every_chosen_day_except_the_excluded_ones(app_ctx):
    excluded = [date(2026, 2, 16), date(2026, 2, 17), date(2026, 2, 18)]

    dates = schedule.session_dates(CAMP, date(2026, 2, 2), date(2026, 2, 27), [1, 2, 3, 4, 5, 6, 7], excluded)

    assert not set(excluded) & set(dates)
    # A camp does not follow the school calendar: a public holiday that is not excluded has a session.
    assert chinese_calendar.is_holiday(date(2026, 2, 19)) and date(2026, 2, 19) in dates
    assert len(dates) == 26 - 3


def test_a_camp_on_weekdays_only_skips_weekends(app_ctx):
    dates = schedule.session_dates(CAMP, date(2026, 7, 6), date(2026, 7, 19), MON_FRI, [])

    assert len(dates) == 10 and all(d.isoweekday() <= 5 for d in dates)


def test_an_unknown_year_is_reported_and_planned_monday_to_friday(app_ctx):
    assert not schedule.year_is_known(2027)
    assert schedule.unknown_years(date(2026, 12, 1), date(2027, 1, 31)) == [2027]

    dates = schedule.session_dates(AFTER_SCHOOL, date(2027, 1, 1), date(2027, 1, 10), MON_FRI, [])

    assert dates == [d for d in _days(date(2027, 1, 1), date(2027, 1, 10)) if d.isoweekday() <= 5]


def test_calendar_entries_fill_in_an_unknown_year(app_ctx):
    CalendarDayFactory(on_date=date(2027, 1, 1), is_school_day=False, name="元旦")
    CalendarDayFactory(on_date=date(2027, 1, 9), is_school_day=True, name="元旦调休")

    dates = schedule.session_dates(AFTER_SCHOOL, date(2027, 1, 1), date(2027, 1, 10), MON_FRI, [])

    assert date(2027, 1, 1) not in dates
    assert date(2027, 1, 9) in dates  # a Saturday make-up working day
    assert schedule.unknown_years(date(2026, 12, 1), date(2027, 1, 31)) == []


def test_a_calendar_entry_overrides_the_official_calendar_in_a_known_year(app_ctx):
    CalendarDayFactory(on_date=date(2026, 6, 1), is_school_day=False, name="学校放假")

    assert not schedule.is_school_day(date(2026, 6, 1))
    assert schedule.is_school_day(date(2026, 6, 2))
    assert date(2026, 6, 1) not in schedule.session_dates(AFTER_SCHOOL, date(2026, 6, 1), date(2026, 6, 5),
                                                          MON_FRI, [])


def test_planning_a_whole_term_reads_the_calendar_once(app_ctx, count_queries):
    with count_queries() as n:
        schedule.session_dates(AFTER_SCHOOL, date(2026, 2, 24), date(2026, 7, 10), MON_FRI, [])
    assert n() == 1
    with count_queries() as n:
        schedule.session_dates(CAMP, date(2026, 7, 11), date(2026, 8, 31), MON_FRI, [])
    assert n() == 0
