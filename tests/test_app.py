"""The application object: Flask, with its per-request checks made once where their answer cannot change."""

import flask.app


def test_views_and_hooks_are_checked_for_coroutines_once_not_on_every_request(app, client, monkeypatch):
    checked = []
    real_check = flask.app.iscoroutinefunction
    monkeypatch.setattr(flask.app, "iscoroutinefunction", lambda func: checked.append(func) or real_check(func))
    app._sync_callables.clear()

    assert client.get("/api/v1/communities").status_code == 200
    first_request = len(checked)
    assert client.get("/api/v1/communities").status_code == 200

    assert first_request > 0  # the view and the hooks were checked on the first request
    assert len(checked) == first_request  # and not again on the second


def test_a_coroutine_view_still_goes_to_flasks_async_runner(app, monkeypatch):
    async def later_view():
        return "later"

    def plain_view():
        return "now"

    monkeypatch.setattr(app, "async_to_sync", lambda func: ("run by the async runner", func))
    assert app.ensure_sync(later_view) == ("run by the async runner", later_view)
    assert app.ensure_sync(plain_view) is plain_view
    assert app.ensure_sync(plain_view) is plain_view
