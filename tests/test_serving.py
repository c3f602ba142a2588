"""The production server as `make serve` starts it: gunicorn with gunicorn.conf.py, its workers forked from one app
loaded in the master, against the test database."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _call(port: int, method: str, path: str, body: dict | None = None, token: str | None = None):
    """One request on a connection of its own, as separate phones would make them."""
    headers = {"Content-Type": "application/json", "Accept": "application/json", "Accept-Language": "en"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, json.dumps(body).encode() if body is not None else None, headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def _resident_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith("VmRSS:"))


def _children_of(pid: int) -> set[int]:
    found = set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as handle:
                    if int(handle.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.add(int(name))
            except OSError:
                continue  # gone meanwhile
    return found


@pytest.fixture
def served(app):
    """gunicorn on a free port with the project's settings and two workers; yields (port, master's pid)."""
    port = _free_port()
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "CHILDCARE_ENV": "production",
        "SECRET_KEY": "serving-test-" + "k" * 40,
        "SESSION_COOKIE_SECURE": "0",
        "RATELIMIT_ENABLED": "0",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
         "--workers", "2", "--worker-class", "sync", "wsgi:app"],
        cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _call(port, "GET", "/api/v1/communities")[0] == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                output = server.stdout.read().decode(errors="replace") if server.poll() is not None else ""
                pytest.fail(f"gunicorn did not come up: {output[-2000:]}")
            time.sleep(0.1)
        yield port, server.pid
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        server.stdout.close()


@pytest.mark.concurrency  # the server commits on connections of its own
def test_workers_forked_from_the_loaded_app_sign_a_parent_up_and_answer_from_the_database(served):
    port, master = served
    # gunicorn forks its workers one after another, up to a tenth of a second apart: the first may answer before
    # the second exists.
    deadline = time.monotonic() + 30
    while len(workers := _children_of(master)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(workers) == 2
    # The master loaded the app before forking (without preloading it holds a sixth of what a worker holds).
    assert _resident_kb(master) * 2 > max(_resident_kb(worker) for worker in workers)

    status, account = _call(port, "POST", "/api/v1/accounts",
                            {"phone": "13800139777", "password": "Xingbei-2026", "name": "王妈妈"})
    assert status == 201, account
    status, issued = _call(port, "POST", "/api/v1/tokens", {"phone": "13800139777", "password": "Xingbei-2026"})
    assert status == 201, issued
    # Each on a connection of its own, as separate phones: the workers answer from pools of their own.
    answers = [_call(port, "GET", "/api/v1/me", token=issued["token"]) for _ in range(12)]
    assert {status for status, _me in answers} == {200}
    assert {me["phone"] for _status, me in answers} == {"+8613800139777"}
    status, problem = _call(port, "GET", "/api/v1/me", token="not-a-token")
    assert status == 401 and problem["status"] == 401
