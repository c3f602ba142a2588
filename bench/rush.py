#!/usr/bin/env python3
"""The sign-up rush: N guardians enrol one child each at concurrency C into a programme of S seats.

Prepares everything through the JSON API of a running server (``make serve`` on PostgreSQL with
RATELIMIT_ENABLED=0), then fires the N enrolments, each on its own connection, all workers
starting together; verifies exactly S confirmed and N−S waitlisted at positions 1..N−S; prints
requests/s and p50/p95/p99 latency. Standard library only.

    bench/rush.py --admin 13900000000:Rush-admin-2026! -n 300 -c 50 --seats 30 --port 8000
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta

HOST = "127.0.0.1"  # the rush only ever targets this machine


class Api:
    """A tiny JSON client; every call opens its own connection, as separate phones would."""

    def __init__(self, port: int):
        self.port = port

    def call(self, method: str, path: str, body=None, token: str | None = None, expect=(200, 201, 204)):
        status, data, _elapsed = self.raw(method, path, body, token)
        if status not in expect:
            raise SystemExit(f"{method} {path}: {status} {str(data)[:300]}")
        return data

    def raw(self, method: str, path: str, body=None, token: str | None = None):
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        started = time.perf_counter()
        conn = http.client.HTTPConnection(HOST, self.port, timeout=120)
        try:
            conn.request(method, path, json.dumps(body).encode() if body is not None else None, headers)
            response = conn.getresponse()
            payload = response.read()
        finally:
            conn.close()
        elapsed = time.perf_counter() - started
        try:
            data = json.loads(payload) if payload else None
        except ValueError:
            data = payload[:200]
        return response.status, data, elapsed


def items(data):
    return data["items"] if isinstance(data, dict) and "items" in data else data


def prepare(api: Api, admin: str, n: int, seats: int, prefix: str,
            starts_in_days: int = 40) -> tuple[int, list[tuple[str, int]], str]:
    """Make N guardians with a child each and a fresh programme of S seats; answer both and the admin token."""
    phone, password = admin.split(":", 1)
    admin_token = api.call("POST", "/api/v1/tokens", {"phone": phone, "password": password})["token"]
    communities = items(api.call("GET", "/api/v1/communities"))
    if not communities:
        raise SystemExit("no community: run `flask demo load` or create one first")
    families = []
    for i in range(n):
        guardian_phone = f"{prefix}{i:05d}"
        secret = "Rush-pass-2026!"
        status, _data, _ = api.raw("POST", "/api/v1/accounts",
                                   {"phone": guardian_phone, "password": secret, "name": f"家长{i}"})
        if status not in (201, 422):  # 422: made by an earlier run, reused
            raise SystemExit(f"account {guardian_phone}: {status}")
        token = api.call("POST", "/api/v1/tokens", {"phone": guardian_phone, "password": secret})["token"]
        children = items(api.call("GET", "/api/v1/children", token=token))
        if children:
            child_id = children[0]["id"]
        else:
            child_id = api.call("POST", "/api/v1/children", {"name": f"孩子{i}", "gender": "female",
                                                             "birth_date": "2016-03-01", "grade": 3,
                                                             "consent": True}, token)["id"]
        families.append((token, child_id))
    now = datetime.now(UTC)
    start = date.today() + timedelta(days=starts_in_days)
    programme = api.call("POST", "/api/v1/programmes", {
        "community_id": communities[0]["id"], "kind": "holiday_camp", "title": f"rush {time.time():.0f}",
        "capacity": seats, "mode": "whole", "starts_on": start.isoformat(),
        "ends_on": (start + timedelta(days=11)).isoformat(), "weekdays": [1, 2, 3, 4, 5],
        "start_time": "09:00", "end_time": "12:00",
        "registration_opens_at": (now - timedelta(hours=1)).isoformat(timespec="seconds"),
        "registration_closes_at": (now + timedelta(days=20)).isoformat(timespec="seconds"),
        "allocation": "first_come", "promotion": "auto", "needs_approval": False}, admin_token)
    return programme["id"], families, admin_token


def cpu_seconds(port: int) -> dict[str, float]:
    """CPU time so far (user + system, Linux /proc) of the gunicorn serving `port` (its master's children), of every
    PostgreSQL process on this machine, and of this client: read before and after the rush, the difference per
    request says where a sign-up's CPU goes. Also the machine's CPU time and what the hypervisor stole of it, which
    tells a disturbed run from a quiet one. Empty where /proc cannot be read."""
    tick = os.sysconf("SC_CLK_TCK")
    processes: dict[int, tuple[str, int, float]] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return {}
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as handle:
                command = handle.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{name}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        processes[int(name)] = (command, int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    masters = {pid for pid, (command, _parent, _cpu) in processes.items()
               if "gunicorn" in command and f":{port}" in command}
    app = sum(cpu for command, parent, cpu in processes.values() if parent in masters)
    database = sum(cpu for command, _parent, cpu in processes.values() if command.startswith("postgres"))
    own = os.times()
    seconds = {"app": app, "postgres": database, "client": own.user + own.system}
    try:
        with open("/proc/stat") as handle:  # the machine: user nice system idle iowait irq softirq steal ...
            ticks = [int(value) for value in handle.readline().split()[1:9]]
        seconds.update(machine=sum(ticks) / tick, steal=ticks[7] / tick)
    except (OSError, ValueError, IndexError):
        pass
    return seconds


STAMP_RESOLUTION_S = 60  # childcare.api.auth.LAST_USED_RESOLUTION: a token is stamped at most once a minute


def book_elsewhere(api: Api, admin_token: str, families: list[tuple[str, int]], days: int,
                   starts_in_days: int = 120) -> int:
    """Give every family's child `days` live bookings in another programme (day mode, afternoons, dates apart from
    the rush's), as children who already attend something hold in a real rush; answers that programme's id."""
    communities = items(api.call("GET", "/api/v1/communities"))
    now = datetime.now(UTC)
    start = date.today() + timedelta(days=starts_in_days)
    programme = api.call("POST", "/api/v1/programmes", {
        "community_id": communities[0]["id"], "kind": "holiday_camp", "title": f"booked {time.time():.0f}",
        "capacity": len(families), "mode": "day", "starts_on": start.isoformat(),
        "ends_on": (start + timedelta(days=days * 2 + 7)).isoformat(), "weekdays": [1, 2, 3, 4, 5],
        "start_time": "14:00", "end_time": "16:00",
        "registration_opens_at": (now - timedelta(hours=1)).isoformat(timespec="seconds"),
        "registration_closes_at": (now + timedelta(days=20)).isoformat(timespec="seconds"),
        "allocation": "first_come", "promotion": "auto", "needs_approval": False}, admin_token)
    sessions = [s["id"] for s in items(api.call("GET", f"/api/v1/programmes/{programme['id']}/sessions",
                                                token=admin_token))][:days]
    if len(sessions) < days:
        raise SystemExit(f"the booked programme has {len(sessions)} sessions, fewer than {days}")
    for token, child_id in families:
        api.call("POST", "/api/v1/enrolments", {"programme_id": programme["id"], "child_ids": [child_id],
                                                "session_ids": sessions}, token)
    return programme["id"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))
    return ordered[k]


def rush(api: Api, programme_id: int, families: list[tuple[str, int]], concurrency: int) -> dict:
    """Fire one enrolment per family at the given concurrency; answer outcomes and latencies."""
    results: list[tuple[int, str, float]] = []
    lock = threading.Lock()
    queue = list(enumerate(families))
    barrier = threading.Barrier(concurrency + 1)

    def worker():
        barrier.wait()
        while True:
            with lock:
                if not queue:
                    return
                _index, (token, child_id) = queue.pop(0)
            try:
                status, data, elapsed = api.raw("POST", "/api/v1/enrolments",
                                                {"programme_id": programme_id, "child_ids": [child_id]}, token)
                outcome = data["enrolments"][0]["status"] if status in (200, 201) else f"http {status}"
            except Exception as error:  # noqa: BLE001 - every failure is counted, none is fatal
                elapsed, outcome = float("nan"), f"error {type(error).__name__}"
            with lock:
                results.append((child_id, outcome, elapsed))

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies = [r[2] * 1000 for r in results if not math.isnan(r[2])]
    outcomes: dict[str, int] = {}
    for _child, outcome, _ in results:
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return {"wall_s": wall, "rps": len(results) / wall, "outcomes": outcomes,
            "p50_ms": percentile(latencies, 0.50), "p95_ms": percentile(latencies, 0.95),
            "p99_ms": percentile(latencies, 0.99)}


def verify(api: Api, admin_token: str, programme_id: int, n: int, seats: int) -> list[str]:
    """The final state, read back from the server: S confirmed, the rest waitlisted 1..N−S."""
    problems = []
    enrolments = items(api.call("GET", f"/api/v1/programmes/{programme_id}/enrolments", token=admin_token))
    confirmed = [e for e in enrolments if e["status"] == "confirmed"]
    waitlisted = sorted(e["position"] for e in enrolments if e["status"] == "waitlisted")
    if len(confirmed) != seats:
        problems.append(f"{len(confirmed)} confirmed, expected {seats}")
    if waitlisted != list(range(1, n - seats + 1)):
        problems.append(f"waiting positions are not 1..{n - seats}: {waitlisted[:5]}…{waitlisted[-5:]}")
    if len(enrolments) != n:
        problems.append(f"{len(enrolments)} enrolments, expected {n}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=300, help="guardians, one child each")
    parser.add_argument("-c", type=int, default=50, help="concurrent clients")
    parser.add_argument("--seats", type=int, default=30)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--admin", default=os.environ.get("CHILDCARE_ADMIN", ""),
                        help="phone:password of an administrator")
    parser.add_argument("--prefix", default=f"137{os.getpid() % 1000:03d}", help="first 6 digits of the phones")
    parser.add_argument("--stale", action="store_true",
                        help="wait until every guardian's token is due its once-a-minute last-use stamp, as in a "
                             "real rush (parents sign in minutes before the class opens); adds about a minute")
    parser.add_argument("--elsewhere", type=int, default=0, metavar="K",
                        help="each child first books K sessions of another programme (day mode, other dates), as "
                             "children who already attend something do in a real rush")
    parser.add_argument("--cpu", action="store_true",
                        help="also print the CPU per sign-up of the server's workers, PostgreSQL and this client, "
                             "and the share of CPU time the host stole (Linux; the server and PostgreSQL on this "
                             "machine)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="rush R programmes one after another with the same guardians (each programme on dates "
                             "of its own; from the second round on, every child already holds the earlier rounds' "
                             "places, as children who attend something do)")
    parser.add_argument("--against", type=int, metavar="PORT",
                        help="a second server on the same database (other code, say): each round rushes both, "
                             "one after the other, so that a noisy machine's drift falls on both alike")
    args = parser.parse_args(argv)
    if ":" not in args.admin:
        parser.error("--admin phone:password is required (flask users create --role admin)")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    ports = [args.port] + ([args.against] if args.against else [])
    api = Api(args.port)
    print(f"preparing {args.n} guardians and a programme of {args.seats} seats on {HOST}:{args.port} …", flush=True)
    programme_id, families, admin_token = prepare(api, args.admin, args.n, args.seats, args.prefix)
    if args.elsewhere:
        book_elsewhere(api, admin_token, families, args.elsewhere)
    # Warm every worker on a separate programme first, so the run measures the steady state.
    # Its dates differ, or the same children would be refused for overlapping sessions.
    for port in ports:
        warm_id, _, warm_admin_token = prepare(Api(port), args.admin, 0, 1, args.prefix,
                                               starts_in_days=80 + 13 * ports.index(port))
        api.call("DELETE", "/api/v1/tokens/current", token=warm_admin_token)
        rush(Api(port), warm_id, families[: min(40, args.n)], min(args.c, 40))
    failed = False
    for round_ in range(args.rounds):
        for index, port in enumerate(ports):
            if round_ or index:  # a programme of its own, on dates no earlier round's place overlaps
                programme_id, _, admin_token = prepare(Api(port), args.admin, 0, args.seats, args.prefix,
                                                       starts_in_days=200 + 13 * (round_ * len(ports) + index))
            label = f"round {round_ + 1} port {port}: " if args.rounds > 1 or args.against else ""
            failed |= not rush_and_report(Api(port), args, programme_id, families, admin_token, label)
    return 1 if failed else 0


def rush_and_report(api: Api, args: argparse.Namespace, programme_id: int, families: list[tuple[str, int]],
                    admin_token: str, label: str) -> bool:
    """One rush at the programme, its figures printed and its final state verified; True when it passed."""
    if args.stale:
        # Every token was last used (and stamped) by now at the latest: a minute on, each is due a stamp again.
        time.sleep(STAMP_RESOLUTION_S + 1)
    before = cpu_seconds(api.port) if args.cpu else {}
    report = rush(api, programme_id, families, args.c)
    after = cpu_seconds(api.port) if args.cpu else {}
    problems = verify(api, admin_token, programme_id, args.n, args.seats)
    api.call("DELETE", "/api/v1/tokens/current", token=admin_token)  # runs again never reach the account's limit
    errors = sum(v for k, v in report["outcomes"].items() if k not in ("confirmed", "waitlisted"))
    if errors:
        problems.append(f"{errors} error responses: {report['outcomes']}")
    print(f"{label}N={args.n} C={args.c} seats={args.seats} programme={programme_id}")
    print(f"{label}outcomes: {report['outcomes']}")
    print(f"{label}wall {report['wall_s']:.2f} s   {report['rps']:.1f} req/s   "
          f"p50 {report['p50_ms']:.1f} ms   p95 {report['p95_ms']:.1f} ms   p99 {report['p99_ms']:.1f} ms")
    if before and after:
        print(f"{label}CPU per sign-up (ms): " + "   ".join(
            f"{part} {(after[part] - before[part]) * 1000 / args.n:.2f}" for part in ("app", "postgres", "client")))
        if "steal" in before and "steal" in after and after["machine"] > before["machine"]:
            # Time the hypervisor gave to other guests: runs with much of it are not comparable to quiet ones.
            stolen = (after["steal"] - before["steal"]) / (after["machine"] - before["machine"])
            print(f"{label}stolen by the host: {stolen * 100:.1f} % of the machine's CPU time during the rush")
    print(f"{label}verdict: " + ("PASS" if not problems else "FAIL: " + "; ".join(problems)), flush=True)
    return not problems


if __name__ == "__main__":
    sys.exit(main())
