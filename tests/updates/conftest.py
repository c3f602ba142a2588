"""Daily update stories: a camp with sessions, its volunteer, families with and without photo consent; images."""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from datetime import date

import pytest
from PIL import Image

from childcare.accounts.models import Role, User
from childcare.children.models import Child
from childcare.db import db
from childcare.programmes.models import Programme, ProgrammeSession
from childcare.volunteers.models import Shift, ShiftStatus
from tests.enrolment.factories import ChildFactory, EnrolmentFactory, ProgrammeWithSessionsFactory
from tests.factories import CoordinatorFactory, UserFactory

GPS_IFD = 0x8825


@dataclass
class Camp:
    """A camp with three sessions; a volunteer holds a post in the first one."""

    programme: Programme
    session: ProgrammeSession
    other_session: ProgrammeSession
    volunteer: User
    stranger_volunteer: User
    coordinator: User
    guardian: User
    child: Child
    shy_guardian: User
    shy_child: Child
    outsider: User


def hold_shift(session: ProgrammeSession, volunteer: User) -> Shift:
    shift = Shift(session_id=session.id, volunteer_id=volunteer.id, status=ShiftStatus.HELD)
    db.session.add(shift)
    db.session.commit()
    return shift


def make_camp() -> Camp:
    # Sessions today, tomorrow and the day after: recent enough to be offered for posting.
    programme = ProgrammeWithSessionsFactory(title="七色花成长营地", starts_on=date.today())
    first, second = programme.sessions[0], programme.sessions[1]
    volunteer = UserFactory(name="李老师", roles=[Role.VOLUNTEER])
    stranger = UserFactory(name="王同学", roles=[Role.VOLUNTEER])
    hold_shift(first, volunteer)
    hold_shift(second, stranger)  # serves the same camp, but not the first session
    guardian = UserFactory(name="张妈妈")
    child = ChildFactory(name="张小明", guardian=guardian, photo_consent=True)
    EnrolmentFactory(programme=programme, child=child)
    shy_guardian = UserFactory(name="赵爸爸")
    shy_child = ChildFactory(name="赵小红", guardian=shy_guardian, photo_consent=False)
    EnrolmentFactory(programme=programme, child=shy_child)
    outsider = UserFactory(name="陈奶奶")
    ChildFactory(name="陈小刚", guardian=outsider)
    coordinator = CoordinatorFactory(community=programme.community)
    return Camp(programme, first, second, volunteer, stranger, coordinator, guardian, child, shy_guardian,
                shy_child, outsider)


@pytest.fixture
def camp(app) -> Camp:
    with app.app_context():
        return make_camp()


def jpeg_with_gps(size: tuple[int, int] = (640, 480), orientation: int | None = None) -> bytes:
    """A JPEG carrying a GPS position (天安门 nearby), a camera make and maybe an orientation."""
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    if orientation:
        exif[0x0112] = orientation
    gps = exif.get_ifd(GPS_IFD)
    gps.update({1: "N", 2: (39.0, 54.0, 0.0), 3: "E", 4: (116.0, 23.0, 0.0)})
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "JPEG", exif=exif.tobytes(), comment=b"secret comment")
    return out.getvalue()


def png_bytes(size: tuple[int, int] = (300, 200), mode: str = "RGBA") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (10, 120, 200, 128) if mode == "RGBA" else (10, 120, 200)).save(out, "PNG")
    return out.getvalue()


def huge_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny file that claims enormous dimensions (a pixel bomb): only its header is real."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + chunk(b"IEND", b""))
