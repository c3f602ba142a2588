"""Popular camps draw lots (摇号) when applications close; anyone can re-compute the draw from its seed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from childcare.enrolment import draw, services
from childcare.enrolment.models import EnrolmentStatus
from childcare.enrolment.queries import waitlist_positions
from childcare.programmes.models import Allocation
from tests.enrolment.factories import ChildFactory, EnrolmentFactory, PriorityGroupFactory
from tests.factories import CoordinatorFactory, ProgrammeFactory, UserFactory

pytestmark = pytest.mark.usefixtures("app_ctx")

S = EnrolmentStatus


def drawn_camp(capacity=2, **kwargs):
    return ProgrammeFactory(capacity=capacity, allocation=Allocation.DRAW, **kwargs)


def apply(programme, child=None, **kwargs):
    guardian = UserFactory()
    child = child or ChildFactory(guardian=guardian)
    if child.guardianships and child.guardianships[0].user_id != guardian.id:
        guardian = child.guardianships[0].user
    (application,) = services.enrol(actor=guardian, programme_id=programme.id, child_ids=[child.id], **kwargs)
    return application


def close_window(programme):
    programme.registration_closes_at = datetime.now(UTC) - timedelta(seconds=1)


def test_applications_are_equal_until_the_draw_and_nobody_is_promoted_before_it():
    camp = drawn_camp(capacity=5)
    applications = [apply(camp) for _ in range(3)]
    assert {(a.status, a.draw_rank) for a in applications} == {(S.WAITLISTED, None)}
    services.cancel(actor=applications[0].child.guardianships[0].user, enrolment_id=applications[0].id)
    assert {a.status for a in applications[1:]} == {S.WAITLISTED}


def test_the_draw_fills_seats_in_seeded_order_and_publishes_a_reproducible_order():
    camp = drawn_camp(capacity=2)
    applications = [apply(camp) for _ in range(6)]
    close_window(camp)
    result = draw.run_draw(actor=CoordinatorFactory(community=camp.community), programme_id=camp.id, seed="公示-2026")
    order = result.order[None]
    assert order == draw.recompute_draw("公示-2026", [a.id for a in applications])
    assert (camp.draw_seed, camp.drawn_at is not None) == ("公示-2026", True)
    by_id = {a.id: a for a in applications}
    assert [by_id[i].draw_rank for i in order] == [1, 2, 3, 4, 5, 6]
    assert [by_id[i].status for i in order] == [S.CONFIRMED] * 2 + [S.WAITLISTED] * 4
    assert result.seated == order[:2]
    assert list(waitlist_positions(programme_id=camp.id)) == order[2:]


def test_a_different_seed_gives_a_different_order():
    ids = list(range(1, 30))
    assert draw.recompute_draw("a", ids) != draw.recompute_draw("b", ids)
    assert draw.recompute_draw("a", ids) == draw.recompute_draw("a", list(reversed(ids)))


def test_priority_groups_are_drawn_first_then_the_seeded_order():
    camp = drawn_camp(capacity=2)
    residents = PriorityGroupFactory(programme=camp, rank=1)
    outsiders = [apply(camp) for _ in range(4)]
    insiders = [apply(camp, priority_group_id=residents.id) for _ in range(2)]
    close_window(camp)
    result = draw.run_draw(programme_id=camp.id, seed="s")
    assert sorted(result.seated) == sorted(i.id for i in insiders)
    assert {o.status for o in outsiders} == {S.WAITLISTED}


def test_last_terms_unsuccessful_families_come_first_when_the_programme_says_so():
    last_term = drawn_camp(capacity=0)
    unlucky_child = ChildFactory()
    EnrolmentFactory(programme=last_term, child=unlucky_child, status=S.WAITLISTED)
    camp = drawn_camp(capacity=1, previous_programme_id=last_term.id, previous_unsuccessful_first=True)
    others = [apply(camp) for _ in range(5)]
    unlucky = apply(camp, child=unlucky_child)
    close_window(camp)
    result = draw.run_draw(programme_id=camp.id, seed="any seed")
    assert result.seated == [unlucky.id]
    assert result.order[None][1:] == draw.recompute_draw("any seed", [o.id for o in others])


def test_a_seat_freed_after_the_draw_goes_to_the_next_in_draw_order():
    camp = drawn_camp(capacity=1)
    applications = [apply(camp) for _ in range(3)]
    close_window(camp)
    result = draw.run_draw(programme_id=camp.id, seed="x")
    by_id = {a.id: a for a in applications}
    winner, runner_up = by_id[result.order[None][0]], by_id[result.order[None][1]]
    services.cancel(actor=winner.child.guardianships[0].user, enrolment_id=winner.id)
    assert runner_up.status == S.CONFIRMED


def test_due_draws_run_once_when_the_window_closes(time_machine):
    camp = drawn_camp(capacity=1)
    applications = [apply(camp) for _ in range(3)]
    assert draw.close_due_draws() == 0  # still open
    time_machine.move_to(camp.registration_closes_at + timedelta(minutes=1))
    assert draw.close_due_draws() == 1
    seed = camp.draw_seed
    assert len(seed) == 32
    assert draw.close_due_draws() == 0
    assert camp.draw_seed == seed
    assert sorted(a.status for a in applications) == sorted([S.CONFIRMED, S.WAITLISTED, S.WAITLISTED])


def test_a_programme_cannot_be_drawn_twice():
    camp = drawn_camp()
    close_window(camp)
    draw.run_draw(programme_id=camp.id)
    with pytest.raises(draw.DrawNotPossible):
        draw.run_draw(programme_id=camp.id)


def test_the_jobs_tick_runs_due_draws_and_expires_offers(app, time_machine):
    camp = drawn_camp(capacity=1)
    [apply(camp) for _ in range(2)]
    time_machine.move_to(camp.registration_closes_at + timedelta(minutes=1))
    result = app.test_cli_runner().invoke(args=["jobs", "tick"])
    assert result.exit_code == 0, result.output
    assert "expire_offers: 0" in result.output and "close_due_draws: 1" in result.output
