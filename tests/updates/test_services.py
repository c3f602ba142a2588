"""Posting and withdrawing daily updates: who may, what is stored, who is told."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import current_app
from PIL import Image

from childcare.audit.models import AuditEntry
from childcare.db import db, unit_of_work
from childcare.enrolment.models import EnrolmentStatus
from childcare.errors import DomainError, Forbidden, NotFound
from childcare.notifications.models import Notification
from childcare.updates import photos, queries, services
from childcare.updates.models import DailyUpdate, UpdatePhoto
from tests.enrolment.factories import ChildFactory, DayProgrammeFactory, EnrolmentFactory
from tests.factories import CoordinatorFactory, UserFactory
from tests.updates.conftest import GPS_IFD, hold_shift, huge_png, jpeg_with_gps, make_camp, png_bytes


@pytest.fixture
def camp(app_ctx):
    return make_camp()


def stored_files() -> set[str]:
    folder = photos.upload_folder()
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def test_a_volunteer_of_the_session_posts_a_note_with_photos_stored_clean_outside_static(camp):
    update = services.post_update(actor=camp.volunteer, session_id=camp.session.id, note="  今天读了《小王子》 ",
                                  photos=[jpeg_with_gps(), io.BytesIO(png_bytes())])

    assert update.note == "今天读了《小王子》" and update.author_id == camp.volunteer.id
    assert [p.position for p in update.photos] == [0, 1]
    upload_root = Path(current_app.config["UPLOAD_FOLDER"]).resolve()
    static_root = Path(current_app.static_folder).resolve()
    for photo in update.photos:
        path = photos.path_of(photo.storage_key).resolve()
        assert path.is_relative_to(upload_root / "updates") and not path.is_relative_to(static_root)
        assert len(photo.storage_key) == 36 and photo.storage_key.endswith(".jpg")
        data = path.read_bytes()
        assert photo.size_bytes == len(data) and b"Exif" not in data
        with Image.open(path) as image:
            assert image.format == "JPEG" and (image.width, image.height) == (photo.width, photo.height)
            assert dict(image.getexif()) == {} and image.getexif().get_ifd(GPS_IFD) == {}


def test_posting_tells_each_guardian_of_the_session_once_in_the_inbox_and_is_audited(camp):
    second_child = ChildFactory(name="张小华", guardian=camp.guardian, photo_consent=True)
    EnrolmentFactory(programme=camp.programme, child=second_child)  # the same guardian, two children in the camp

    update = services.post_update(actor=camp.volunteer, session_id=camp.session.id, note="做了手工")

    told = db.session.scalars(sa.select(Notification).where(Notification.kind == "updates.posted")).all()
    assert sorted(n.user_id for n in told) == sorted([camp.guardian.id, camp.shy_guardian.id])
    assert all(n.link == f"/updates/#update-{update.id}" for n in told)
    entry = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "updates.posted")).one()
    assert entry.object_id == update.id and entry.community_id == camp.programme.community_id


def test_the_coordinator_of_the_community_may_post(camp):
    update = services.post_update(actor=camp.coordinator, session_id=camp.session.id, note="家长会通知")
    assert update.id


def test_a_volunteer_of_another_session_cannot_post_and_is_told_it_does_not_exist(camp):
    with pytest.raises(NotFound):
        services.post_update(actor=camp.stranger_volunteer, session_id=camp.session.id, note="hi")
    with pytest.raises(NotFound):
        services.post_update(actor=camp.guardian, session_id=camp.session.id, note="hi")


@pytest.mark.parametrize(("note", "code"), [("", "note_required"), ("   ", "note_required"),
                                            ("字" * 1001, "note_too_long")])
def test_the_note_is_required_and_short(camp, note, code):
    with pytest.raises(DomainError) as refused:
        services.post_update(actor=camp.volunteer, session_id=camp.session.id, note=note)
    assert refused.value.code == code and refused.value.field == "note"


def test_more_than_nine_photos_are_refused(camp):
    before = stored_files()
    with pytest.raises(DomainError) as refused:
        services.post_update(actor=camp.volunteer, session_id=camp.session.id, note="很多照片",
                             photos=[png_bytes(size=(8, 8))] * 10)
    assert refused.value.code == "too_many_photos" and refused.value.field == "photos"
    assert stored_files() == before
    assert db.session.scalar(sa.select(sa.func.count(UpdatePhoto.id))) == 0


def test_one_bad_photo_refuses_the_update_and_writes_no_file(camp):
    before = stored_files()
    with pytest.raises(DomainError) as refused, unit_of_work():
        services.post_update(actor=camp.volunteer, session_id=camp.session.id, note="第三张是坏的",
                             photos=[jpeg_with_gps(), png_bytes(), b"not an image at all"])
    assert refused.value.code == "invalid_photo" and refused.value.params["number"] == 3
    assert stored_files() == before
    assert db.session.scalar(sa.select(sa.func.count(DailyUpdate.id))) == 0


def test_a_pixel_bomb_is_refused_cleanly(camp):
    with pytest.raises(DomainError) as refused:
        services.post_update(actor=camp.volunteer, session_id=camp.session.id, note="炸弹",
                             photos=[huge_png()])
    assert refused.value.code == "invalid_photo"


def test_files_written_are_removed_when_the_transaction_rolls_back(camp):
    before = stored_files()

    class Boom(Exception):
        pass

    with pytest.raises(Boom), unit_of_work():
        update = services.post_update(actor=camp.volunteer, session_id=camp.session.id, note="回滚",
                                      photos=[jpeg_with_gps(), png_bytes()])
        written = {p.storage_key for p in update.photos}
        assert written <= stored_files()
        raise Boom()
    assert stored_files() == before


def test_files_stay_when_the_transaction_commits(camp):
    with unit_of_work():
        update = services.post_update(actor=camp.volunteer, session_id=camp.session.id, note="提交",
                                      photos=[png_bytes()])
    key = update.photos[0].storage_key
    db.session.rollback()  # a later, unrelated rollback must not touch committed photos
    assert key in stored_files()


def test_a_cancelled_session_takes_no_update(camp):
    camp.session.cancelled = True
    db.session.flush()
    with pytest.raises(DomainError) as refused:
        services.post_update(actor=camp.volunteer, session_id=camp.session.id, note="取消了")
    assert refused.value.code == "session_cancelled"


def test_the_author_withdraws_and_families_no_longer_see_it(camp):
    update = services.post_update(actor=camp.volunteer, session_id=camp.session.id, note="撤回我",
                                  photos=[png_bytes()])
    assert [u.id for u in queries.feed_for_guardian(camp.guardian).items] == [update.id]

    services.withdraw_update(actor=camp.volunteer, update_id=update.id)

    assert update.withdrawn_at is not None
    assert queries.feed_for_guardian(camp.guardian).items == []
    with pytest.raises(NotFound):
        queries.photo_for_viewer(camp.guardian, update.photos[0].id)
    assert queries.photo_for_viewer(camp.coordinator, update.photos[0].id) is update.photos[0]
    _, staff_view = queries.updates_for_staff(camp.volunteer, camp.session.id)
    assert [u.id for u in staff_view] == [update.id]  # kept for the record
    assert db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.object_id == update.id,
                                                                 AuditEntry.action == "updates.withdrawn")).one()


def test_a_coordinator_withdraws_a_volunteers_update_but_another_volunteer_cannot(camp):
    update = services.post_update(actor=camp.volunteer, session_id=camp.session.id, note="别人的")
    hold_shift(camp.session, camp.stranger_volunteer)  # now also staffs the session, but is not the author
    with pytest.raises(Forbidden):
        services.withdraw_update(actor=camp.stranger_volunteer, update_id=update.id)
    with pytest.raises(NotFound):
        services.withdraw_update(actor=camp.guardian, update_id=update.id)
    services.withdraw_update(actor=camp.coordinator, update_id=update.id)
    assert update.withdrawn_at is not None


def test_the_reminder_lists_the_children_without_photo_consent(camp):
    names = [c.name for c in queries.children_without_photo_consent(camp.session)]
    assert names == ["赵小红"]


def test_day_mode_guardians_see_only_the_session_they_booked(app_ctx):
    programme = DayProgrammeFactory()
    first, second = programme.sessions[0], programme.sessions[1]
    coordinator = CoordinatorFactory(community=programme.community)
    booked = UserFactory()
    EnrolmentFactory(programme=programme, session=first, child=ChildFactory(guardian=booked))
    waiting = UserFactory()
    EnrolmentFactory(programme=programme, session=first, child=ChildFactory(guardian=waiting),
                     status=EnrolmentStatus.WAITLISTED)

    on_first = services.post_update(actor=coordinator, session_id=first.id, note="第一天")
    services.post_update(actor=coordinator, session_id=second.id, note="第二天")

    assert [u.id for u in queries.feed_for_guardian(booked).items] == [on_first.id]
    assert queries.feed_for_guardian(waiting).items == []
