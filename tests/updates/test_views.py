"""The screens: volunteers post with photos, families read the feed, photos go only to those allowed."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from childcare.db import db
from childcare.updates.models import DailyUpdate, UpdatePhoto
from childcare.updates.photos import new_storage_key
from tests.conftest import csrf_token_from
from tests.factories import AdminFactory, CoordinatorFactory
from tests.updates.conftest import GPS_IFD, huge_png, jpeg_with_gps, png_bytes


@pytest.fixture(autouse=True)
def english(client):
    client.set_cookie("lang", "en")


def text(response) -> str:
    return response.get_data(as_text=True)


def post_update(client, session_id: int, note: str, files: list[tuple[bytes, str]] = ()):
    url = f"/updates/sessions/{session_id}"
    token = csrf_token_from(client, "/updates/")
    data = {"note": note, "csrf_token": token, "photos": [(io.BytesIO(b), name) for b, name in files]}
    return client.post(url, data=data, content_type="multipart/form-data")


def updates_of(session_id: int) -> list[DailyUpdate]:
    return list(db.session.scalars(sa.select(DailyUpdate).where(DailyUpdate.session_id == session_id)
                                   .order_by(DailyUpdate.id).execution_options(populate_existing=True)))


def photo_count() -> int:
    return db.session.scalar(sa.select(sa.func.count(UpdatePhoto.id)))


def test_the_volunteer_sees_the_consent_reminder_right_above_the_photo_input(client, login_as, camp):
    login_as(camp.volunteer)
    page = text(client.get(f"/updates/sessions/{camp.session.id}"))

    assert "No photos of these children" in page and "赵小红" in page
    assert "张小明" not in page  # only the children WITHOUT consent are named
    reminder, photo_input = page.index('data-testid="consent-reminder"'), page.index('type="file"')
    assert reminder < photo_input
    assert 'enctype="multipart/form-data"' in page
    assert "style=" not in page


def test_a_volunteer_posts_photos_and_the_guardian_sees_them_without_exif(client, login_as, camp, app):
    login_as(camp.volunteer)
    response = post_update(client, camp.session.id, "今天读了绘本，还做了手工。",
                           [(jpeg_with_gps(), "IMG_0001.jpg"), (png_bytes(), "drawing.png")])
    assert response.status_code == 302, text(response)

    [update] = updates_of(camp.session.id)
    assert len(update.photos) == 2
    for photo in update.photos:
        path = Path(app.config["UPLOAD_FOLDER"]) / "updates" / photo.storage_key
        assert path.is_file()
        assert not path.resolve().is_relative_to(Path(app.static_folder).resolve())
        assert "IMG_0001" not in photo.storage_key

    login_as(camp.guardian)
    feed = text(client.get("/updates/"))
    assert "今天读了绘本" in feed and f"/updates/photos/{update.photos[0].id}" in feed

    served = client.get(f"/updates/photos/{update.photos[0].id}")
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert "private" in served.headers["Cache-Control"] and "public" not in served.headers["Cache-Control"]
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert b"Exif" not in served.data
    with Image.open(io.BytesIO(served.data)) as image:
        assert dict(image.getexif()) == {} and image.getexif().get_ifd(GPS_IFD) == {}


def test_another_guardian_gets_404_for_the_photo_and_an_empty_feed(client, login_as, camp):
    login_as(camp.volunteer)
    post_update(client, camp.session.id, "照片", [(png_bytes(), "a.png")])
    photo = updates_of(camp.session.id)[0].photos[0]

    login_as(camp.outsider)
    assert client.get(f"/updates/photos/{photo.id}").status_code == 404
    assert "照片" not in text(client.get("/updates/"))
    assert client.get(f"/updates/sessions/{camp.session.id}").status_code == 404


def test_a_volunteer_not_serving_the_session_can_neither_post_nor_see_nor_fetch_photos(client, login_as, camp):
    login_as(camp.volunteer)
    post_update(client, camp.session.id, "只给本课次", [(png_bytes(), "a.png")])
    photo = updates_of(camp.session.id)[0].photos[0]

    login_as(camp.stranger_volunteer)
    assert post_update(client, camp.session.id, "冒名").status_code == 404
    assert client.get(f"/updates/sessions/{camp.session.id}").status_code == 404
    assert client.get(f"/updates/photos/{photo.id}").status_code == 404
    assert len(updates_of(camp.session.id)) == 1


def test_staff_of_the_session_and_the_coordinator_fetch_photos(client, login_as, camp):
    login_as(camp.volunteer)
    post_update(client, camp.session.id, "给工作人员看", [(png_bytes(), "a.png")])
    photo = updates_of(camp.session.id)[0].photos[0]
    assert client.get(f"/updates/photos/{photo.id}").status_code == 200
    login_as(camp.coordinator)
    assert client.get(f"/updates/photos/{photo.id}").status_code == 200
    page = text(client.get(f"/updates/sessions/{camp.session.id}"))
    assert "给工作人员看" in page and "Withdraw this update" in page


def test_a_text_file_named_jpg_is_refused_on_the_form_and_nothing_is_saved(client, login_as, camp):
    login_as(camp.volunteer)
    response = post_update(client, camp.session.id, "假照片", [(b"hello, I am text\n" * 50, "photo.jpg")])

    assert response.status_code == 422
    assert "Photo 1 is not a JPEG, PNG or WebP picture." in text(response)
    assert updates_of(camp.session.id) == [] and photo_count() == 0


def test_ten_photos_are_refused(client, login_as, camp):
    login_as(camp.volunteer)
    small = png_bytes(size=(8, 8))
    response = post_update(client, camp.session.id, "十张", [(small, f"{n}.png") for n in range(10)])
    assert response.status_code == 422 and "at most 9 photos" in text(response)
    assert updates_of(camp.session.id) == []


def test_a_huge_dimension_image_is_refused_without_a_500(client, login_as, camp):
    login_as(camp.volunteer)
    response = post_update(client, camp.session.id, "大图", [(huge_png(), "big.png")])
    assert response.status_code == 422 and "too many pixels" in text(response)
    assert updates_of(camp.session.id) == []


def test_an_empty_note_is_refused_on_the_form(client, login_as, camp):
    login_as(camp.volunteer)
    response = post_update(client, camp.session.id, "   ", [(png_bytes(), "a.png")])
    assert response.status_code == 422 and "This field is required." in text(response)
    assert photo_count() == 0


def test_a_request_over_the_size_limit_gets_a_friendly_page(client, login_as, camp, app):
    login_as(camp.volunteer)
    too_big = b"\xff\xd8" + b"\x00" * (app.config["MAX_CONTENT_LENGTH"] + 10)
    response = post_update(client, camp.session.id, "太大", [(too_big, "big.jpg")])
    assert response.status_code == 413 and "The file you sent is too large." in text(response)


def test_the_author_withdraws_from_the_session_page(client, login_as, camp):
    login_as(camp.volunteer)
    post_update(client, camp.session.id, "发错了", [(png_bytes(), "a.png")])
    update = updates_of(camp.session.id)[0]
    token = csrf_token_from(client, f"/updates/sessions/{camp.session.id}")
    response = client.post(f"/updates/{update.id}/withdraw", data={"csrf_token": token})
    assert response.status_code == 302

    login_as(camp.guardian)
    assert "发错了" not in text(client.get("/updates/"))
    assert client.get(f"/updates/photos/{update.photos[0].id}").status_code == 404


def test_a_guardian_cannot_withdraw(client, login_as, camp):
    login_as(camp.volunteer)
    post_update(client, camp.session.id, "保留", [])
    update = updates_of(camp.session.id)[0]
    login_as(camp.guardian)
    token = csrf_token_from(client, "/updates/")
    assert client.post(f"/updates/{update.id}/withdraw", data={"csrf_token": token}).status_code == 404
    assert updates_of(camp.session.id)[0].withdrawn_at is None


def test_the_feed_offers_the_volunteer_the_sessions_they_staff(client, login_as, camp):
    login_as(camp.volunteer)
    page = text(client.get("/updates/"))
    assert f"/updates/sessions/{camp.session.id}" in page
    assert f"/updates/sessions/{camp.other_session.id}" not in page


def _add_updates(camp, count: int) -> None:
    for n in range(count):
        update = DailyUpdate(session_id=camp.session.id, author_id=camp.volunteer.id, note=f"第{n}条")
        for position in range(2):
            update.photos.append(UpdatePhoto(position=position, storage_key=new_storage_key(),
                                             width=10, height=10, size_bytes=100))
        db.session.add(update)
    db.session.commit()


def test_the_feed_makes_the_same_number_of_queries_for_2_and_for_10_updates(client, login_as, camp, count_queries):
    login_as(camp.guardian)
    _add_updates(camp, 2)
    client.get("/updates/")  # warm up: the first request loads things only once per process
    with count_queries() as two:
        page = text(client.get("/updates/"))
    assert page.count('data-testid="update"') == 2
    _add_updates(camp, 8)
    with count_queries() as ten:
        page = text(client.get("/updates/"))
    assert page.count('data-testid="update"') == 10
    assert ten() == two() and ten() <= 10


def test_the_feed_is_paginated_by_twenty(client, login_as, camp):
    login_as(camp.guardian)
    _add_updates(camp, 21)
    first = text(client.get("/updates/"))
    assert first.count('data-testid="update"') == 20 and "page=2" in first
    second = text(client.get("/updates/?page=2"))
    assert second.count('data-testid="update"') == 1 and re.search(r"第0条", second)


def test_the_nav_links_daily_updates(client, login_as, camp):
    login_as(camp.guardian)
    assert 'href="/updates/"' in text(client.get("/children/"))


def test_photo_headers_keep_it_private_and_a_coordinator_elsewhere_gets_404(client, login_as, camp):
    login_as(camp.volunteer)
    post_update(client, camp.session.id, "私密", [(png_bytes(), "a.png")])
    photo = updates_of(camp.session.id)[0].photos[0]

    login_as(camp.guardian)
    served = client.get(f"/updates/photos/{photo.id}")
    assert served.headers["Cache-Control"].replace(" ", "") in ("private,max-age=3600", "max-age=3600,private")
    assert served.headers["Content-Type"] == "image/jpeg"

    login_as(CoordinatorFactory())  # coordinates another community
    assert client.get(f"/updates/photos/{photo.id}").status_code == 404
    login_as(AdminFactory())
    assert client.get(f"/updates/photos/{photo.id}").status_code == 200


def test_anonymous_visitors_are_sent_to_log_in(client, camp):
    assert client.get("/updates/photos/1").status_code == 302
    assert client.get("/updates/").status_code == 302
