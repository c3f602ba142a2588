"""The /api/v1 blueprint: the `endpoint` decorator (auth, body and query parsing, OpenAPI registry) and errors.

Each endpoint is an adapter: it gets parsed input and the token's account, opens one unit of work,
calls one service and returns a response model. Endpoints live in the sibling modules by feature.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, g, jsonify, request
from flask_babel import gettext as _
from flask_login import AnonymousUserMixin
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException

from childcare.api.auth import Unauthenticated, authenticate_request, touch_last_used
from childcare.api.schemas import Page, validation_errors
from childcare.errors import NotFound, http_title, problem, render_error
from childcare.extensions import csrf, limiter

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

MAX_ID = 2_147_483_647
_PATH_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


@dataclass
class Operation:
    """One documented operation; openapi.py turns the list of them into the document."""

    method: str
    rule: str
    endpoint: str
    summary: str
    tag: str
    auth: bool
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: Any = None
    status: int = 200
    errors: tuple[int, ...] = ()
    rate_limited: bool = False
    idempotency_key: bool = False
    description: str = ""
    path_params: list[str] = field(default_factory=list)

    @property
    def path(self) -> str:
        return bp.url_prefix + _PATH_PARAM.sub(r"{\2}", self.rule)


OPERATIONS: list[Operation] = []


class BadJson(Exception):
    """The body is not JSON at all."""


def read_json() -> Any:
    """The request body as JSON; BadJson when it is not (never a 500)."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError, UnicodeDecodeError) as error:
        raise BadJson() from error


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def read_body(model: type[BaseModel]) -> BaseModel:
    """The body validated by its model with JSON's own types, as the OpenAPI document states them (never a 500)."""
    read_json()  # a body that is not JSON at all answers 400
    raw = request.get_data(cache=True)
    # Strict JSON mode: lax validation read `true` as the number 1 (the child or programme with id 1) and a number
    # as a time or a date (seconds since 1970). Dates, times and enums still come as the strings the document shows.
    try:
        return model.model_validate_json(raw if raw.strip() else b"{}", strict=True)
    except ValidationError as error:
        if any(item["type"] == "json_invalid" for item in error.errors(include_url=False)):
            raise BadJson() from error  # e.g. a lone surrogate escape: JSON's syntax, but no text
        raise


def _query_args() -> dict[str, Any]:
    return {key: request.args.get(key) for key in request.args}


def endpoint(rule: str, method: str, *, summary: str, tag: str, auth: bool = True,
             body: type[BaseModel] | None = None, query: type[BaseModel] | None = None, response: Any = None,
             status: int = 200, errors: tuple[int, ...] = (), limit: Callable[[], str] | None = None,
             idempotency_key: bool = False,
             reads_first: Callable[[Any], tuple[sa.Select, dict] | None] | None = None) -> Callable:
    """Register an API view: authenticate, parse, call; record it for the OpenAPI document.

    `reads_first`: given the body, the statement the operation reads first (with its values), which then comes in
    the round trip of the token lookup (auth.authenticate_request)."""

    def decorator(fn: Callable) -> Callable:
        op = Operation(method=method.upper(), rule=rule, endpoint=f"{bp.name}.{fn.__name__}", summary=summary,
                       tag=tag, auth=auth, body=body, query=query, response=response, status=status,
                       errors=errors, rate_limited=limit is not None, idempotency_key=idempotency_key,
                       description=(fn.__doc__ or "").strip(),
                       path_params=[m.group(2) for m in _PATH_PARAM.finditer(rule)])
        OPERATIONS.append(op)

        @wraps(fn)
        def view(**kwargs: Any):
            if any(isinstance(v, int) and v > MAX_ID for v in kwargs.values()):
                raise NotFound()  # no row has such an id, and the database would refuse the number
            if auth and body is not None and reads_first is not None:
                try:
                    kwargs["body"] = read_body(body)
                except (ValidationError, BadJson):
                    authenticate_request()  # without a valid token the answer is 401, whatever the body
                    raise
                kwargs["actor"] = authenticate_request(along=reads_first(kwargs["body"]))
            elif auth:
                kwargs["actor"] = authenticate_request()
            if body is not None and "body" not in kwargs:
                kwargs["body"] = read_body(body)
            if query is not None:
                kwargs["query"] = query.model_validate(_query_args())
            return fn(**kwargs)

        if limit is not None:
            view = limiter.limit(limit, methods=[method.upper()])(view)
        bp.add_url_rule(rule, endpoint=fn.__name__, view_func=view, methods=[method.upper()])
        return view

    return decorator


def respond(model: BaseModel | None, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A response model as JSON (instants in the configured zone, dates and times as the contract says)."""
    if model is None:
        response = current_app.response_class(status=204)
    else:
        response = jsonify(model.model_dump(mode="json"))
        response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def page(items: list[BaseModel]) -> Page:
    """A list answer: every item, no further page."""
    return Page(items=items, next=None)


@bp.before_request
def _no_session_user() -> None:
    # The API knows only bearer tokens: never load a Flask-Login user from a session cookie.
    g._login_user = AnonymousUserMixin()


@bp.after_request
def _after(response: Response) -> Response:
    touch_last_used()
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.errorhandler(Unauthenticated)
def _unauthenticated(error: Unauthenticated):
    return problem(401, error.code, http_title(401), error.detail, headers={"WWW-Authenticate": "Bearer"})


@bp.errorhandler(ValidationError)
def _invalid(error: ValidationError):
    return problem(422, "invalid", _("The request is not valid"),
                   _("Some fields are missing or not valid. Please check them."), validation_errors(error))


@bp.errorhandler(BadJson)
def _bad_json(error: BadJson):
    return problem(400, "invalid", http_title(400), _("The request body is not valid JSON."))


@bp.errorhandler(HTTPException)
def _http(error: HTTPException):
    headers: dict[str, str] = {}
    if error.code == 429:
        headers["Retry-After"] = str(getattr(error, "retry_after", None) or 60)
    if error.code == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(error.valid_methods)
    return render_error(error.code or 500, headers=headers)
