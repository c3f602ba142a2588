"""Photo handling for daily updates: check uploads by their content, re-encode them clean, store them privately.

An upload is trusted for nothing: not its name, not its declared type. Pillow detects the format from the bytes
(only JPEG, PNG, WebP, and HEIF when a plugin for it is installed), the pixel count is checked from the header
before anything is decoded, and what is stored is a new JPEG drawn from the decoded pixels: no EXIF (GPS, camera,
time), no XMP, no comments, no ICC profile (colours are converted to sRGB, the default that needs none).

Files live under UPLOAD_FOLDER/updates/ with random names, never in the static folder; they are served by
updates.views only to those allowed to see the update.
"""

from __future__ import annotations

import io
import os
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageCms, ImageOps

from childcare.errors import DomainError

#: at most this many photos in one update
MAX_PHOTOS = 9
#: one upload may be at most this large (the whole request is bounded by MAX_CONTENT_LENGTH as well)
MAX_PHOTO_BYTES = 10 * 1024 * 1024
#: width × height above this is refused before decoding (a 48-megapixel phone photo still passes)
MAX_PIXELS = 50_000_000
#: stored photos are scaled down to fit this many pixels on their long side
MAX_SIDE = 2048
JPEG_QUALITY = 85
#: formats as Pillow detects them from the bytes; MPO is how Pillow names a JPEG with extra frames (many phones)
ACCEPTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "HEIF"})
SUBFOLDER = "updates"


class InvalidPhoto(DomainError):
    """An upload is not a picture we accept (wrong content, too large, unreadable)."""

    status = 422
    code = "invalid_photo"
    default_message = _l("This photo could not be used.")

    def __init__(self, message: Any = None, **params: Any):
        super().__init__(message, field="photos", **params)


@dataclass(frozen=True)
class CleanPhoto:
    """A photo re-encoded as a metadata-free JPEG, held in memory until it is stored."""

    data: bytes
    width: int
    height: int


def upload_folder() -> Path:
    """Where update photos are written: UPLOAD_FOLDER/updates (UPLOAD_FOLDER defaults to instance/uploads)."""
    root = current_app.config.get("UPLOAD_FOLDER") or os.path.join(current_app.instance_path, "uploads")
    # Absolute, so that writing (relative to the working directory) and send_from_directory (relative to the
    # app's root path) can never disagree about a relative setting.
    return Path(os.path.abspath(root)) / SUBFOLDER


def _read_upload(upload: bytes | IO[bytes], number: int) -> bytes:
    """The upload's bytes, reading no more than the limit allows."""
    if isinstance(upload, bytes | bytearray | memoryview):
        data = bytes(upload)
    else:
        stream = getattr(upload, "stream", upload)  # a werkzeug FileStorage or any file-like object
        data = stream.read(MAX_PHOTO_BYTES + 1)
    if len(data) > MAX_PHOTO_BYTES:
        raise InvalidPhoto(_l("Photo %(number)d is larger than %(mb)d MB."), number=number,
                           mb=MAX_PHOTO_BYTES // (1024 * 1024))
    if not data:
        raise InvalidPhoto(_l("Photo %(number)d is empty."), number=number)
    return data


def _accepted_formats() -> list[str]:
    """The accepted formats Pillow can open here (HEIF only with its plugin; MPO opens through JPEG)."""
    Image.init()
    return sorted(name for name in ACCEPTED_FORMATS if name in Image.OPEN)


def _to_srgb(image: Image.Image) -> Image.Image:
    """Convert colours from an embedded ICC profile to sRGB, so the stored file needs no profile."""
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "RGBA", "CMYK", "L", "LA"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        out_mode = "RGBA" if image.mode in ("RGBA", "LA") else "RGB"
        converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode=out_mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image  # a broken profile: keep the pixels as they are, the profile is dropped anyway
    return converted or image


def _flatten(image: Image.Image) -> Image.Image:
    """RGB pixels; transparent parts become white rather than black."""
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        image = image.convert("RGBA")
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        return background
    return image.convert("RGB") if image.mode != "RGB" else image


def clean_photo(upload: bytes | IO[bytes], *, number: int = 1) -> CleanPhoto:
    """Check one upload by its content and re-encode it as a metadata-free JPEG; raises InvalidPhoto."""
    data = _read_upload(upload, number)
    unreadable = InvalidPhoto(_l("Photo %(number)d is not a JPEG, PNG or WebP picture."), number=number)
    formats = _accepted_formats()
    with warnings.catch_warnings():
        # Pillow warns (and past twice its limit refuses) on decompression bombs; we refuse at the warning.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=formats) as probe:
                _check_header(probe, number)
                probe.verify()
            with Image.open(io.BytesIO(data), formats=formats) as image:
                _check_header(image, number)
                if image.format in ("JPEG", "MPO"):
                    # Let the JPEG decoder scale down by 1/2, 1/4 or 1/8 while decoding: far less memory.
                    image.draft("RGB", (MAX_SIDE, MAX_SIDE))
                image.load()
                picture = ImageOps.exif_transpose(image)  # turn it the way the camera meant
                picture = _flatten(_to_srgb(picture))
        except InvalidPhoto:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise InvalidPhoto(_l("Photo %(number)d has too many pixels."), number=number) from None
        except Exception:  # noqa: BLE001 - Pillow raises many kinds (OSError, SyntaxError, ValueError, …) on bad input
            raise unreadable from None
    picture.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    # A new image carries nothing of the original's info (EXIF, XMP, ICC, comments): only pixels go in.
    clean = Image.new("RGB", picture.size)
    clean.paste(picture)
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return CleanPhoto(out.getvalue(), clean.width, clean.height)


def _check_header(image: Image.Image, number: int) -> None:
    if image.format not in ACCEPTED_FORMATS:
        raise InvalidPhoto(_l("Photo %(number)d is not a JPEG, PNG or WebP picture."), number=number)
    width, height = image.size
    if width < 1 or height < 1:
        raise InvalidPhoto(_l("Photo %(number)d could not be read."), number=number)
    if width * height > MAX_PIXELS:
        raise InvalidPhoto(_l("Photo %(number)d has too many pixels."), number=number)


def new_storage_key() -> str:
    """A random file name that says nothing about the upload."""
    return secrets.token_hex(16) + ".jpg"


def write_photo(photo: CleanPhoto) -> tuple[str, Path]:
    """Write a cleaned photo under a new random name; answers (storage key, path)."""
    folder = upload_folder()
    folder.mkdir(parents=True, exist_ok=True)
    key = new_storage_key()
    path = folder / key
    with open(path, "xb") as handle:  # "x": never overwrite, however unlikely a clash of 128 random bits
        try:
            handle.write(photo.data)
        except OSError:
            path.unlink(missing_ok=True)  # a disk that filled up half-way leaves no half a photo
            raise
    return key, path


def path_of(storage_key: str) -> Path:
    """Where a stored photo's file is."""
    return upload_folder() / storage_key


def remove_files(paths: list[Path]) -> None:
    """Delete files written for a change that did not stand; a missing file is no error."""
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            current_app.logger.warning("could not remove %s", path)
