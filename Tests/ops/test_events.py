"""GET /events, the Server-Sent Events stream of every change, against the daemon binary:
the order and content of events for a scripted sequence, the snapshot, the filter,
Last-Event-ID, heartbeats, the admin rule, and a slow consumer dropped without slowing
anyone's locks."""
import base64
import http.client
import json
import socket
import threading
import time

from conftest import ROOT, wait_until

# scripts/test.sh installs both; the schemas are those of docs/openapi.yaml.
import jsonschema
import yaml

_validators = {}


def check_schema(event):
    """The event's data matches its schema in docs/openapi.yaml."""
    if not _validators:
        with open(ROOT + "/docs/openapi.yaml") as document:
            components = yaml.safe_load(document)["components"]
        for name in ["EventChange", "EventSnapshot", "EventReset"]:
            schema = {"$ref": "#/components/schemas/" + name, "components": components}
            _validators[name] = jsonschema.Draft202012Validator(schema)
    name = {"snapshot": "EventSnapshot", "reset": "EventReset"}.get(event["event"], "EventChange")
    _validators[name].validate(event["data"])


class Stream:
    """A client of /events that reads one event at a time (with a deadline)."""

    def __init__(self, port, path="/events", headers=None, timeout=30):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.connection.request("GET", path, headers=headers or {})
        self.response = self.connection.getresponse()
        self.comments = 0

    @property
    def status(self):
        return self.response.status

    def next(self):
        """The next event as {"id", "event", "data"}, data parsed; comments are counted."""
        fields = {}
        while True:
            line = self.response.fp.readline()
            if not line:
                raise EOFError("the stream ended")
            line = line.decode().rstrip("\n")
            if line == "":
                if "event" in fields:
                    fields["data"] = json.loads(fields.get("data", "null"))
                    check_schema(fields)
                    return fields
                fields = {}
                continue
            if line.startswith(":"):
                self.comments += 1
                continue
            name, _, value = line.partition(": ")
            fields[name] = value

    def close(self):
        self.connection.close()


def acquire(daemon, resource, title="t", lifetime=30, wait=5, timeout=10):
    body = json.dumps({"title": title, "lifetime": lifetime, "wait": wait})
    return daemon.request("POST", "/locks/" + resource, body, timeout=timeout)


def path_of(answer):
    return "/" + answer.headers["Location"].split("/", 3)[3]


def uid_of(answer):
    return answer.headers["Location"].rsplit("/", 1)[1]


def test_a_scripted_sequence_in_order_with_its_content(rdlmd):
    daemon = rdlmd()
    stream = Stream(daemon.port)
    assert stream.status == 200
    assert stream.response.getheader("Content-Type").startswith("text/event-stream")
    first = stream.next()
    assert first["event"] == "snapshot" and first["data"]["resources"] == []

    holder = acquire(daemon, "deploy", title="first holder")
    assert holder.status == 201
    waiter_answer = {}
    waiter = threading.Thread(target=lambda: waiter_answer.update(answer=acquire(daemon, "deploy", title="second", lifetime=30, wait=30, timeout=40)))
    waiter.start()
    granted, waiting = stream.next(), stream.next()
    assert (granted["event"], waiting["event"]) == ("granted", "waiting")
    assert granted["data"]["lock"]["uid"] == uid_of(holder)
    assert granted["data"]["lock"]["fencing_token"] == int(holder.headers["RDLM-Fencing-Token"])
    assert granted["data"]["lock"]["title"] == "first holder" and granted["data"]["lock"]["mode"] == "exclusive"
    assert waiting["data"]["resource"] == "deploy" and waiting["data"]["lock"]["active"] is False
    assert "wait_expires" in waiting["data"]["lock"]

    assert daemon.request("DELETE", path_of(holder)).status == 204
    released, handed = stream.next(), stream.next()
    assert (released["event"], released["data"]["lock"]["uid"]) == ("released", uid_of(holder))
    waiter.join(timeout=30)
    second = waiter_answer["answer"]
    assert second.status == 201
    assert (handed["event"], handed["data"]["lock"]["uid"]) == ("granted", uid_of(second))
    assert handed["data"]["lock"]["fencing_token"] > granted["data"]["lock"]["fencing_token"]

    assert daemon.request("PATCH", path_of(second), json.dumps({"lifetime": 0.3})).status == 200
    refreshed = stream.next()
    assert refreshed["event"] == "refreshed" and refreshed["data"]["lock"]["lifetime"] == 0.3
    expired = stream.next()
    assert (expired["event"], expired["data"]["lock"]["uid"]) == ("expired", uid_of(second))

    third = acquire(daemon, "deploy", title="third")
    late = acquire(daemon, "deploy", title="late", wait=0.2)
    assert late.status == 408
    events = [stream.next() for _ in range(3)]
    assert [e["event"] for e in events] == ["granted", "waiting", "withdrawn"]
    assert events[2]["data"]["lock"]["title"] == "late"
    assert daemon.request("DELETE", "/resources/deploy").status == 204
    deleted = stream.next()
    assert (deleted["event"], deleted["data"]["lock"]["uid"]) == ("deleted", uid_of(third))

    check_numbered([first, granted, waiting, released, handed, refreshed, expired, *events, deleted])
    stream.close()


def check_numbered(everything):
    """A snapshot then changes: numbered in order, one number each, each with its time."""
    numbers = [int(e["id"].rsplit("-", 1)[1]) for e in everything]
    assert numbers == sorted(numbers) and len(set(numbers[1:])) == len(numbers) - 1
    for event in everything[1:]:
        assert event["data"]["time"].endswith("Z") and event["data"]["event"] == event["event"]


def test_the_snapshot_and_the_filter(rdlmd):
    daemon = rdlmd()
    held = acquire(daemon, "alpha", title="holds alpha")
    acquire(daemon, "beta")
    stream = Stream(daemon.port, "/events?resource=alpha")
    snapshot = stream.next()
    assert snapshot["event"] == "snapshot"
    assert [r["name"] for r in snapshot["data"]["resources"]] == ["alpha"]
    assert snapshot["data"]["resources"][0]["locks"][0]["uid"] == uid_of(held)
    acquire(daemon, "beta", wait=0)
    assert daemon.request("DELETE", path_of(held)).status == 204
    event = stream.next()
    assert (event["event"], event["data"]["resource"]) == ("released", "alpha")
    stream.close()
    everything = Stream(daemon.port).next()
    assert [r["name"] for r in everything["data"]["resources"]] == ["beta"]
    for query in ["?resource=", "?resource=no-dash", "?name=alpha"]:
        answer = daemon.request("GET", "/events" + query)
        assert answer.status == 400 and "resource=NAME" in answer.body


def test_last_event_id_resumes_or_resets(rdlmd):
    daemon = rdlmd("--event-history", 5)
    stream = Stream(daemon.port)
    stream.next()
    acquire(daemon, "resume")
    seen = stream.next()
    stream.close()
    missed = [acquire(daemon, "other%d" % n) for n in range(2)]
    resumed = Stream(daemon.port, headers={"Last-Event-ID": seen["id"]})
    got = [resumed.next(), resumed.next()]
    assert [e["data"]["lock"]["uid"] for e in got] == [uid_of(a) for a in missed]
    assert all(e["event"] == "granted" for e in got)
    resumed.close()
    # More than the history keeps, or an id of another process: a reset, then a snapshot.
    for n in range(6):
        acquire(daemon, "flood%d" % n)
    for last in [seen["id"], "0badc0de-3", "junk"]:
        reset = Stream(daemon.port, headers={"Last-Event-ID": last})
        first, second = reset.next(), reset.next()
        assert first["event"] == "reset" and "Last-Event-ID" in first["data"]["reason"]
        assert second["event"] == "snapshot"
        names = sorted(r["name"] for r in second["data"]["resources"])
        assert names == ["flood%d" % n for n in range(6)] + ["other0", "other1", "resume"]
        reset.close()


def test_heartbeats_keep_an_idle_stream_alive(rdlmd):
    daemon = rdlmd("--event-heartbeat", 0.2)
    stream = Stream(daemon.port)
    stream.next()
    wait_until(lambda: stream.response.fp.readline() == b": heartbeat\n", timeout=30, what="a heartbeat")
    stream.close()


def test_the_admin_rule(rdlmd, tmp_path):
    admins = tmp_path / "admins"
    admins.write_text("viewer:secret\n")
    daemon = rdlmd("--admin-userpass-file", admins)
    assert daemon.request("GET", "/events").status == 401
    stream = Stream(daemon.port, headers={"Authorization": "Basic " + base64.b64encode(b"viewer:secret").decode()})
    assert stream.status == 200 and stream.next()["event"] == "snapshot"
    stream.close()
    assert rdlmd("--admin-userpass-file", "no").request("GET", "/events").status == 403


def test_a_slow_consumer_is_dropped_and_nobody_waits_for_it(rdlmd):
    daemon = rdlmd("--event-buffer", 50)
    # A client that asks for the stream and never reads: small buffers on its side.
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect(("127.0.0.1", daemon.port))
    slow.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
    wait_until(lambda: "rdlm_event_streams 1.0" in daemon.request("GET", "/metrics").body, timeout=30, what="the stream is open")

    connection = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10)
    body = json.dumps({"title": "x" * 1000, "lifetime": 30, "wait": 5})
    slowest = 0.0
    for _ in range(3000):
        started = time.monotonic()
        connection.request("POST", "/locks/busy", body)
        answer = connection.getresponse()
        answer.read()
        assert answer.status == 201
        connection.request("DELETE", "/" + answer.getheader("Location").split("/", 3)[3])
        released = connection.getresponse()
        released.read()
        assert released.status == 204
        slowest = max(slowest, time.monotonic() - started)
        if "rdlm_event_stream_drops_total 1" in daemon.request("GET", "/metrics").body:
            break
    connection.close()
    metrics = daemon.request("GET", "/metrics").body
    assert "rdlm_event_stream_drops_total 1" in metrics, "the slow stream was never dropped"
    assert slowest < 2.0, "an acquire and release took %.2f s while a stream was stuck" % slowest
    # What reached the client ends with the reset that says why, then the connection closes.
    slow.settimeout(30)
    received = b""
    while True:
        chunk = slow.recv(65536)
        if not chunk:
            break
        received += chunk
    assert received.rstrip().split(b"\n\n")[-1].startswith(b"event: reset\ndata: {\"reason\":\"this client fell 50 changes behind")
    wait_until(lambda: "rdlm_event_streams 0.0" in daemon.request("GET", "/metrics").body, timeout=30, what="the stream is gone")


def test_a_window_larger_than_the_buffer_drops_no_consumer_that_keeps_up(rdlmd):
    # One admin delete of a resource with 12 shared holders publishes 12 changes at once, so
    # they reach the stream in one window: more than --event-buffer, none of them late.
    daemon = rdlmd("--event-buffer", 5)
    stream = Stream(daemon.port)
    stream.next()
    body = json.dumps({"title": "reader", "lifetime": 30, "wait": 5, "mode": "shared"})
    for _ in range(12):
        assert daemon.request("POST", "/locks/wide", body).status == 201
    assert [stream.next()["event"] for _ in range(12)] == ["granted"] * 12
    assert daemon.request("DELETE", "/resources/wide").status == 204
    assert [stream.next()["event"] for _ in range(12)] == ["deleted"] * 12
    metrics = daemon.request("GET", "/metrics").body
    assert "rdlm_event_stream_drops_total 0" in metrics and "rdlm_event_streams 1.0" in metrics
    stream.close()


def test_shutdown_ends_the_streams(rdlmd):
    daemon = rdlmd()
    stream = Stream(daemon.port)
    stream.next()
    daemon.process.terminate()
    assert daemon.process.wait(timeout=10) == 0
    try:
        stream.next()
        assert False, "an event after shutdown"
    except (EOFError, ConnectionError):
        pass
