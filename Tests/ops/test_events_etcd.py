"""GET /events on the etcd backend: three daemons share one lock space on a real cluster
(RDLM_TEST_ETCD_ENDPOINTS; skipped without it), and a stream on daemon A shows the changes
made through B and C, in etcd's order, with their uids and fencing tokens; the snapshot,
the filter and Last-Event-ID as on one daemon."""
import json
import os
import subprocess
import threading
import uuid

import pytest

from conftest import ROOT, wait_until
from test_events import Stream, acquire, check_numbered, path_of, uid_of

ENDPOINTS = os.environ.get("RDLM_TEST_ETCD_ENDPOINTS")
needs_cluster = pytest.mark.skipif(not ENDPOINTS, reason="needs an etcd cluster (RDLM_TEST_ETCD_ENDPOINTS)")


@pytest.fixture
def daemons(rdlmd):
    prefix = "/rdlm-events-%s/" % uuid.uuid4().hex
    return [rdlmd("--etcd-endpoints", ENDPOINTS, "--etcd-prefix", prefix, "--etcd-events") for _ in range(3)]


def open_stream(daemon, path="/events", headers=None):
    stream = Stream(daemon.port, path, headers=headers, timeout=60)
    assert stream.status == 200, stream.response.read()
    return stream


def waiting_acquire(daemon, resource, title, wait=30):
    """An acquire that waits, in a thread; its answer in the returned dict once joined."""
    answer = {}
    thread = threading.Thread(target=lambda: answer.update(answer=acquire(daemon, resource, title=title, lifetime=30, wait=wait, timeout=wait + 30)))
    thread.start()
    return thread, answer


@needs_cluster
def test_a_stream_shows_the_changes_made_through_the_other_daemons(daemons):
    a, b, c = daemons
    stream = open_stream(a)
    first = stream.next()
    assert first["event"] == "snapshot" and first["data"]["resources"] == []

    holder = acquire(b, "deploy", title="first holder")
    assert holder.status == 201
    granted = stream.next()
    assert (granted["event"], granted["data"]["lock"]["uid"]) == ("granted", uid_of(holder))
    assert granted["data"]["lock"]["fencing_token"] == int(holder.headers["RDLM-Fencing-Token"])
    assert granted["data"]["resource"] == "deploy" and granted["data"]["lock"]["title"] == "first holder"

    thread, waiter = waiting_acquire(c, "deploy", "second")
    waiting = stream.next()
    assert waiting["event"] == "waiting" and waiting["data"]["lock"]["title"] == "second"
    assert waiting["data"]["lock"]["active"] is False

    assert b.request("DELETE", path_of(holder)).status == 204
    released, handed = stream.next(), stream.next()
    assert (released["event"], released["data"]["lock"]["uid"]) == ("released", uid_of(holder))
    thread.join(timeout=60)
    second = waiter["answer"]
    assert second.status == 201
    assert (handed["event"], handed["data"]["lock"]["uid"]) == ("granted", uid_of(second))
    assert handed["data"]["lock"]["fencing_token"] == int(second.headers["RDLM-Fencing-Token"])
    assert handed["data"]["lock"]["uid"] == waiting["data"]["lock"]["uid"]

    assert c.request("PATCH", path_of(second), json.dumps({"lifetime": 0.5})).status == 200
    refreshed = stream.next()
    assert (refreshed["event"], refreshed["data"]["lock"]["uid"]) == ("refreshed", uid_of(second))
    assert refreshed["data"]["lock"]["lifetime"] == 0.5
    expired = stream.next()
    assert (expired["event"], expired["data"]["lock"]["uid"]) == ("expired", uid_of(second))

    third = acquire(b, "deploy", title="third")
    assert third.status == 201
    late = acquire(c, "deploy", title="late", wait=0.3)
    assert late.status == 408
    events = [stream.next() for _ in range(3)]
    assert [e["event"] for e in events] == ["granted", "waiting", "withdrawn"]
    assert events[0]["data"]["lock"]["uid"] == uid_of(third)
    assert events[2]["data"]["lock"]["title"] == "late"
    # An admin delete through another daemon looks like a release from here (etcd says only
    # that the key went).
    assert c.request("DELETE", "/resources/deploy").status == 204
    gone = stream.next()
    assert (gone["event"], gone["data"]["lock"]["uid"]) == ("released", uid_of(third))

    check_numbered([first, granted, waiting, released, handed, refreshed, expired, *events, gone])
    stream.close()


@needs_cluster
def test_snapshot_filter_and_last_event_id(daemons):
    a, b, c = daemons
    holder = acquire(b, "build", title="holder")
    assert holder.status == 201
    waiters = []
    for title, daemon in (("w1", c), ("w2", b)):
        watching = open_stream(a, "/events?resource=build")
        assert watching.next()["event"] == "snapshot"
        waiters.append(waiting_acquire(daemon, "build", title))
        assert watching.next()["event"] == "waiting"  # queued before the next one is asked
        watching.close()
    # A's mirror follows etcd's watch: wait for it to see the grant made through C, so that
    # the snapshot below is taken after it.
    watching = open_stream(a, "/events?resource=other")
    assert watching.next()["event"] == "snapshot"
    assert acquire(c, "other", title="elsewhere").status == 201
    assert watching.next()["event"] == "granted"
    watching.close()

    stream = open_stream(a)
    snapshot = stream.next()
    assert snapshot["event"] == "snapshot"
    resources = {r["name"]: r["locks"] for r in snapshot["data"]["resources"]}
    assert set(resources) == {"build", "other"}
    assert [lock["title"] for lock in resources["build"]] == ["holder", "w1", "w2"]
    assert resources["build"][0]["uid"] == uid_of(holder) and resources["build"][0]["active"] is True
    assert resources["build"][0]["fencing_token"] == int(holder.headers["RDLM-Fencing-Token"])

    filtered = open_stream(a, "/events?resource=other")
    only = filtered.next()
    assert [r["name"] for r in only["data"]["resources"]] == ["other"]

    last = snapshot["id"]
    stream.close()
    assert b.request("DELETE", path_of(holder)).status == 204
    waiters[0][0].join(timeout=60)  # w1 granted (by C, once it saw the release)
    assert waiters[0][1]["answer"].status == 201
    # Changes to "build" only: the filtered stream shows none of them, then this one.
    assert acquire(c, "other", title="second", wait=0.3).status == 408
    resumed = open_stream(a, headers={"Last-Event-ID": last})
    replay = [resumed.next() for _ in range(4)]
    assert [e["event"] for e in replay] == ["released", "granted", "waiting", "withdrawn"]
    assert replay[0]["data"]["lock"]["uid"] == uid_of(holder)
    assert replay[1]["data"]["lock"]["title"] == "w1"
    assert [filtered.next()["event"] for _ in range(2)] == ["waiting", "withdrawn"]
    assert c.request("DELETE", "/resources/build").status == 204
    for thread, answer in waiters:
        thread.join(timeout=60)
    assert waiters[1][1]["answer"].status == 409
    resumed.close()
    filtered.close()


def test_no_stream_while_etcd_is_unreachable(rdlmd):
    daemon = rdlmd("--etcd-endpoints", "http://127.0.0.1:9", "--etcd-prefix", "/rdlm-none/", "--etcd-events")
    answer = daemon.request("GET", "/events")
    assert answer.status == 503
    assert "lock space" in answer.body


FAULT_DIR = os.environ.get("RDLM_TEST_ETCD_FAULT_DIR")


def cluster(command):
    subprocess.run([os.path.join(ROOT, "scripts", "etcd-cluster.sh"), command, FAULT_DIR], check=True,
                   stdout=subprocess.DEVNULL, timeout=120)


@pytest.mark.skipif(not FAULT_DIR, reason="stops a cluster of its own (RDLM_TEST_ETCD_FAULT_DIR)")
def test_an_interrupted_watch_ends_the_streams_with_a_reset_and_no_id_resumes_across_it(rdlmd):
    with open(os.path.join(FAULT_DIR, "endpoints")) as endpoints:
        # No heartbeats: a stream that wrongly stays silent times out its reads (30 s).
        daemon = rdlmd("--etcd-endpoints", endpoints.read().strip(), "--etcd-prefix", "/rdlm-events-%s/" % uuid.uuid4().hex, "--etcd-events",
                       "--event-heartbeat", 3600)
    stream = open_stream(daemon)
    assert stream.next()["event"] == "snapshot"
    holder = acquire(daemon, "kept", title="survives", lifetime=600)
    assert holder.status == 201
    last = stream.next()
    assert last["event"] == "granted"
    cluster("stop")
    try:
        # No member for the watch's reconnect window (3 s): the stream ends with a reset.
        reset = stream.next()
        assert reset["event"] == "reset" and "etcd watch" in reset["data"]["reason"]
        with pytest.raises(EOFError):
            stream.next()
    finally:
        cluster("start")
    # Back: a new stream (503 until the lock space is read again) starts with a snapshot,
    # and the id seen before the gap does not resume (changes in the gap would be lost).

    def resumed():
        try:
            attempt = Stream(daemon.port, headers={"Last-Event-ID": last["id"]}, timeout=30)
        except OSError:
            return None
        if attempt.status != 200:
            attempt.close()
            return None
        return attempt
    again = wait_until(resumed, timeout=90, interval=0.2, what="/events served again")
    first, snapshot = again.next(), again.next()
    assert first["event"] == "reset"
    assert snapshot["event"] == "snapshot"
    assert [lock["uid"] for r in snapshot["data"]["resources"] for lock in r["locks"]] == [uid_of(holder)]
    again.close()


def test_without_etcd_events_the_stream_is_refused_with_the_flag_to_use(rdlmd):
    # The mirror's watch costs lock throughput, so it is opt-in: without the flag, 503 says so.
    daemon = rdlmd("--etcd-endpoints", "http://127.0.0.1:9", "--etcd-prefix", "/rdlm-noevents/")
    answer = daemon.request("GET", "/events")
    assert answer.status == 503 and "--etcd-events" in answer.body
