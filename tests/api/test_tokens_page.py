"""Account settings → access tokens: create one (shown once), use it, revoke it."""

from __future__ import annotations

import re

from tests.factories import UserFactory


def test_a_guardian_creates_and_revokes_a_token_on_the_page(client, login_as, post_form):
    login_as(UserFactory())
    page = client.get("/account/tokens/")
    assert page.status_code == 200
    created = post_form("/account/tokens/", {"name": "小程序"})
    assert created.status_code == 200
    assert created.headers["Cache-Control"] == "no-store"
    token = re.search(r'data-testid="new-token">([^<]+)<', created.get_data(as_text=True)).group(1)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    listing = client.get("/account/tokens/").get_data(as_text=True)
    assert "小程序" in listing and token not in listing
    token_id = re.search(r'/account/tokens/(\d+)/revoke', listing).group(1)
    response = post_form(f"/account/tokens/{token_id}/revoke", {}, token_from="/account/tokens/")
    assert response.status_code == 302
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_someone_elses_token_cannot_be_revoked(client, login_as, post_form, api):
    owner = UserFactory()
    owner_api = api(owner)
    login_as(UserFactory())
    from childcare.accounts.models import ApiToken
    from childcare.db import db

    token_id = db.session.query(ApiToken.id).filter(ApiToken.user_id == owner.id).scalar()
    response = post_form(f"/account/tokens/{token_id}/revoke", {}, token_from="/account/tokens/")
    assert response.status_code == 404
    assert owner_api.get("/api/v1/me").status_code == 200


def test_the_page_needs_a_login(client):
    assert client.get("/account/tokens/").status_code == 302
