#!/usr/bin/env python3
"""What one API sign-up costs the app itself: Python calls and CPU per sign-up, with no HTTP server in between.

The rush (bench/rush.py) says what the whole machine does; on a shared, noisy machine its figures move by a fifth
from run to run. This drives the WSGI app directly, one sign-up after another, on the database of DATABASE_URL
(PostgreSQL for figures that matter): the count of Python calls does not depend on the machine's load, so two
commits compare exactly; CPU per sign-up is reported as the minimum and median over chunks of the run.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/childcare_rush \\
        .venv/bin/python bench/signup_cost.py --admin 13900000000:Rush-admin-2026! -n 200

`--stale` makes every token due its once-a-minute last-use stamp first, as in a real rush, where parents sign in
minutes before the class opens. Guardians are prepared through the API (as bench/rush.py does), in-process.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from rush import Api, book_elsewhere, cpu_seconds, prepare, refresh_statistics  # noqa: E402


class InProcessApi(Api):
    """bench/rush.py's client, over the app's test client instead of a socket: nothing to serve."""

    def __init__(self, client):
        super().__init__(port=0)
        self.client = client

    def raw(self, method: str, path: str, body=None, token: str | None = None):
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        started = time.perf_counter()
        response = self.client.open(path, method=method, json=body, headers=headers)
        return response.status_code, response.get_json(silent=True), time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=200, help="guardians, one child and one sign-up each")
    parser.add_argument("--admin", default=os.environ.get("CHILDCARE_ADMIN", ""),
                        help="phone:password of an administrator")
    parser.add_argument("--prefix", default=f"135{os.getpid() % 1000:03d}", help="first 6 digits of the phones")
    parser.add_argument("--stale", action="store_true", help="every token due its last-use stamp")
    parser.add_argument("--elsewhere", type=int, default=0, metavar="K",
                        help="each child first books K sessions of another programme, as children who already "
                             "attend something do")
    parser.add_argument("--top", type=int, default=0, help="also print the N functions with most own time")
    parser.add_argument("--sort", default="tottime", choices=["tottime", "cumulative", "ncalls"],
                        help="what --top orders by: own time, time with what they call, or calls")
    args = parser.parse_args(argv)
    if ":" not in args.admin:
        parser.error("--admin phone:password is required (flask users create --role admin)")
    if args.n < 60:
        parser.error("-n must be at least 60")

    import sqlalchemy as sa
    from werkzeug.test import EnvironBuilder

    from childcare import create_app
    from childcare.accounts.models import ApiToken
    from childcare.api.auth import hash_token
    from childcare.db import db, utcnow

    app = create_app(RATELIMIT_ENABLED=False)
    api = InProcessApi(app.test_client())
    programme_id, families, admin_token = prepare(api, args.admin, args.n, max(1, args.n // 10), args.prefix)
    if args.elsewhere:
        book_elsewhere(api, admin_token, families, args.elsewhere)
    api.call("DELETE", "/api/v1/tokens/current", token=admin_token)  # runs again never reach the account's limit
    refresh_statistics(os.environ.get("DATABASE_URL", ""))
    if args.stale:
        with app.app_context():
            db.session.execute(sa.update(ApiToken)
                               .where(ApiToken.token_hash.in_([hash_token(token) for token, _child in families]))
                               .values(last_used_at=utcnow() - timedelta(minutes=5)))
            db.session.commit()
            db.session.remove()
    environs = [EnvironBuilder(path="/api/v1/enrolments", method="POST",
                               json={"programme_id": programme_id, "child_ids": [child]},
                               headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                               environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_environ()
                for token, child in families]
    statuses: list[str] = []

    def sign_up(environ) -> None:
        body = app(environ, lambda status, headers, exc_info=None: statuses.append(status))
        b"".join(body)
        getattr(body, "close", lambda: None)()

    warm, timed, held, profiled = environs[:10], environs[10:-40], environs[-40:-20], environs[-20:]
    for environ in warm:
        sign_up(environ)
    chunks = []
    database_before = cpu_seconds(0).get("postgres")
    for start in range(0, len(timed), 10):
        chunk = timed[start:start + 10]
        started = time.process_time()
        for environ in chunk:
            sign_up(environ)
        chunks.append((time.process_time() - started) / len(chunk))
    database_after = cpu_seconds(0).get("postgres")
    with app.app_context():
        engine = db.engine
    holds = sorted(seat_lock_holds(engine, held, sign_up))
    profile = cProfile.Profile()
    profile.enable()
    for environ in profiled:
        sign_up(environ)
    profile.disable()
    stats = pstats.Stats(profile)
    unexpected = sorted({status for status in statuses if not status.startswith("201")})
    chunks.sort()
    print(f"database: {app.config['SQLALCHEMY_DATABASE_URI'].split(':', 1)[0]}   sign-ups: {len(environs)} "
          f"({len(warm)} to warm up, {len(timed)} timed, {len(held)} for the lock, {len(profiled)} profiled)   "
          f"tokens: {'due a stamp' if args.stale else 'fresh'}   bookings elsewhere per child: {args.elsewhere}")
    print(f"Python calls per sign-up: {stats.total_calls / len(profiled):.0f}")
    print(f"CPU per sign-up: min {chunks[0] * 1000:.3f} ms   median {chunks[len(chunks) // 2] * 1000:.3f} ms "
          f"(chunks of 10)")
    print(f"seat lock held per sign-up (wall, from the lock's statement to the COMMIT that ends it, no one else "
          f"waiting): median {holds[len(holds) // 2] * 1000:.3f} ms   max {holds[-1] * 1000:.3f} ms")
    if database_before is not None and database_after is not None:
        print(f"PostgreSQL CPU per sign-up (every postgres process on this machine, while timed): "
              f"{(database_after - database_before) / len(timed) * 1000:.3f} ms")
    if args.top:
        stats.sort_stats(args.sort).print_stats(args.top)
    if unexpected:
        print(f"FAIL: unexpected answers {unexpected}")
        return 1
    return 0


def seat_lock_holds(engine, environs, sign_up) -> list[float]:
    """Per sign-up, the wall time its programme's seat lock is held: from the locking statement to the COMMIT that
    releases it (on PostgreSQL sent with the write, on SQLite the session's own). One sign-up at a time, so this is
    the least a sign-up holds the lock; in a rush every other sign-up of the programme waits that long for it."""
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from childcare.enrolment import services

    marks: dict[str, float] = {}
    lock_and_recount = services.lock_and_recount

    def locking(*args, **kwargs):
        marks["locked"] = time.perf_counter()
        return lock_and_recount(*args, **kwargs)

    def released(*_args) -> None:
        marks.setdefault("released", time.perf_counter())

    def after_execute(conn, cursor, statement, *_args) -> None:
        if statement.rstrip().endswith("; COMMIT"):
            released()

    services.lock_and_recount = locking
    sa.event.listen(engine, "after_cursor_execute", after_execute)
    sa.event.listen(Session, "after_commit", released)
    holds = []
    try:
        for environ in environs:
            marks.clear()
            sign_up(environ)
            holds.append(marks["released"] - marks["locked"])
    finally:
        services.lock_and_recount = lock_and_recount
        sa.event.remove(engine, "after_cursor_execute", after_execute)
        sa.event.remove(Session, "after_commit", released)
    return holds


if __name__ == "__main__":
    sys.exit(main())
