#!/usr/bin/env python3
"""Where a sign-up's cost lies beside the bare floor: a ladder of rushes, each rung doing more of a sign-up.

The floor (../shared/peers/limit) claims a seat with one conditional UPDATE and one INSERT. Our sign-up does more:
it reads the account behind the token, the programme and the children, decides under the programme's lock and
writes the enrolment with its audit entry and notices. Each rung below is rushed like `bench/rush.py` (N requests at
concurrency C, each on its own connection) and measured in the same round as the floor:

    no token                 POST /api/v1/enrolments without a token: Flask and our hooks, no database (401)
    token, no programme      the account behind a token, then a programme that does not exist (404)
    token, not open yet      the account, the programme and the child, refused: registration opens later (422)
    sign-up                  the whole sign-up into a programme of S seats (201), verified

per rung: requests/s, its share of the floor's, and the CPU per request of the server's workers, of PostgreSQL and
of this client, and the machine's idle time per request (Linux /proc; everything on this machine). Every token is
due its once-a-minute stamp, as in a real rush. Medians over the rounds.

    bench/ladder.py --admin 13900000000:Rush-admin-2026! --port 8000 --floor 8002 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rush import (  # noqa: E402
    FLOOR_DATABASE_URL,
    STAMP_RESOLUTION_S,
    Api,
    cpu_seconds,
    fire,
    floor_problems,
    floor_rush,
    floor_session,
    items,
    make_families,
    new_programme,
    refresh_statistics,
    verify,
)

RUNGS = ("floor", "no token", "token, no programme", "token, not open yet", "sign-up")
TOKEN_RUNGS = RUNGS[2:]  # each of these uses guardians of its own, every one due its stamp
ENROLMENTS = "/api/v1/enrolments"


def opening_later(api: Api, admin_token: str, seats: int) -> int:
    """A programme like the rush's whose registration opens in an hour: every sign-up is refused, after reading it."""
    programme_id = new_programme(api, admin_token, seats, starts_in_days=300)
    api.call("PATCH", f"/api/v1/programmes/{programme_id}", {
        "registration_opens_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(timespec="seconds")},
        admin_token)
    return programme_id


def measured(port: int, run) -> tuple[dict, dict[str, float]]:
    """Run one rung; answer its report and the CPU per request of each part (ms)."""
    before = cpu_seconds(port)
    report = run()
    after = cpu_seconds(port)
    count = sum(report["outcomes"].values())
    cost = {part: (after[part] - before[part]) * 1000 / count for part in ("app", "postgres", "client")
            if part in before and part in after}
    if "idle" in before and "idle" in after:
        cost["idle"] = (after["idle"] - before["idle"]) * 1000 / count
    return report, cost


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=300, help="requests per rung")
    parser.add_argument("-c", type=int, default=50, help="concurrent clients")
    parser.add_argument("--seats", type=int, default=30)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--floor", type=int, default=8002, metavar="PORT", help="the bare floor's port")
    parser.add_argument("--floor-db", default=os.environ.get("LIMIT_DATABASE_URL", FLOOR_DATABASE_URL))
    parser.add_argument("--admin", default=os.environ.get("CHILDCARE_ADMIN", ""),
                        help="phone:password of an administrator")
    parser.add_argument("--db", default=os.environ.get("DATABASE_URL", ""),
                        help="the server's database (default: DATABASE_URL), analysed after preparing")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--prefix", default=f"136{os.getpid() % 1000:03d}", help="first 6 digits of the phones")
    args = parser.parse_args(argv)
    if ":" not in args.admin:
        parser.error("--admin phone:password is required (flask users create --role admin)")
    if args.rounds < 1 or args.n < 1:
        parser.error("--rounds and -n must be at least 1")

    api, floor = Api(args.port), Api(args.floor)
    phone, password = args.admin.split(":", 1)
    admin_token = api.call("POST", "/api/v1/tokens", {"phone": phone, "password": password})["token"]
    total = args.n * args.rounds * len(TOKEN_RUNGS)
    print(f"preparing {total} guardians on 127.0.0.1:{args.port} …", flush=True)
    families = make_families(api, total, args.prefix, threads=4)
    community_id = items(api.call("GET", "/api/v1/communities"))[0]["id"]
    refresh_statistics(args.db, args.floor_db)
    time.sleep(STAMP_RESOLUTION_S + 1)  # every token due its stamp, as in a real rush

    figures: dict[str, list[tuple[float, dict[str, float]]]] = {rung: [] for rung in RUNGS}
    failed = False
    for round_ in range(args.rounds):
        groups = {rung: families[(round_ * len(TOKEN_RUNGS) + i) * args.n:][:args.n]
                  for i, rung in enumerate(TOKEN_RUNGS)}
        session_id = floor_session(args.floor_db, args.seats)
        closed_id = opening_later(api, admin_token, args.seats)
        programme_id = new_programme(api, admin_token, args.seats)
        requests = {
            "no token": [(ENROLMENTS, {"programme_id": programme_id, "child_ids": [1]}, None)] * args.n,
            "token, no programme": _sign_ups(2**31 - 1, groups["token, no programme"]),
            "token, not open yet": _sign_ups(closed_id, groups["token, not open yet"]),
            "sign-up": _sign_ups(programme_id, groups["sign-up"]),
        }
        expected = {"floor": None, "no token": {"401": args.n}, "token, no programme": {"404": args.n},
                    "token, not open yet": {"422": args.n}, "sign-up": {"201": args.n}}
        order = RUNGS if round_ % 2 == 0 else RUNGS[::-1]  # the machine's drift falls on every rung alike
        for rung in order:
            if rung == "floor":
                report, cost = measured(floor.port, partial(floor_rush, floor, session_id, args.n, args.c))
            else:
                report, cost = measured(api.port, partial(fire, api, requests[rung], args.c, _status))
            problems = (floor_problems(floor, session_id, args.n, args.seats, report) if rung == "floor"
                        else [] if report["outcomes"] == expected[rung] else [f"outcomes {report['outcomes']}"])
            if rung == "sign-up":
                problems += verify(api, admin_token, programme_id, args.n, args.seats)
            failed |= bool(problems)
            figures[rung].append((report["rps"], cost))
            print(f"round {round_ + 1}  {rung:20s} {report['rps']:7.1f} req/s  " + _costs(cost)
                  + "".join(f"   FAIL: {problem}" for problem in problems), flush=True)
    api.call("DELETE", "/api/v1/tokens/current", token=admin_token)

    floor_rps = statistics.median(rps for rps, _ in figures["floor"])
    print(f"\nmedians over {args.rounds} rounds (N={args.n}, C={args.c}; CPU per request in ms; community "
          f"{community_id}):")
    for rung in RUNGS:
        rps = statistics.median(rps for rps, _ in figures[rung])
        parts = {part: statistics.median(cost[part] for _, cost in figures[rung] if part in cost)
                 for part in ("app", "postgres", "client", "idle") if all(part in c for _, c in figures[rung])}
        print(f"  {rung:20s} {rps:7.1f} req/s  {rps / floor_rps * 100:5.1f} % of the floor   " + _costs(parts))
    print("verdict: " + ("FAIL" if failed else "PASS: every rung answered as expected, the sign-ups exact"))
    return 1 if failed else 0


def _sign_ups(programme_id: int, families: list[tuple[str, int]]) -> list[tuple[str, dict, str]]:
    return [(ENROLMENTS, {"programme_id": programme_id, "child_ids": [child_id]}, token)
            for token, child_id in families]


def _status(status: int, _data) -> str:
    return str(status)


def _costs(cost: dict[str, float]) -> str:
    return "  ".join(f"{part} {value:.2f}" for part, value in cost.items())


if __name__ == "__main__":
    sys.exit(main())
