"""Helpers for the API tests: a token for a user, and JSON requests with it."""

from __future__ import annotations

import secrets

import pytest

from childcare.accounts.models import ApiToken
from childcare.api.auth import hash_token
from childcare.db import db


def make_token(user) -> str:
    token = secrets.token_urlsafe(32)
    db.session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), name="test"))
    db.session.commit()
    return token


class Api:
    """A test client speaking JSON with a bearer token (or none)."""

    def __init__(self, client, token: str | None = None, language: str = "en"):
        self.client = client
        self.token = token
        self.language = language

    def headers(self, extra: dict | None = None) -> dict:
        headers = {"Accept-Language": self.language}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return {**headers, **(extra or {})}

    def get(self, url: str, **kwargs):
        return self.client.get(url, headers=self.headers(kwargs.pop("headers", None)), **kwargs)

    def post(self, url: str, json=None, **kwargs):
        return self.client.post(url, json=json, headers=self.headers(kwargs.pop("headers", None)), **kwargs)

    def patch(self, url: str, json=None, **kwargs):
        return self.client.patch(url, json=json, headers=self.headers(kwargs.pop("headers", None)), **kwargs)

    def delete(self, url: str, **kwargs):
        return self.client.delete(url, headers=self.headers(kwargs.pop("headers", None)), **kwargs)


@pytest.fixture
def api(client):
    """api() anonymous, api(user) with a fresh token of that user."""

    def _api(user=None, language: str = "en") -> Api:
        return Api(client, make_token(user) if user is not None else None, language)

    return _api
