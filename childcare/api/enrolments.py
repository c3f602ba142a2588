"""A guardian's enrolments and leave over the API; enrolling answers 201, a repeat 200 with the same enrolments."""

from __future__ import annotations

import json
from datetime import timedelta

from flask import current_app, jsonify

from childcare.accounts.models import User
from childcare.api import idempotency
from childcare.api.schemas import (
    EnrolmentBatch,
    EnrolmentBrief,
    EnrolmentCreate,
    EnrolmentOut,
    LeaveBatch,
    LeaveCreate,
    LeaveOut,
    Page,
    PriorityGroupChange,
    ScheduleItem,
    SchedulePage,
    ScheduleQuery,
)
from childcare.api.views import endpoint, respond
from childcare.db import unit_of_work
from childcare.enrolment import queries, services
from childcare.enrolment.models import Enrolment, EnrolmentStatus, Leave
from childcare.i18n import local_today


def _positions(enrolments: list[Enrolment]) -> dict[int, int]:
    if not any(e.status == EnrolmentStatus.WAITLISTED for e in enrolments):
        return {}  # the common case asks nothing more of the database
    return queries.positions_of(enrolments)


def enrolment_out(enrolment: Enrolment, position: int | None) -> EnrolmentOut:
    return EnrolmentOut(id=enrolment.id, programme_id=enrolment.programme_id, session_id=enrolment.session_id,
                        child_id=enrolment.child_id, status=enrolment.status, position=position,
                        offer_expires_at=enrolment.offer_expires_at, created_at=enrolment.created_at,
                        ended_at=enrolment.ended_at, priority_group_id=enrolment.priority_group_id,
                        draw_rank=enrolment.draw_rank)


def _replay(answer: tuple[int, dict]):
    response = jsonify(answer[1])
    response.status_code = 200  # a repeat: the first answer again
    return response


@endpoint("/enrolments", "POST", summary="Enrol children", tag="enrolments", body=EnrolmentCreate,
          response=EnrolmentBatch, status=201, errors=(404, 422), idempotency_key=True,
          reads_first=lambda body: services.first_read_of_sign_up(body.programme_id, body.child_ids,
                                                                  body.session_ids))
def create_enrolments(actor: User, body: EnrolmentCreate):
    """Each child gets a seat (`confirmed`, or `pending` when the programme needs approval), or a place on the
    waiting list (`waitlisted`, with its 1-based `position`). Day mode books `session_ids`. With
    `all_or_none`, either every child gets a seat or all wait. A child who already holds a live enrolment
    gets it back (200). A rule that refuses answers 422 with its code (registration_closed, out_of_age_range,
    overlap, ...); a seat lock not had in time answers 503 busy with Retry-After."""
    key = idempotency.request_key()
    request_hash = idempotency.fingerprint(body.model_dump(mode="json")) if key else ""
    try:
        with unit_of_work(expire_on_commit=False):  # the answer is made of plain values, read before the commit
            if key:
                previous = idempotency.previous_answer(actor, key, request_hash)
                if previous is not None:
                    return _replay(previous)
            result = services.sign_up(actor=actor, programme_id=body.programme_id, child_ids=body.child_ids,
                                      session_ids=body.session_ids, all_or_none=body.all_or_none,
                                      priority_group_id=body.priority_group_id)
            enrolments = result.enrolments
            # Places of enrolments handed back again are looked up; new places come with the result.
            positions = {**_positions([e for e in enrolments if e.id not in result.created_ids]), **result.positions}
            status = 201 if result.created_ids else 200
            briefs = [(e.id, e.child_id, e.session_id, e.status) for e in enrolments]
            if key:
                answer = _batch(briefs, positions)
                idempotency.remember(actor, key, request_hash, status, answer)
    except idempotency.KeyRaced:
        # The same key committed first by a twin request: answer what it answered.
        with unit_of_work():
            previous = idempotency.previous_answer(actor, key, request_hash)
        if previous is None:
            raise
        return _replay(previous)
    if not key:
        answer = _batch(briefs, positions)  # after the commit: the seat lock is not held while answering
    return current_app.response_class(json.dumps(answer), status=status, mimetype="application/json")


def _batch(briefs: list[tuple], positions: dict[int, int]) -> dict:
    return EnrolmentBatch(enrolments=[
        EnrolmentBrief(id=id_, child_id=child_id, session_id=session_id, status=status, position=positions.get(id_))
        for id_, child_id, session_id, status in briefs]).model_dump(mode="json")


@endpoint("/enrolments", "GET", summary="My children's enrolments", tag="enrolments",
          response=Page[EnrolmentOut])
def list_enrolments(actor: User):
    """Every enrolment of the account's children, newest first, ended ones included."""
    with unit_of_work():
        enrolments = queries.enrolments_of_guardian(actor)
        positions = _positions(enrolments)
        items = [enrolment_out(e, positions.get(e.id)) for e in enrolments]
    return respond(Page[EnrolmentOut](items=items))


def _one(enrolment: Enrolment):
    return respond(enrolment_out(enrolment, _positions([enrolment]).get(enrolment.id)))


@endpoint("/enrolments/<int:enrolment_id>/cancel", "POST", summary="Cancel an enrolment", tag="enrolments",
          response=EnrolmentOut, errors=(409, 422))
def cancel_enrolment(actor: User, enrolment_id: int):
    """The seat freed goes to the waiting list at once (confirmed or offered, as the programme says)."""
    with unit_of_work():
        return _one(services.cancel(actor=actor, enrolment_id=enrolment_id))


@endpoint("/enrolments/<int:enrolment_id>/accept", "POST", summary="Accept an offered seat", tag="enrolments",
          response=EnrolmentOut, errors=(409, 422))
def accept_offer(actor: User, enrolment_id: int):
    """Before `offer_expires_at`; afterwards 422 offer_expired."""
    with unit_of_work():
        return _one(services.accept_offer(actor=actor, enrolment_id=enrolment_id))


@endpoint("/enrolments/<int:enrolment_id>/decline", "POST", summary="Decline an offered seat", tag="enrolments",
          response=EnrolmentOut, errors=(409, 422))
def decline_offer(actor: User, enrolment_id: int):
    """The seat goes to the next child at once."""
    with unit_of_work():
        return _one(services.decline_offer(actor=actor, enrolment_id=enrolment_id))


@endpoint("/enrolments/<int:enrolment_id>/priority-group", "POST", summary="Set a child's priority group",
          tag="enrolments", body=PriorityGroupChange, response=Page[EnrolmentOut], errors=(409, 422))
def change_priority_group(actor: User, enrolment_id: int, body: PriorityGroupChange):
    """For the coordinators of the programme's community: the child's live enrolments in the programme (every
    session booked, in day mode) move to the group, and the waiting lists follow at once; the family is told.
    Answers the enrolments changed (none when the child was in that group already)."""
    with unit_of_work():
        changed = services.change_priority_group(actor=actor, enrolment_id=enrolment_id,
                                                 priority_group_id=body.priority_group_id)
        positions = _positions(changed)
        items = [enrolment_out(e, positions.get(e.id)) for e in changed]
    return respond(Page[EnrolmentOut](items=items))


@endpoint("/leave", "POST", summary="Ask for leave (请假)", tag="enrolments", body=LeaveCreate,
          response=LeaveBatch, status=201, errors=(404, 422))
def request_leave(actor: User, body: LeaveCreate):
    """Tell the class in advance that the child will miss sessions in which the child holds a seat."""
    with unit_of_work():
        leaves = services.request_leave(actor=actor, child_id=body.child_id, session_ids=body.session_ids,
                                        reason=body.reason)
        answer = LeaveBatch(leaves=[leave_out(leave) for leave in leaves])
    return respond(answer, 201)


def leave_out(leave: Leave) -> LeaveOut:
    return LeaveOut(id=leave.id, child_id=leave.child_id, session_id=leave.session_id, reason=leave.reason,
                    created_at=leave.created_at, cancelled_at=leave.cancelled_at)


@endpoint("/leave/<int:leave_id>/cancel", "POST", summary="Withdraw a leave", tag="enrolments", response=LeaveOut,
          errors=(422,))
def cancel_leave(actor: User, leave_id: int):
    """Before the session starts (afterwards 422 session_unavailable): the child is expected again. A leave already
    withdrawn answers as it is."""
    with unit_of_work():
        return respond(leave_out(services.cancel_leave(actor=actor, leave_id=leave_id)))


@endpoint("/schedule", "GET", summary="My children's schedule", tag="enrolments", query=ScheduleQuery,
          response=SchedulePage)
def show_schedule(actor: User, query: ScheduleQuery):
    """The sessions, in time order, on `days` days from `from` (today by default) in which the account's children
    hold a seat (confirmed or pending), one item per child and session, each with the child's standing leave.
    `next` is the `from` that shows the following sessions, however far ahead (null when there are none)."""
    start = queries.schedule_start(query.from_, local_today())
    end = start + timedelta(days=query.days - 1)
    with unit_of_work():
        rows = queries.schedule_of_guardian(actor, start, end)
        items = [schedule_item(row) for row in rows]
        later = queries.next_schedule_date(actor, after=end)
    return respond(SchedulePage(items=items, next=later))


def schedule_item(row: queries.ScheduleEntry) -> ScheduleItem:
    session, child, enrolment, leave = row
    venue = session.venue or session.programme.venue
    return ScheduleItem(session_id=session.id, programme_id=session.programme_id,
                        programme_title=session.programme.title, on_date=session.on_date,
                        starts_at=session.starts_at, ends_at=session.ends_at, venue=venue.name if venue else None,
                        cancelled=session.cancelled, note=session.note, child_id=child.id, child_name=child.name,
                        enrolment_id=enrolment.id, status=enrolment.status,
                        leave=leave_out(leave) if leave is not None else None)
