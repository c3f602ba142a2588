"""What every form checks about the shape of its input, whatever its fields: text the database can store (no
invisible control characters: PostgreSQL refuses NUL) and numbers within what an integer column holds.

Ids read by hand from buttons and rows (no WTForms field) go through parse_id() for the same range.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import Field, SelectMultipleField
from wtforms.widgets import CheckboxInput, ListWidget

#: the largest whole number a form takes: PostgreSQL's integer columns, and so every id, stop here
MAX_NUMBER = 2**31 - 1
#: control characters no field has a use for (tabs and line breaks, which a text area sends, are kept)
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class CheckboxesField(SelectMultipleField):
    """A list of checkboxes (bigger and easier to tap on a phone than a multiple select).

    No box carries `required`, whatever the validators: a browser reads it on each box as "tick every one", so a
    parent of two could not sign up one child. "At least one" is the validators' to say, on the server."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def __iter__(self):
        for option in super().__iter__():
            option.flags.required = False
            yield option


def parse_id(value: Any) -> int | None:
    """An id written as digits, within range; None for anything else (blank, a word, a sign, too many digits)."""
    text = str(value or "").strip()
    if not text.isascii() or not text.isdigit():
        return None
    number = int(text)
    return number if 0 < number <= MAX_NUMBER else None


def _numbers(data: Any) -> list:
    values = data if isinstance(data, list | tuple) else [data]
    return [v for v in values if isinstance(v, int | Decimal) and not isinstance(v, bool)]


def _shape_error(field: Field) -> str | None:
    """Why the field's input cannot be stored whatever the form's own validators say, or None."""
    if any(isinstance(raw, str) and CONTROL_CHARACTERS.search(raw) for raw in field.raw_data or ()):
        return _("Please remove the invisible control characters.")
    # A number another validator refused already has its message (e.g. "between 0 and 10000").
    if not field.errors and any(abs(number) > MAX_NUMBER for number in _numbers(field.data)):
        return _("This number is out of range. Please check it.")
    return None


class AppForm(FlaskForm):
    """The base of the app's forms: the fields' own validators, then the shape checks every field shares."""

    def validate(self, extra_validators: dict | None = None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            error = _shape_error(field)
            if error is not None:
                field.errors = [*field.errors, error]
                valid = False
        return valid

