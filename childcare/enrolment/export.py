"""A programme's enrolment list as a spreadsheet (CSV) for its coordinators: the list they keep in Excel today."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from flask_babel import gettext as _

from childcare.accounts.services import national_phone
from childcare.children.forms import grade_title
from childcare.enrolment.queries import ManagedEnrolment
from childcare.i18n import localdate, localtime
from childcare.programmes.models import EnrolmentMode, Programme

#: a cell a spreadsheet would read as a formula begins with one of these; such a cell is written with a quote first
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> str:
    """The value as text a spreadsheet shows as it is: a name typed as '=HYPERLINK(...)' must not run."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def enrolments_csv(programme: Programme, rows: Iterable[ManagedEnrolment]) -> str:
    """One line per enrolment, in the list's order: the child, the seat or waiting place, whom to call.

    UTF-8 with a byte-order mark, so that Excel opens the Chinese names as they are; nothing medical is in it."""
    day_mode = programme.mode == EnrolmentMode.DAY
    groups = {group.id: group.name for group in programme.priority_groups}  # checked against what families say
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([_("Child"), _("Grade"), _("School"), *([_("Session")] if day_mode else []), _("Status"),
                     _("Position"), *([_("Priority group")] if groups else []), _("Signed up"), _("Guardians"),
                     _("Telephone")])
    for enrolment, position in rows:
        child = enrolment.child
        guardians = child.guardianships
        writer.writerow([spreadsheet_safe(value) for value in (
            child.name, grade_title(child.grade), child.school,
            *([localdate(enrolment.session.on_date) if enrolment.session else ""] if day_mode else []),
            enrolment.status.title, position or "",
            *([groups.get(enrolment.priority_group_id, "")] if groups else []), localtime(enrolment.queued_at, "short"),
            "; ".join(f"{g.user.name} ({g.relation})" if g.relation else g.user.name for g in guardians),
            "; ".join(national_phone(g.user.phone) for g in guardians))])
    return out.getvalue()
