"""Forms for daily updates: they check the shape of input; updates.services decides."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import MultipleFileField
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from childcare.accounts.forms import REQUIRED
from childcare.forms import AppForm
from childcare.updates.photos import MAX_PHOTOS
from childcare.updates.services import MAX_NOTE_LENGTH


class UpdateForm(AppForm):
    """A note and up to nine photos about one session."""

    note = TextAreaField(_l("What did the children do today?"),
                         validators=[DataRequired(REQUIRED), Length(max=MAX_NOTE_LENGTH)],
                         render_kw={"rows": 5, "maxlength": MAX_NOTE_LENGTH})
    photos = MultipleFileField(_l("Photos"),
                               description=_l("Up to %(max)d photos, together at most 16 MB. If sending fails, "
                                              "send fewer photos at a time.", max=MAX_PHOTOS),
                               render_kw={"accept": "image/jpeg,image/png,image/webp", "multiple": True})

    def uploads(self) -> list:
        """The files actually chosen (a browser sends one empty part when none is)."""
        return [f for f in (self.photos.data or []) if getattr(f, "filename", "")]


class WithdrawForm(AppForm):
    """A button: hide an update from families."""
