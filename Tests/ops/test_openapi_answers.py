"""Answers that fuzzing one request at a time never provokes, checked against
docs/openapi.yaml: a waiting lock, a waiter deleted by an admin, a refresh of a waiter,
the per-client quota, a full queue, the connection limit, a body too large, and /ready
when the journal's directory is gone.

Each answer is checked with schemathesis's own conformance checks (status, content type,
headers, body), the ones Tests/openapi/run_schemathesis.sh runs. Needs schemathesis and
requests (both in the test command's venv).
"""
import contextlib
import os
import shutil
import socket
import threading

import pytest
import requests

from conftest import ROOT, wait_until

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

DOCUMENT = schemathesis.openapi.from_path(os.path.join(ROOT, "docs", "openapi.yaml"))
CHECKS = [status_code_conformance, content_type_conformance, response_headers_conformance, response_schema_conformance]
JSON = {"Accept": "application/json"}
HOLDER = "a" * 32
WAITER = "b" * 32


def conforms(method, path, response, **parameters):
    """Raises, naming what differs, unless `response` is documented for `method path`."""
    case = DOCUMENT[path][method].Case(path_parameters=parameters or None)
    case.validate_response(response, checks=CHECKS)
    return response


def acquire(daemon, resource, wait=0, uid=None, lifetime=30, headers=None):
    sent = dict(JSON, **(headers or {}))
    if uid:
        sent["RDLM-Request-Id"] = uid
    body = {"title": "openapi", "lifetime": lifetime, "wait": wait}
    return requests.post("http://127.0.0.1:%d/locks/%s" % (daemon.port, resource), json=body, headers=sent, timeout=60)


def url(daemon, path):
    return "http://127.0.0.1:%d%s" % (daemon.port, path)


def wait_for_status(daemon, path, status, what):
    """The first answer to GET `path` with `status` (polled; a refused connection is retried)."""
    def answered():
        try:
            answer = requests.get(url(daemon, path), timeout=10)
        except requests.ConnectionError:
            return None
        # A list: a requests.Response of status 400 or more is false.
        return [answer] if answer.status_code == status else None
    return wait_until(answered, timeout=30, what=what)[0]


@contextlib.contextmanager
def held_and_queued(daemon, resource):
    """A lock held on `resource` and one acquire waiting behind it (uid WAITER); yields the
    resource's listing once both are in it, and `waiting`, where the waiter's answer lands.
    Afterwards the resource is deleted, which frees the waiter."""
    held = conforms("POST", "/locks/{resource}", acquire(daemon, resource, uid=HOLDER), resource=resource)
    assert held.status_code == 201
    waiting = {}
    waiter = threading.Thread(target=lambda: waiting.update(answer=acquire(daemon, resource, wait=30, uid=WAITER)))
    waiter.start()
    try:
        def both_listed():
            answer = requests.get(url(daemon, "/resources/" + resource), headers=JSON, timeout=10)
            return answer if len(answer.json().get("_embedded", {}).get("locks", [])) == 2 else None
        yield wait_until(both_listed, timeout=30, what="the waiter to be queued"), waiting
    finally:
        requests.delete(url(daemon, "/resources/" + resource), timeout=10)
        waiter.join(timeout=60)


def test_a_waiting_lock_and_its_deletion_are_documented(rdlmd):
    daemon = rdlmd("--admin-userpass-file", "yes")
    with held_and_queued(daemon, "queue") as (listing, waiting):
        conforms("GET", "/resources/{resource}", listing, resource="queue")
        assert [lock["active"] for lock in listing.json()["_embedded"]["locks"]] == [True, False]

        shown = requests.get(url(daemon, "/locks/queue/" + WAITER), headers=JSON, timeout=10)
        conforms("GET", "/locks/{resource}/{uid}", shown, resource="queue", uid=WAITER)
        assert shown.status_code == 200 and "wait_expires" in shown.json()

        refreshed = requests.patch(url(daemon, "/locks/queue/" + WAITER), json={"lifetime": 5}, headers=JSON, timeout=10)
        conforms("PATCH", "/locks/{resource}/{uid}", refreshed, resource="queue", uid=WAITER)
        assert refreshed.status_code == 409

        deleted = requests.delete(url(daemon, "/resources/queue"), headers=JSON, timeout=10)
        conforms("DELETE", "/resources/{resource}", deleted, resource="queue")
        assert deleted.status_code == 204
    answer = waiting["answer"]
    conforms("POST", "/locks/{resource}", answer, resource="queue")
    assert answer.status_code == 409


@pytest.mark.parametrize("accept", [JSON, {}], ids=["json", "html"])
def test_limits_are_answered_as_documented(rdlmd, accept):
    daemon = rdlmd("--max-locks-per-client", "3", "--max-waiters-per-resource", "1")
    with held_and_queued(daemon, "full"):
        # A second waiter on the resource: the queue is full, 503.
        refused = conforms("POST", "/locks/{resource}", acquire(daemon, "full", wait=30, headers=accept), resource="full")
        assert refused.status_code == 503
        assert acquire(daemon, "other").status_code == 201
        # The fourth lock of this client: 429 with Retry-After.
        quota = conforms("POST", "/locks/{resource}", acquire(daemon, "another", headers=accept), resource="another")
        assert quota.status_code == 429 and quota.headers["Retry-After"] == "1"
        too_large = requests.post(url(daemon, "/locks/x"), data=b"{" + b" " * 9000 + b"}", headers=accept, timeout=10)
        conforms("POST", "/locks/{resource}", too_large, resource="x")
        assert too_large.status_code == 413


def test_a_connection_beyond_the_limit_is_a_documented_503(rdlmd):
    daemon = rdlmd("--max-connections", "1")

    def served_connection():
        # The fixture's own probe may not be counted as closed yet: until it is, this one
        # is the connection too many.
        connection = socket.create_connection(("127.0.0.1", daemon.port), timeout=10)
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        if connection.recv(4096).startswith(b"HTTP/1.1 200"):
            return connection
        connection.close()
        return None
    with wait_until(served_connection, timeout=30, what="a connection to be served"):
        answer = wait_for_status(daemon, "/health", 503, "the second connection to be refused")
    conforms("GET", "/health", answer)
    assert answer.headers["Retry-After"] == "1"


def test_ready_when_the_journal_directory_is_gone_is_a_documented_503(rdlmd, tmp_path):
    directory = tmp_path / "data"
    daemon = rdlmd("--data-dir", str(directory))
    conforms("GET", "/ready", requests.get(url(daemon, "/ready"), timeout=10))
    shutil.rmtree(directory)
    answer = wait_for_status(daemon, "/ready", 503, "/ready to report the journal")
    conforms("GET", "/ready", answer)
    assert answer.json()["ready"] is False
