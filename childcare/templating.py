"""What every template can use: the bell count, the language form, role titles."""

from __future__ import annotations

from flask import Flask, request
from flask_babel import get_locale
from flask_login import current_user

from childcare.accounts.forms import LanguageForm
from childcare.accounts.services import masked_phone


def register_template_globals(app: Flask) -> None:
    """Context shared by every page."""

    @app.context_processor
    def inject_globals():
        def unread_notifications() -> int:
            if not current_user.is_authenticated:
                return 0
            from childcare.notifications.queries import unread_count

            return unread_count(current_user)

        def current_locale() -> str:
            locale = get_locale()
            return "zh_CN" if locale is None or locale.language == "zh" else locale.language

        def language_form() -> LanguageForm:
            # formdata=None: never read the request body (it may be another form's, or too large: a 413 page)
            return LanguageForm(formdata=None, language=current_locale(), next=request.full_path.rstrip("?"))

        return {
            "unread_notifications": unread_notifications,
            "language_form": language_form,
            "current_locale": current_locale,
        }

    app.add_template_filter(masked_phone, "masked_phone")
