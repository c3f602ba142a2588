"""Domain errors and the handlers that turn them, and HTTP errors, into pages or problem details."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from flask import Flask, Response, flash, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from childcare.db import db, is_lock_timeout

P = ParamSpec("P")
R = TypeVar("R")


class DomainError(Exception):
    """A rule refused the request; carries a translatable message, a stable code and maybe a field."""

    status = 422
    code = "invalid"
    default_message = _l("The request could not be completed.")
    #: True when the service changed state that must stand although it refuses (an offer that expired on
    #: the way in is ended and its seat passed on); the unit of work then commits before answering.
    keeps_changes = False

    def __init__(self, message: Any = None, *, field: str | None = None, code: str | None = None, **params: Any):
        self.message = message if message is not None else self.default_message
        self.field = field
        self.params = params
        if code:
            self.code = code
        super().__init__(str(self.code))

    @property
    def detail(self) -> str:
        text = str(self.message)
        return text % self.params if self.params else text


class InvalidInput(DomainError):
    """The input's shape is wrong (missing field, bad type)."""

    status = 422
    code = "invalid"


class NotFound(DomainError):
    """The object does not exist, or belongs to someone else: both answer the same."""

    status = 404
    code = "not_found"
    default_message = _l("Not found.")


class Forbidden(DomainError):
    """The actor's role lacks the right."""

    status = 403
    code = "forbidden"
    default_message = _l("You do not have permission to do this.")


class Busy(DomainError):
    """A lock could not be had in time; the client should simply try again."""

    status = 503
    code = "busy"
    default_message = _l("Many people are signing up right now. Please try again in a moment.")


def busy_on_lock_timeout(service: Callable[P, R]) -> Callable[P, R]:
    """Decorator for services that wait for row locks: a lock wait that timed out anywhere inside becomes Busy
    (503, "try again"), never a 500.

    On SQLite the wait happens at BEGIN IMMEDIATE, i.e. at the service's first statement."""

    @functools.wraps(service)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return service(*args, **kwargs)
        except OperationalError as error:
            if is_lock_timeout(error):
                raise Busy() from error
            raise

    return wrapped


def wants_json() -> bool:
    """API paths always answer JSON; so does a client that prefers it."""
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def problem(status: int, code: str, title: str, detail: str, errors: list[dict] | None = None,
            headers: dict | None = None) -> Response:
    """An RFC 9457 problem details response."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail, "code": code}
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


HTTP_CODES = {400: "invalid", 401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
              413: "too_large", 422: "invalid", 429: "rate_limited", 500: "server_error", 503: "busy"}


# Built once, translated when read: an error answer reads one title and one detail, not every status's.
HTTP_TITLES = {
    400: _l("Bad request"),
    401: _l("Please log in"),
    403: _l("Permission denied"),
    404: _l("Page not found"),
    405: _l("Method not allowed"),
    409: _l("Not possible now"),
    413: _l("Upload too large"),
    422: _l("Please check the request"),
    429: _l("Too many attempts"),
    500: _l("Something went wrong"),
    503: _l("Busy, please try again"),
}
HTTP_DETAILS = {
    400: _l("The request was not understood. Please check what you entered and try again."),
    401: _l("You need to log in to see this page."),
    403: _l("You do not have permission to see this page."),
    404: _l("The page you asked for does not exist or is not yours to see."),
    405: _l("This address does not accept that kind of request."),
    413: _l("The file you sent is too large."),
    429: _l("Too many attempts. Please wait a minute and try again."),
    500: _l("An unexpected error occurred. We have been told about it; please try again later."),
    503: _l("Many people are using the system right now. Please try again in a moment."),
}
_ERROR = _l("Error")


def http_title(status: int) -> str:
    """The title of an error answer with this status, in the user's language."""
    return str(HTTP_TITLES.get(status, _ERROR))


def http_detail(status: int) -> str:
    """What an error answer with this status says when nothing more particular is known."""
    lazy = HTTP_DETAILS.get(status)
    return str(lazy) if lazy is not None else http_title(status)


def render_error(status: int, detail: str | None = None, code: str | None = None,
                 headers: dict | None = None) -> Response | tuple:
    """One error answer for a status, in the user's language, as a page or problem details."""
    title = http_title(status)
    detail = detail or http_detail(status)
    code = code or HTTP_CODES.get(status, "error")
    if wants_json():
        return problem(status, code, title, detail, headers=headers)
    template = f"errors/{status}.html" if status in (403, 404, 500) else "errors/generic.html"
    return render_template(template, status=status, title=title, detail=detail), status, headers or {}


def register_error_handlers(app: Flask) -> None:
    """HTML pages for browsers, problem details for the API; never a bare 500 for a refused rule."""

    @app.errorhandler(DomainError)
    def handle_domain_error(error: DomainError):
        headers = {"Retry-After": "1"} if isinstance(error, Busy) else None
        if wants_json():
            errors = [{"field": error.field, "code": error.code, "detail": error.detail}] if error.field else None
            return problem(error.status, error.code, http_title(error.status), error.detail,
                           errors, headers=headers)
        return render_error(error.status, error.detail, error.code, headers=headers)

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException):
        headers = {}
        if error.code == 429:
            retry = getattr(error, "retry_after", None)
            headers["Retry-After"] = str(retry or 60)
        if error.code == 405 and error.valid_methods:
            headers["Allow"] = ", ".join(error.valid_methods)
        # Flask-WTF's descriptions read "The CSRF token is missing." etc.: recognise the class, not the text.
        detail = None
        if isinstance(error, CSRFError):
            detail = _("Your form expired or was sent from elsewhere. Please reload the page and try again.")
        return render_error(error.code or 500, detail, headers=headers)

    @app.errorhandler(DBAPIError)
    def handle_database_error(error: DBAPIError):
        db.session.rollback()
        if is_lock_timeout(error):
            return render_error(503, headers={"Retry-After": "1"})
        if error.connection_invalidated:
            # The database dropped the connection (restart, failover): the pool is renewed, so a retry works.
            app.logger.warning("database connection lost; the pool is renewed")
            return render_error(503, headers={"Retry-After": "1"})
        app.logger.exception("database error")
        return render_error(500)

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        app.logger.exception("unhandled error")
        db.session.rollback()
        return render_error(500)


def attach_to_form(form: Any, error: DomainError) -> bool:
    """Put a refused rule back on the form field it concerns; False when no field matches."""
    field = getattr(form, error.field, None) if error.field else None
    if field is None:
        return False
    field.errors = [*list(field.errors or []), error.detail]
    return True


def refuse_on_form(form: Any, error: DomainError) -> None:
    """Show a refused rule on its form field, else as a flash; a refusal of access is no form error (403/404)."""
    if isinstance(error, Forbidden | NotFound):
        raise error
    if form is None or not attach_to_form(form, error):
        flash(error.detail, "error")


def flash_form_errors(form: Any) -> None:
    """Put a form's field errors into flash messages (forms whose fields are not shown again)."""
    for field_errors in form.errors.values():
        for message in field_errors:
            flash(message, "error")
