"""The OpenAPI 3.1 document, generated from the operations the `endpoint` decorator recorded and their models."""

from __future__ import annotations

from functools import cache
from typing import Any

from flask import current_app, jsonify
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from childcare.api.schemas import Problem
from childcare.api.views import OPERATIONS, Operation, endpoint

REF = "#/components/schemas/{model}"

ERROR_TEXT = {
    400: "Malformed JSON (code invalid)",
    401: "No token, or a bad or revoked one (code unauthenticated); WWW-Authenticate: Bearer",
    403: "The role lacks the right (code forbidden)",
    404: "No such object, or someone else's (code not_found)",
    405: "Method not allowed (code method_not_allowed)",
    409: "The object's state does not allow this now (code invalid_state), e.g. cancelling an enrolment that has "
         "ended or accepting an offer that was never made",
    422: "Invalid fields (code invalid, with errors[]) or a rule refused (e.g. registration_closed, "
         "out_of_age_range, overlap, capacity_below_taken, offer_expired, idempotency_mismatch)",
    429: "Rate limited (code rate_limited); see Retry-After",
    503: "The seat lock could not be had in time (code busy); see Retry-After",
}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again",
                               "schema": {"type": "integer"}}}


def _schemas() -> tuple[dict[tuple[Any, str], dict], dict[str, Any]]:
    pairs: list[tuple[Any, str]] = [(Problem, "serialization")]
    for op in OPERATIONS:
        if op.body is not None:
            pairs.append((op.body, "validation"))
        if op.query is not None:
            pairs.append((op.query, "validation"))
        if op.response is not None:
            pairs.append((op.response, "serialization"))
    unique = list(dict.fromkeys(pairs))
    refs, top = models_json_schema(unique, ref_template=REF)
    return refs, top.get("$defs", {})


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        description = prop.pop("description", None)
        param = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if description:
            param["description"] = description
        params.append(param)
    return params


def _problem_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {"description": ERROR_TEXT.get(status, "Error"),
                                "content": {"application/problem+json": {"schema": {"$ref": REF.format(
                                    model="Problem")}}}}
    if status in (429, 503):
        response["headers"] = RETRY_AFTER
    if status == 401:
        response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string", "const": "Bearer"}}}
    return response


def _operation(op: Operation, refs: dict[tuple[Any, str], dict]) -> dict[str, Any]:
    doc: dict[str, Any] = {"operationId": op.endpoint.split(".", 1)[1], "summary": op.summary, "tags": [op.tag]}
    if op.description:
        doc["description"] = op.description
    parameters = [{"name": name, "in": "path", "required": True,
                   "schema": {"type": "integer", "minimum": 1, "maximum": 2_147_483_647}} for name in op.path_params]
    if op.query is not None:
        parameters += _query_parameters(op.query)
    if op.idempotency_key:
        parameters.append({"name": "Idempotency-Key", "in": "header", "required": False,
                           "description": "Scoped to the account, kept at least 24 hours: the same key with the "
                                          "same body answers the first answer again (200); with another body, 422 "
                                          "idempotency_mismatch",
                           "schema": {"type": "string", "minLength": 1, "maxLength": 200}})
    parameters.append({"name": "Accept-Language", "in": "header", "required": False,
                       "description": "zh-CN (default) or en: the language of error details",
                       "schema": {"type": "string"}})
    doc["parameters"] = parameters
    if op.body is not None:
        doc["requestBody"] = {"required": True,
                              "content": {"application/json": {"schema": refs[(op.body, "validation")]}}}
    responses: dict[str, Any] = {}
    if op.response is not None:
        content = {"application/json": {"schema": refs[(op.response, "serialization")]}}
        responses[str(op.status)] = {"description": "Success", "content": content}
        if op.idempotency_key:
            responses["200"] = {"description": "A repeat: the existing enrolments, or the first answer replayed for "
                                               "the same Idempotency-Key", "content": content}
    else:
        responses[str(op.status)] = {"description": "Success, no content"}
    statuses = set(op.errors)
    if op.body is not None or op.query is not None:
        statuses |= {400, 422}
    if op.auth:
        statuses.add(401)
    if op.path_params:
        statuses.add(404)
    if op.rate_limited:
        statuses.add(429)
    if op.method != "GET":
        statuses.add(503)
    for status in sorted(statuses):
        responses[str(status)] = _problem_response(status)
    doc["responses"] = responses
    if op.auth:
        doc["security"] = [{"bearer": []}]
    else:
        doc["security"] = [{}]
    return doc


@cache
def _document(version: str) -> dict[str, Any]:
    refs, schemas = _schemas()
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Community childcare API", "version": version,
                 "description": "Communities' after-school classes (四点半课堂) and holiday camps. JSON in and out; "
                                "dates YYYY-MM-DD, times HH:MM, instants ISO 8601 with the configured zone's "
                                "offset. Lists answer {\"items\": [...], \"next\": null}. Errors are problem "
                                "details (application/problem+json) with a stable `code`."},
        "servers": [{"url": "/"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "A personal token from POST /api/v1/tokens or the "
                                                          "account page"}},
        },
    }


def document() -> dict[str, Any]:
    """The whole OpenAPI 3.1 document (built once per process)."""
    return _document(current_app.config.get("API_VERSION", "1.0.0"))


@endpoint("/openapi.json", "GET", summary="This document (OpenAPI 3.1)", tag="meta", auth=False,
          response=None, status=200)
def openapi_json():
    """The OpenAPI 3.1 description of every operation of /api/v1."""
    return jsonify(document())
