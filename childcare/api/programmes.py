"""Programmes over the API: public lists and details, coordinators create and change them."""

from __future__ import annotations

from flask import request

from childcare.accounts.models import User
from childcare.accounts.permissions import can_manage_community
from childcare.api.auth import authenticate_request
from childcare.api.schemas import (
    EnrolmentListQuery,
    GuardianContactOut,
    ManagedEnrolmentOut,
    Page,
    PriorityGroupOut,
    ProgrammeCreate,
    ProgrammeDetail,
    ProgrammeOut,
    ProgrammeQuery,
    ProgrammeUpdate,
    SessionOut,
)
from childcare.api.views import endpoint, respond
from childcare.db import db, unit_of_work, utcnow
from childcare.enrolment import queries as enrolment_queries
from childcare.enrolment.queries import SeatSummary
from childcare.enrolment.services import Registration, registration_at
from childcare.errors import NotFound
from childcare.programmes import queries, services
from childcare.programmes.models import EnrolmentMode, Programme, ProgrammeSession


def _seats(programmes: list[Programme]) -> dict[int, tuple[int | None, int]]:
    """programme id → (seats_left, waitlist_length); day mode adds up its sessions' waiting lists."""
    whole = enrolment_queries.seat_summary(p.id for p in programmes if p.mode == EnrolmentMode.WHOLE)
    out: dict[int, tuple[int | None, int]] = {pid: (s.seats_left, s.waitlist_length) for pid, s in whole.items()}
    day_ids = [p.id for p in programmes if p.mode == EnrolmentMode.DAY]
    if day_ids:
        sessions = db.session.execute(db.select(ProgrammeSession.id, ProgrammeSession.programme_id)
                                      .where(ProgrammeSession.programme_id.in_(day_ids))).all()
        summary = enrolment_queries.session_seat_summary(sid for sid, _pid in sessions)
        for pid in day_ids:
            out[pid] = (None, sum(summary[sid].waitlist_length for sid, p in sessions if p == pid and sid in summary))
    return out


def programme_out(programme: Programme, seats: tuple[int | None, int], cls: type = ProgrammeOut, **extra):
    return cls(id=programme.id, community_id=programme.community_id, venue_id=programme.venue_id,
               kind=programme.kind, title=programme.title, description=programme.description,
               capacity=programme.capacity, mode=programme.mode, allocation=programme.allocation,
               promotion=programme.promotion, needs_approval=programme.needs_approval,
               starts_on=programme.starts_on, ends_on=programme.ends_on, weekdays=programme.weekday_list,
               start_time=programme.start_time, end_time=programme.end_time, min_age=programme.min_age,
               max_age=programme.max_age, min_grade=programme.min_grade, max_grade=programme.max_grade,
               fee_cents=programme.fee_cents, registration_opens_at=programme.registration_opens_at,
               registration_closes_at=programme.registration_closes_at, seats_left=seats[0],
               waitlist_length=seats[1], registration=registration_at(programme, utcnow()),
               priority_groups=[PriorityGroupOut(id=g.id, name=g.name, rank=g.rank)
                                for g in sorted(programme.priority_groups, key=lambda g: g.rank)],
               previous_programme_id=programme.previous_programme_id,
               previous_unsuccessful_first=programme.previous_unsuccessful_first,
               themes=programme.theme_list, excluded_dates=programme.excluded_date_list,
               offer_hours=programme.offer_hours, published=programme.published,
               drawn_at=programme.drawn_at, draw_seed=programme.draw_seed,
               **{key: getattr(programme, key) for key in services.STAFFING_DEFAULTS},
               **extra)


def session_out(item: ProgrammeSession, summary: SeatSummary | None) -> SessionOut:
    return SessionOut(id=item.id, programme_id=item.programme_id, on_date=item.on_date, starts_at=item.starts_at,
                      ends_at=item.ends_at, venue_id=item.venue_id, capacity=item.capacity,
                      cancelled=item.cancelled, note=item.note,
                      seats_left=summary.seats_left if summary is not None else None)


def _sessions(programme: Programme) -> list[SessionOut]:
    sessions = queries.sessions_of(programme.id)
    summary = (enrolment_queries.session_seat_summary(s.id for s in sessions)
               if programme.mode == EnrolmentMode.DAY else {})
    return [session_out(s, summary.get(s.id)) for s in sessions]


def _visible(programme_id: int) -> Programme:
    """A published programme for anyone; an unpublished one only for a token of its community's coordinator."""
    programme = db.session.get(Programme, programme_id)
    if programme is None:
        raise NotFound()
    if not programme.published:
        actor = authenticate_request() if "Authorization" in request.headers else None
        if actor is None or not can_manage_community(actor, programme.community_id):
            raise NotFound()
    return programme


@endpoint("/programmes", "GET", summary="List published programmes", tag="programmes", auth=False,
          query=ProgrammeQuery, response=Page[ProgrammeOut])
def list_programmes(query: ProgrammeQuery):
    """Published programmes, soonest first, with seats left (whole mode) and the waiting list's length.
    `open=true` keeps those whose registration window includes now."""
    with unit_of_work():
        programmes = queries.published_programmes([query.community_id] if query.community_id else None,
                                                  with_priority_groups=True)
        if query.kind is not None:
            programmes = [p for p in programmes if p.kind == query.kind]
        if query.open is not None:
            now = utcnow()
            programmes = [p for p in programmes if (registration_at(p, now) is Registration.OPEN) == query.open]
        seats = _seats(programmes)
        items = [programme_out(p, seats.get(p.id, (None, 0))) for p in programmes]
    return respond(Page[ProgrammeOut](items=items))


@endpoint("/programmes", "POST", summary="Create a programme", tag="programmes", body=ProgrammeCreate,
          response=ProgrammeDetail, status=201, errors=(403, 404, 422))
def create_programme(actor: User, body: ProgrammeCreate):
    """For a coordinator of the community (or an administrator). Sessions are planned from the dates, the
    weekdays and the school calendar (school days for an after-school class) and returned with it."""
    fields = {key: getattr(body, key) for key in body.model_fields_set}
    with unit_of_work():
        programme = services.create_programme(actor=actor, **fields)
        answer = programme_out(programme, _seats([programme]).get(programme.id, (None, 0)), ProgrammeDetail,
                               sessions=_sessions(programme))
    return respond(answer, 201)


@endpoint("/programmes/<int:programme_id>", "GET", summary="One programme", tag="programmes", auth=False,
          response=ProgrammeOut)
def get_programme(programme_id: int):
    """A published programme with seats left and the waiting list's length."""
    with unit_of_work():
        programme = _visible(programme_id)
        answer = programme_out(programme, _seats([programme]).get(programme.id, (None, 0)))
    return respond(answer)


@endpoint("/programmes/<int:programme_id>", "PATCH", summary="Change a programme", tag="programmes",
          body=ProgrammeUpdate, response=ProgrammeOut, errors=(403, 422))
def update_programme(actor: User, programme_id: int, body: ProgrammeUpdate):
    """Only the fields sent change. A new `capacity` goes through the seat service, which confirms or offers
    seats to the waiting list at once; a capacity below the seats held is refused (capacity_below_taken)."""
    fields = {key: getattr(body, key) for key in body.model_fields_set}
    has_capacity = "capacity" in fields
    capacity = fields.pop("capacity", None)
    with unit_of_work():
        programme = None
        if fields:
            programme = services.update_programme(actor=actor, programme_id=programme_id, **fields)
        if has_capacity:
            programme = _change_capacity(actor, programme_id, capacity)
        if programme is None:
            programme = services.get_programme_for_manager(actor=actor, programme_id=programme_id)
        answer = programme_out(programme, _seats([programme]).get(programme.id, (None, 0)))
    return respond(answer)


def _change_capacity(actor: User, programme_id: int, capacity: int) -> Programme:
    from childcare.enrolment import services as enrolment_services

    result = enrolment_services.change_capacity(actor=actor, programme_id=programme_id, capacity=capacity)
    return result if isinstance(result, Programme) else db.session.get(Programme, programme_id)


@endpoint("/programmes/<int:programme_id>/sessions", "GET", summary="A programme's sessions", tag="programmes",
          auth=False, response=Page[SessionOut])
def list_sessions(programme_id: int):
    """Every session in time order; in day mode each has its own seats left."""
    with unit_of_work():
        items = _sessions(_visible(programme_id))
    return respond(Page[SessionOut](items=items))


@endpoint("/programmes/<int:programme_id>/enrolments", "GET", summary="A programme's enrolments",
          tag="programmes", query=EnrolmentListQuery, response=Page[ManagedEnrolmentOut], errors=(403,))
def list_programme_enrolments(actor: User, programme_id: int, query: EnrolmentListQuery):
    """For the coordinators of its community: seat holders, then the waiting list in order (with positions),
    then ended enrolments; `status` filters."""
    with unit_of_work():
        rows = enrolment_queries.enrolments_for_manager(actor, programme_id,
                                                        [query.status] if query.status else None)
        items = [ManagedEnrolmentOut(id=e.id, programme_id=e.programme_id, session_id=e.session_id,
                                     child_id=e.child_id, child_name=e.child.name, status=e.status,
                                     position=position, offer_expires_at=e.offer_expires_at,
                                     created_at=e.created_at, ended_at=e.ended_at,
                                     priority_group_id=e.priority_group_id, draw_rank=e.draw_rank,
                                     guardians=[GuardianContactOut(name=g.user.name, relation=g.relation,
                                                                   phone=g.user.phone)
                                                for g in e.child.guardianships])
                 for e, position in rows]
    return respond(Page[ManagedEnrolmentOut](items=items))
