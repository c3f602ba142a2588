"""Response headers, safe redirects, and the gate that makes every route private unless marked public."""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn, TypeVar
from urllib.parse import urljoin, urlsplit

from flask import Flask, Request, Response, current_app, redirect, request, url_for
from flask.sessions import NullSession, SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from flask_login import current_user

from childcare.db import write_intent
from childcare.errors import render_error

F = TypeVar("F", bound=Callable)

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
SECURITY_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)


def public(view: F) -> F:
    """Mark a view as open to anonymous visitors; every other view needs a login."""
    view.is_public = True  # type: ignore[attr-defined]
    return view


def is_public_endpoint(app: Flask, endpoint: str | None) -> bool:
    if endpoint is None or endpoint == "static" or endpoint.endswith(".static"):
        return True
    view = app.view_functions.get(endpoint)
    return bool(getattr(view, "is_public", False))


def safe_next_url(target: str | None) -> str | None:
    """Only a path on this site may follow a login; anything else is dropped."""
    if not target:
        return None
    target = target.strip().replace("\\", "/")
    if not target.startswith("/") or target.startswith("//"):
        return None
    joined = urlsplit(urljoin(request.host_url, target))
    if joined.netloc != urlsplit(request.host_url).netloc or joined.scheme not in ("http", "https"):
        return None
    return target


def back_to(default: str) -> str:
    """Where a form should return: its `next` field or parameter if it is on this site, else the default."""
    return safe_next_url(request.form.get("next") or request.args.get("next")) or default


API_PREFIX = "/api/"


class NoCookieSession(NullSession):
    """The JSON API's session: it authenticates bearer tokens only, so nothing there may keep state in a cookie."""

    def _fail(self, *args: object, **kwargs: object) -> NoReturn:
        raise RuntimeError("The JSON API keeps no cookie session: it authenticates bearer tokens only.")

    __setitem__ = __delitem__ = clear = pop = popitem = update = setdefault = _fail  # type: ignore[assignment]


class CookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, without its work when a request brings no cookie and leaves the session
    untouched: no serializer is built, no cookie settings are read.

    The JSON API gets no cookie session at all: no cookie of the browser's is read or set by it, and its answers do
    not vary by one (no `Vary: Cookie`; Flask-Login's remember-cookie check after each request would otherwise mark
    the session as read)."""

    null_session_class = NoCookieSession

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(API_PREFIX):
            return self.make_null_session(app)
        if app.secret_key and self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not session and not session.modified and not session.accessed:
            return  # nothing to set, nothing to delete, no Vary: Cookie
        super().save_session(app, session, response)


def register_security(app: Flask) -> None:
    """Login gate before each request; security headers after."""
    app.session_interface = CookieSessionInterface()

    @app.before_request
    def mark_write_intent():
        # Reads need no write lock on SQLite; everything else takes it at BEGIN.
        write_intent.set(request.method not in ("GET", "HEAD", "OPTIONS"))

    @app.before_request
    def require_login_unless_public():
        if is_public_endpoint(current_app, request.endpoint):
            return None
        if request.path.startswith(API_PREFIX):
            return None  # the API authenticates bearer tokens in its own blueprint
        if not current_user.is_authenticated:
            if request.method in ("GET", "HEAD"):
                return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
            return render_error(401)
        return None

    @app.after_request
    def set_security_headers(response: Response) -> Response:
        # Each header unless the view set its own; one pass over the headers (setdefault scans them three times).
        present = {key.lower() for key, _value in response.headers.items()}
        for key, value in SECURITY_HEADERS:
            if key.lower() not in present:
                response.headers.add(key, value)
        if current_app.config.get("SESSION_COOKIE_SECURE") and "strict-transport-security" not in present:
            response.headers.add("Strict-Transport-Security", "max-age=31536000")
        return response
