"""Photos are judged by their content and stored as clean JPEGs: no EXIF, no GPS, no comments, no profile."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from childcare.updates import photos
from childcare.updates.photos import InvalidPhoto, clean_photo
from tests.updates.conftest import GPS_IFD, huge_png, jpeg_with_gps, png_bytes


def test_the_test_jpeg_really_carries_gps():
    with Image.open(io.BytesIO(jpeg_with_gps())) as image:
        exif = image.getexif()
        assert exif.get_ifd(GPS_IFD)[1] == "N"
        assert exif[0x010F] == "TestCam"


def test_a_jpeg_with_gps_comes_out_without_any_metadata():
    cleaned = clean_photo(jpeg_with_gps())

    with Image.open(io.BytesIO(cleaned.data)) as image:
        assert image.format == "JPEG"
        assert dict(image.getexif()) == {}
        assert image.getexif().get_ifd(GPS_IFD) == {}
        assert "exif" not in image.info and "icc_profile" not in image.info and "comment" not in image.info
    assert b"Exif" not in cleaned.data
    assert b"secret comment" not in cleaned.data
    assert b"TestCam" not in cleaned.data


def test_the_orientation_is_applied_before_the_exif_is_dropped():
    # Orientation 6: the camera was turned; the stored picture is upright (portrait) and says nothing more.
    cleaned = clean_photo(jpeg_with_gps(size=(400, 300), orientation=6))
    assert (cleaned.width, cleaned.height) == (300, 400)


def test_a_png_is_stored_as_jpeg_with_transparency_on_white():
    cleaned = clean_photo(png_bytes())
    with Image.open(io.BytesIO(cleaned.data)) as image:
        assert image.format == "JPEG" and image.mode == "RGB"
        assert image.size == (300, 200)


def test_a_webp_is_accepted():
    out = io.BytesIO()
    Image.new("RGB", (50, 40), (1, 2, 3)).save(out, "WEBP")
    assert clean_photo(out.getvalue()).width == 50


def test_large_photos_are_scaled_to_2048_on_the_long_side():
    out = io.BytesIO()
    Image.new("RGB", (4096, 1024), (90, 90, 90)).save(out, "JPEG")
    cleaned = clean_photo(out.getvalue())
    assert (cleaned.width, cleaned.height) == (2048, 512)


@pytest.mark.parametrize("data", [
    b"this is a text file pretending to be a photo\n" * 20,
    b"GIF89a" + b"\x00" * 100,
    b"<svg xmlns='http://www.w3.org/2000/svg'></svg>",
])
def test_anything_but_a_picture_is_refused_whatever_its_name(data):
    with pytest.raises(InvalidPhoto) as refused:
        clean_photo(io.BytesIO(data))
    assert refused.value.code == "invalid_photo" and refused.value.field == "photos"


def test_a_real_gif_or_bmp_is_refused_although_pillow_reads_it():
    for fmt in ("GIF", "BMP", "TIFF"):
        out = io.BytesIO()
        Image.new("RGB", (10, 10)).save(out, fmt)
        with pytest.raises(InvalidPhoto):
            clean_photo(out.getvalue())


def test_a_truncated_jpeg_is_refused():
    data = jpeg_with_gps()
    with pytest.raises(InvalidPhoto):
        clean_photo(data[: len(data) // 2])


def test_a_pixel_bomb_is_refused_from_its_header():
    with pytest.raises(InvalidPhoto) as refused:
        clean_photo(huge_png())
    assert "too many pixels" in str(refused.value.detail)


def test_just_over_the_pixel_limit_is_refused(monkeypatch):
    monkeypatch.setattr(photos, "MAX_PIXELS", 99)
    with pytest.raises(InvalidPhoto):
        clean_photo(png_bytes(size=(10, 10)))


def test_an_upload_over_the_size_limit_is_refused_without_reading_it_all(monkeypatch):
    monkeypatch.setattr(photos, "MAX_PHOTO_BYTES", 1000)
    stream = io.BytesIO(jpeg_with_gps(size=(800, 800)))
    with pytest.raises(InvalidPhoto) as refused:
        clean_photo(stream)
    assert stream.tell() == 1001
    assert refused.value.code == "invalid_photo"
