"""The fault test: client threads lock, write with their token, and release through random
daemons while a nemesis kills and pauses daemons and kills etcd members; the checker then
reads the whole history. RDLM_FAULT_SECONDS sets how long the nemesis runs (default 60)."""
import dataclasses
import os
import random
import threading
import time

from checker import FakeStorage, Fault, History, check, summary
from checker import holders as checker_holders
from harness import ETCD_TIMEOUT, SESSION_TTL, RecordingClient, request_id, wait_until

SECONDS = float(os.environ.get("RDLM_FAULT_SECONDS", "60"))
CLIENTS = 6
RESOURCES = ("fa", "fb", "fc")
WAIT = 5.0
# Any answer within its wait plus this: an acquire may need an etcd request that times out
# on a dead member (ETCD_TIMEOUT) and its retry on another, plus a leader election (about
# 1 s at --election-timeout 1000) and the scheduling delays of a loaded 2-core machine.
ANSWER_BOUND = 2 * ETCD_TIMEOUT + 3.0
# Once every fault is healed, each daemon grants within this: a new session (one lease
# grant, at most ETCD_TIMEOUT) after its keep-alive finds the old one gone (SESSION_TTL).
RECOVERY_BOUND = SESSION_TTL + 2 * ETCD_TIMEOUT + 4.0
ATTEMPTS = 3  # an acquire that gets no answer is retried on the other daemons, same id


class Worker(threading.Thread):
    """acquire -> write with the token -> (sometimes refresh) -> release, until told to stop."""

    def __init__(self, name, space, history, storage, stop):
        super().__init__(name=name, daemon=True)
        self.client = RecordingClient(name, history, ANSWER_BOUND)
        self.space, self.storage, self.stop = space, storage, stop
        self.random = random.Random(name)
        self.failure = None

    def others(self, daemon):
        rest = [d for d in self.space.daemons if d is not daemon]
        self.random.shuffle(rest)
        return rest

    def acquire(self, resource):
        daemon = self.random.choice(self.space.daemons)
        rid, lifetime = request_id(), round(self.random.uniform(2, 5), 2)
        for candidate in [daemon] + self.others(daemon)[:ATTEMPTS - 1]:
            op = self.client.acquire(candidate, resource, lifetime, WAIT, rid)
            if op.status is not None:
                return op
        return op

    def each_daemon_once(self, act):
        """`act(daemon)` through a random daemon, then the others while none answers."""
        first = self.random.choice(self.space.daemons)
        for daemon in [first] + self.others(first):
            op = act(daemon)
            if op.status is not None:
                return op
        return op

    def cycle(self):
        op = self.acquire(self.random.choice(RESOURCES))
        if op.status != 201:
            if op.status is None or op.status >= 500:
                self.stop.wait(0.1)  # not a busy loop while a daemon or etcd is down
            return
        self.client.write(self.storage, op)
        if self.random.random() < 0.2:
            refreshed = self.each_daemon_once(lambda d: self.client.refresh(d, op, op.lifetime))
            if refreshed.status == 200:
                self.client.write(self.storage, op)
        released = self.each_daemon_once(lambda d: self.client.release(d, op))
        if released.status == 204 and self.random.random() < 0.3:
            self.each_daemon_once(lambda d: self.client.show(d, op))

    def run(self):
        try:
            while not self.stop.is_set():
                self.cycle()
        except BaseException as error:  # reported by the test, not lost in a thread
            self.failure = error


class Nemesis(threading.Thread):
    """Cycles through its faults until `until`; every fault is healed before the next."""

    def __init__(self, space, history, until):
        super().__init__(name="nemesis", daemon=True)
        self.space, self.history, self.until = space, history, until
        self.random = random.Random(7)
        self.failure = None

    def kill_daemon(self):
        daemon = self.random.choice(self.space.daemons)
        fault = self.history.fault(Fault("kill-daemon", daemon.url, time.monotonic()))
        daemon.kill()
        time.sleep(self.random.uniform(0.5, 2))  # how long it stays dead: part of the fault
        daemon.restart()
        fault.end = time.monotonic()

    def kill_member(self):
        n = self.random.randint(1, 3)
        fault = self.history.fault(Fault("kill-member", n, time.monotonic()))
        self.space.cluster.stop_member(n)
        time.sleep(self.random.uniform(1, 3))
        self.space.cluster.start_member(n)
        fault.end = time.monotonic()

    def pause_daemon(self):
        daemon = self.random.choice(self.space.daemons)
        fault = self.history.fault(Fault("pause-daemon", daemon.url, time.monotonic()))
        daemon.pause()
        time.sleep(self.random.uniform(1, SESSION_TTL + 2))  # sometimes past its session's TTL
        daemon.resume()
        wait_until(daemon.answers, timeout=30, what="%s to answer after SIGCONT" % daemon.name)
        fault.end = time.monotonic()

    def run(self):
        faults = [self.kill_daemon, self.kill_member, self.pause_daemon]
        try:
            i = 0
            while time.monotonic() < self.until:
                faults[i % len(faults)]()
                i += 1
                time.sleep(self.random.uniform(1, 3))  # a quiet spell between faults
        except BaseException as error:
            self.failure = error
        finally:
            self.history.nemesis_stopped = time.monotonic()


def probe_recovery(space, history):
    """After the nemesis: acquire through each daemon until it grants, recorded."""
    client = RecordingClient("probe", history, ANSWER_BOUND)
    for daemon in space.daemons:
        deadline = time.monotonic() + RECOVERY_BOUND + 10
        while time.monotonic() < deadline:
            op = client.acquire(daemon, "probe", 5, 0.5, request_id())
            if op.status == 201:
                client.release(daemon, op)
                break
            time.sleep(0.1)


def run_fault_test(space, seconds):
    history, storage, stop = History([d.url for d in space.daemons]), FakeStorage(), threading.Event()
    workers = [Worker("c%d" % i, space, history, storage, stop) for i in range(CLIENTS)]
    nemesis = Nemesis(space, history, time.monotonic() + seconds)
    for thread in workers + [nemesis]:
        thread.start()
    try:
        nemesis.join()
        wait_until(lambda: history.nemesis_stopped, timeout=10, what="the nemesis to stop")
        probe_recovery(space, history)
    finally:
        stop.set()
        for thread in workers:
            thread.join(timeout=WAIT + ANSWER_BOUND + 30)
    for thread in workers + [nemesis]:
        assert thread.failure is None, "%s failed: %r" % (thread.name, thread.failure)
    return history


def test_no_anomaly_under_kills_and_pauses(space, report):
    history = run_fault_test(space, SECONDS)
    anomalies = check(history, ANSWER_BOUND, RECOVERY_BOUND)
    report(summary(history, anomalies))
    for anomaly in anomalies[:20]:
        print(anomaly)
    assert sum(1 for op in history.ops if op.op == "acquire" and op.status == 201) > 0
    assert len(history.faults) >= 3, "the nemesis injected too few faults to mean anything"
    assert anomalies == [], "%d anomalies; logs:\n%s" % (len(anomalies), space.logs())
    assert_checker_sees_breakage(history)


def assert_checker_sees_breakage(history):
    """The recorded history, broken two ways, fails the checker: the run above was checked
    by something that can fail on its data."""
    holders_by_resource = {}
    for holder in checker_holders(history):
        if holder.end > holder.start:
            holders_by_resource.setdefault(holder.grant.resource, []).append(holder)
    pair = None
    for found in holders_by_resource.values():
        found.sort(key=lambda h: h.start)
        pair = next(((a, b) for a, b in zip(found, found[1:]) if a.end <= b.start), None)
        if pair:
            break
    assert pair, "no two successive grants on one resource: the run tested nothing"
    earlier, later = pair

    def broken(change):
        copy = History(history.daemons)
        copy.faults, copy.nemesis_stopped = history.faults, history.nemesis_stopped
        copy.ops = [change(dataclasses.replace(op)) for op in history.ops]
        return {a.kind for a in check(copy, ANSWER_BOUND, RECOVERY_BOUND)}

    def token_backwards(op):
        if op.op == "acquire" and op.uid == later.grant.uid:
            op.token = earlier.grant.token
        return op

    def release_lost(op):
        if op.uid == earlier.grant.uid:
            if op.op == "release":
                op.lock_url = op.lock_url + "-forgotten"  # a release of another lock
            elif op.op == "acquire":
                op.lifetime = 1e6
        return op

    assert "token" in broken(token_backwards)
    assert "overlap" in broken(release_lost)
