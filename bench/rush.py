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
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

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
    families = make_families(api, n, prefix)
    return new_programme(api, admin_token, seats, starts_in_days), families, admin_token


def make_families(api: Api, n: int, prefix: str, first: int = 0, threads: int = 1) -> list[tuple[str, int]]:
    """N guardians (phones prefix + 5 digits, from `first` on) with a child each, made through the API or reused
    from an earlier run; answers (token, child id) per guardian. Each account costs two password hashes, so many
    are made on a few connections at once (`threads`)."""

    def family(i: int) -> tuple[str, int]:
        guardian_phone = f"{prefix}{i:05d}"
        secret = "Rush-pass-2026!"
        status, _data, _ = api.raw("POST", "/api/v1/accounts",
                                   {"phone": guardian_phone, "password": secret, "name": f"家长{i}"})
        if status not in (201, 422):  # 422: made by an earlier run, reused
            raise SystemExit(f"account {guardian_phone}: {status}")
        token = api.call("POST", "/api/v1/tokens", {"phone": guardian_phone, "password": secret})["token"]
        children = items(api.call("GET", "/api/v1/children", token=token))
        if children:
            return token, children[0]["id"]
        return token, api.call("POST", "/api/v1/children", {"name": f"孩子{i}", "gender": "female",
                                                            "birth_date": "2016-03-01", "grade": 3,
                                                            "consent": True}, token)["id"]

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        return list(pool.map(family, range(first, first + n)))


def new_programme(api: Api, admin_token: str, seats: int, starts_in_days: int = 40) -> int:
    """A whole-mode holiday camp of S seats, open for sign-up now, in the first community; answers its id."""
    communities = items(api.call("GET", "/api/v1/communities"))
    if not communities:
        raise SystemExit("no community: run `flask demo load` or create one first")
    now = datetime.now(UTC)
    start = date.today() + timedelta(days=starts_in_days)
    return api.call("POST", "/api/v1/programmes", {
        "community_id": communities[0]["id"], "kind": "holiday_camp", "title": f"rush {time.time():.0f}",
        "capacity": seats, "mode": "whole", "starts_on": start.isoformat(),
        "ends_on": (start + timedelta(days=11)).isoformat(), "weekdays": [1, 2, 3, 4, 5],
        "start_time": "09:00", "end_time": "12:00",
        "registration_opens_at": (now - timedelta(hours=1)).isoformat(timespec="seconds"),
        "registration_closes_at": (now + timedelta(days=20)).isoformat(timespec="seconds"),
        "allocation": "first_come", "promotion": "auto", "needs_approval": False}, admin_token)["id"]


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
    listening = _listening_processes(port, processes)
    masters = {pid for pid in listening if processes[pid][1] not in listening} or {
        pid for pid, (command, _parent, _cpu) in processes.items() if "gunicorn" in command and f":{port}" in command}
    app = sum(cpu for command, parent, cpu in processes.values() if parent in masters)
    database = sum(cpu for command, _parent, cpu in processes.values() if command.startswith("postgres"))
    own = os.times()
    seconds = {"app": app, "postgres": database, "client": own.user + own.system}
    try:
        with open("/proc/stat") as handle:  # the machine: user nice system idle iowait irq softirq steal ...
            ticks = [int(value) for value in handle.readline().split()[1:9]]
        seconds.update(machine=sum(ticks) / tick, steal=ticks[7] / tick, idle=(ticks[3] + ticks[4]) / tick)
    except (OSError, ValueError, IndexError):
        pass
    return seconds


def _listening_processes(port: int, processes: dict[int, tuple[str, int, float]]) -> set[int]:
    """The processes holding the socket that listens on 127.0.0.1:`port` (a gunicorn master and its workers, whatever
    their command line says); empty where /proc does not tell."""
    inodes = set()
    try:
        with open("/proc/net/tcp") as handle:
            for line in handle.readlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                    inodes.add(f"socket:[{fields[9]}]")
    except (OSError, IndexError, ValueError):
        return set()
    holders = set()
    for pid in processes:
        try:
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") in inodes for fd in os.listdir(f"/proc/{pid}/fd")):
                holders.add(pid)
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return holders


STAMP_RESOLUTION_S = 60
#: the bare floor's database, as ../shared/peers/limit/serve.sh makes it
FLOOR_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/limit_peer"
WARM_FAMILIES = 40  # childcare.api.auth.LAST_USED_RESOLUTION: a token is stamped at most once a minute


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
    requests = [("/api/v1/enrolments", {"programme_id": programme_id, "child_ids": [child_id]}, token)
                for token, child_id in families]
    return fire(api, requests, concurrency,
                lambda status, data: data["enrolments"][0]["status"] if status in (200, 201) else f"http {status}")


def fire(api: Api, requests: list[tuple[str, dict, str | None]], concurrency: int,
         outcome_of: Callable[[int, Any], str]) -> dict:
    """POST each (path, body, token) at the given concurrency, each on its own connection, all clients starting
    together; answer how many ended how (`outcome_of` names an answer), requests/s and latencies."""
    results: list[tuple[str, float]] = []
    lock = threading.Lock()
    queue = list(requests)
    barrier = threading.Barrier(concurrency + 1)

    def worker():
        barrier.wait()
        while True:
            with lock:
                if not queue:
                    return
                path, body, token = queue.pop(0)
            try:
                status, data, elapsed = api.raw("POST", path, body, token)
                outcome = outcome_of(status, data)
            except Exception as error:  # noqa: BLE001 - every failure is counted, none is fatal
                elapsed, outcome = float("nan"), f"error {type(error).__name__}"
            with lock:
                results.append((outcome, elapsed))

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies = [r[1] * 1000 for r in results if not math.isnan(r[1])]
    outcomes: dict[str, int] = {}
    for outcome, _ in results:
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
    parser.add_argument("--floor", type=int, metavar="PORT",
                        help="the bare floor of ../shared/peers (limit/serve.sh) on this port: each of --rounds rounds "
                             "rushes it and this server in turn (which goes first alternates), with fresh guardians "
                             "every round (each token due its stamp, as with --stale), and prints the ratio of "
                             "requests/s per round and its median")
    parser.add_argument("--floor-db", default=os.environ.get("LIMIT_DATABASE_URL", FLOOR_DATABASE_URL),
                        help="the floor's database, where each round's session is made (psql); default: the "
                             "peer's own default")
    parser.add_argument("--db", default=os.environ.get("DATABASE_URL", ""),
                        help="the server's database (default: DATABASE_URL), analysed after preparing, as "
                             "autovacuum would have by then (psql; skipped unless PostgreSQL)")
    parser.add_argument("--split", type=int, default=0, metavar="K",
                        help="how much the seat lock binds: each of --rounds rounds rushes one programme of S seats "
                             "and, in turn, K programmes of S/K seats at once (N/K guardians and C/K clients each, the "
                             "same work with the lock's queue cut in K), and prints both rates and the gain")
    parser.add_argument("--against", type=int, metavar="PORT",
                        help="a second server on the same database (other code, say): each round rushes both, "
                             "one after the other, so that a noisy machine's drift falls on both alike")
    args = parser.parse_args(argv)
    if ":" not in args.admin:
        parser.error("--admin phone:password is required (flask users create --role admin)")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.floor:
        if args.against or args.elsewhere or args.cpu or args.split:
            parser.error("--floor goes with none of --against, --elsewhere, --cpu and --split")
        return beside_the_floor(args)
    if args.split:
        if args.against or args.elsewhere or args.cpu or args.stale:
            parser.error("--split goes with none of --against, --elsewhere, --cpu and --stale")
        if args.split < 2 or any(value % args.split for value in (args.n, args.c, args.seats)):
            parser.error("--split K needs K of at least 2 that divides -n, -c and --seats")
        return split_queues(args)
    ports = [args.port] + ([args.against] if args.against else [])
    api = Api(args.port)
    print(f"preparing {args.n} guardians and a programme of {args.seats} seats on {HOST}:{args.port} …", flush=True)
    programme_id, families, admin_token = prepare(api, args.admin, args.n, args.seats, args.prefix)
    if args.elsewhere:
        book_elsewhere(api, admin_token, families, args.elsewhere)
    refresh_statistics(args.db)
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


# ---- beside the bare floor -------------------------------------------------------------------------------------
# The yardstick is the floor's requests/s in the same run. On a shared machine whose speed drifts by half
# within minutes, one run of each says little; several short rounds, alternating which goes first, let the drift
# fall on both alike, and the median of the per-round ratios is what to compare with the target.


def refresh_statistics(*database_urls: str) -> None:
    """ANALYZE each PostgreSQL database, as autovacuum would have by the time a class opens.

    Preparing grows the tables from a few rows to hundreds or thousands within seconds, and a server's
    prepared statements keep the plans made when their tables were small (sequential scans over thousands of
    users and tokens) until the statistics change. A deployment's autovacuum analyses a table once a tenth of
    it has changed; where it is off (as on some benchmark machines), the rush would measure stale plans
    that grow worse run by run."""
    for url in database_urls:
        if not url or not url.startswith("postgresql"):
            continue
        done = subprocess.run(["psql", "-qAtX", "-v", "ON_ERROR_STOP=1", url.replace("+psycopg2", ""),
                               "-c", "ANALYZE"], capture_output=True, text=True, timeout=300, check=False)
        if done.returncode:
            raise SystemExit(f"ANALYZE: {done.stderr.strip()[:300]}")


def floor_session(database_url: str, seats: int) -> int:
    """A fresh session of S seats for the floor (its app has no call that makes one): a row of its own table."""
    sql = (f"INSERT INTO seats (id, capacity, taken) SELECT coalesce(max(id), 0) + 1, {int(seats)}, 0 "  # noqa: S608
           "FROM seats RETURNING id")  # an int formatted in, nothing else
    done = subprocess.run(["psql", "-qAtX", "-v", "ON_ERROR_STOP=1", database_url.replace("+psycopg2", ""),
                           "-c", sql], capture_output=True, text=True, timeout=60, check=False)
    if done.returncode:
        raise SystemExit(f"the floor's database: {done.stderr.strip()[:300]} (is limit/serve.sh running?)")
    return int(done.stdout.split()[0])


def floor_rush(api: Api, session_id: int, n: int, concurrency: int) -> dict:
    """N claims on the floor's session, by the same client as ours: 201 is a seat, 409 'full'."""
    requests = [(f"/sessions/{session_id}/enrolments", {"child": f"c{i}"}, None) for i in range(1, n + 1)]
    return fire(api, requests, concurrency,
                lambda status, _data: {201: "confirmed", 409: "full"}.get(status, f"http {status}"))


def floor_problems(api: Api, session_id: int, n: int, seats: int, report: dict) -> list[str]:
    problems = []
    if report["outcomes"] != {"confirmed": seats, "full": n - seats}:
        problems.append(f"floor outcomes {report['outcomes']}")
    state = api.call("GET", f"/sessions/{session_id}")
    if state.get("enrolled") != seats or state.get("taken") != seats:
        problems.append(f"floor state {state}")
    return problems


def beside_the_floor(args: argparse.Namespace) -> int:
    """R rounds of our rush and the floor's, each round with guardians of its own; per round and in the median:
    requests/s of each and their ratio. Every round is verified (ours: S confirmed, N−S waiting at 1..N−S)."""
    api, floor = Api(args.port), Api(args.floor)
    phone, password = args.admin.split(":", 1)
    admin_token = api.call("POST", "/api/v1/tokens", {"phone": phone, "password": password})["token"]
    total = args.n * args.rounds + WARM_FAMILIES
    print(f"preparing {total} guardians on {HOST}:{args.port} …", flush=True)
    families = make_families(api, total, args.prefix, threads=4)
    warm, families = families[:WARM_FAMILIES], families[WARM_FAMILIES:]
    refresh_statistics(args.db, args.floor_db)
    # Both warmed on targets of their own. Then every token is let become due its once-a-minute stamp, as in a
    # real rush (parents sign in minutes before the class opens), so that no round is luckier than another.
    rush(api, new_programme(api, admin_token, 1, starts_in_days=80), warm, min(args.c, WARM_FAMILIES))
    floor_rush(floor, floor_session(args.floor_db, 1), WARM_FAMILIES, min(args.c, WARM_FAMILIES))
    time.sleep(STAMP_RESOLUTION_S + 1)
    ratios, ours, theirs = [], [], []
    failed = False
    for round_ in range(args.rounds):
        group = families[round_ * args.n:(round_ + 1) * args.n]
        programme_id = new_programme(api, admin_token, args.seats)
        session_id = floor_session(args.floor_db, args.seats)
        reports: dict[str, tuple[dict, list[str]]] = {}
        for who in ("childcare", "floor") if round_ % 2 == 0 else ("floor", "childcare"):
            if who == "floor":
                report = floor_rush(floor, session_id, args.n, args.c)
                reports[who] = report, floor_problems(floor, session_id, args.n, args.seats, report)
            else:
                report = rush(api, programme_id, group, args.c)
                problems = verify(api, admin_token, programme_id, args.n, args.seats)
                errors = sum(v for k, v in report["outcomes"].items() if k not in ("confirmed", "waitlisted"))
                if errors:
                    problems.append(f"{errors} error responses: {report['outcomes']}")
                reports[who] = report, problems
        (mine, my_problems), (floors, floor_failures) = reports["childcare"], reports["floor"]
        ratios.append(mine["rps"] / floors["rps"])
        ours.append(mine["rps"])
        theirs.append(floors["rps"])
        failed |= bool(my_problems or floor_failures)
        print(f"round {round_ + 1}: childcare {mine['rps']:.1f} req/s (p99 {mine['p99_ms']:.0f} ms)   "
              f"floor {floors['rps']:.1f} req/s (p99 {floors['p99_ms']:.0f} ms)   ratio {ratios[-1] * 100:.1f} %"
              + "".join(f"   FAIL: {problem}" for problem in my_problems + floor_failures), flush=True)
    api.call("DELETE", "/api/v1/tokens/current", token=admin_token)
    print(f"medians over {args.rounds} rounds: childcare {statistics.median(ours):.1f} req/s, floor "
          f"{statistics.median(theirs):.1f} req/s; ratio {statistics.median(ratios) * 100:.1f} % "
          f"(rounds {min(ratios) * 100:.1f}–{max(ratios) * 100:.1f} %)")
    print("verdict: " + ("FAIL" if failed else "PASS: every round exact, no error"))
    return 1 if failed else 0


# ---- the seat lock's share -------------------------------------------------------------------------------------
# A sign-up holds its programme's row from the lock to its COMMIT; sign-ups at one programme queue for it, those at
# different programmes do not. Rushing the same number of sign-ups at K programmes at once therefore shows how much
# of the rush is that queue: no gain, the CPU binds; a K-fold gain, the lock does.


def split_queues(args: argparse.Namespace) -> int:
    """R rounds of one rush at a programme of S seats and one at K programmes of S/K seats at once, each with fresh
    guardians (which goes first alternates); per round and in the median: requests/s of each and the gain."""
    api, k = Api(args.port), args.split
    phone, password = args.admin.split(":", 1)
    admin_token = api.call("POST", "/api/v1/tokens", {"phone": phone, "password": password})["token"]
    total = 2 * args.n * args.rounds + WARM_FAMILIES
    print(f"preparing {total} guardians on {HOST}:{args.port} …", flush=True)
    families = make_families(api, total, args.prefix, threads=4)
    warm, families = families[:WARM_FAMILIES], families[WARM_FAMILIES:]
    refresh_statistics(args.db)
    rush(api, new_programme(api, admin_token, 1, starts_in_days=80), warm, min(args.c, WARM_FAMILIES))
    ones, splits, failed = [], [], False
    for round_ in range(args.rounds):
        group = families[2 * round_ * args.n:][:2 * args.n]
        one_id = new_programme(api, admin_token, args.seats)
        split_ids = [new_programme(api, admin_token, args.seats // k) for _ in range(k)]
        problems: list[str] = []
        rates: dict[str, float] = {}
        for who in ("one", "split") if round_ % 2 == 0 else ("split", "one"):
            if who == "one":
                report = rush(api, one_id, group[:args.n], args.c)
                problems += verify(api, admin_token, one_id, args.n, args.seats)
                rates[who] = report["rps"]
                continue
            share = args.n // k
            slices = [group[args.n + i * share:][:share] for i in range(k)]
            with ThreadPoolExecutor(max_workers=k) as pool:
                started = time.perf_counter()
                list(pool.map(rush, [api] * k, split_ids, slices, [args.c // k] * k))
            rates[who] = args.n / (time.perf_counter() - started)
            for programme_id in split_ids:
                problems += verify(api, admin_token, programme_id, share, args.seats // k)
        ones.append(rates["one"])
        splits.append(rates["split"])
        failed |= bool(problems)
        print(f"round {round_ + 1}: one programme {rates['one']:.1f} req/s   {k} at once {rates['split']:.1f} req/s   "
              f"gain {(rates['split'] / rates['one'] - 1) * 100:+.1f} %"
              + "".join(f"   FAIL: {problem}" for problem in problems), flush=True)
    api.call("DELETE", "/api/v1/tokens/current", token=admin_token)
    gains = [(split / one - 1) * 100 for one, split in zip(ones, splits, strict=True)]
    print(f"medians over {args.rounds} rounds: one programme {statistics.median(ones):.1f} req/s, {k} at once "
          f"{statistics.median(splits):.1f} req/s; gain {statistics.median(gains):+.1f} % (rounds "
          f"{min(gains):+.1f} to {max(gains):+.1f} %)")
    print("verdict: " + ("FAIL" if failed else "PASS: every programme exact, no error"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
