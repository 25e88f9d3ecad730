"""A checker for histories of lock operations recorded against several rdlmd daemons.

A history is what the clients saw, timed with time.monotonic() in one process, plus what
the nemesis did. Every time is measured on the safe side of what the daemons did: a lock is
taken to be held from the moment its 201 arrived (it was granted earlier) until its release
was sent or its acquire's send time plus its lifetime passed (it was granted after the
request was sent, so it cannot have expired earlier). Two such intervals that overlap are
therefore two holders at once, whatever the network delays were.

`check(history, ...)` returns a list of `Anomaly`, each naming the records involved.
"""
import threading
from dataclasses import dataclass, field
from typing import List, Optional

ACQUIRE, RELEASE, REFRESH, WRITE, SHOW = "acquire", "release", "refresh", "write", "show"
EXCLUSIVE, SHARED = "exclusive", "shared"

# Faults that make a daemon unable to answer while they last: its clients are exempt from
# the answer bound for that time. Faults of etcd members are no excuse: the daemons must
# fail over within the bound.
DAEMON_FAULTS = ("kill-daemon", "pause-daemon")


@dataclass
class Op:
    """One request a client made, and what it got. `answered` is when the answer (or the
    connection failure, or the client's own timeout) arrived; `status` is None when no
    HTTP answer came, with `error` saying why."""
    client: str
    daemon: str
    op: str
    resource: str
    sent: float
    answered: Optional[float] = None
    status: Optional[int] = None
    token: Optional[int] = None
    lock_url: Optional[str] = None
    lifetime: Optional[float] = None
    wait: Optional[float] = None
    mode: str = EXCLUSIVE
    error: Optional[str] = None
    accepted: Optional[bool] = None  # write: did the storage take it
    active: Optional[bool] = None    # show: was the lock listed as active
    request_id: Optional[str] = None

    @property
    def uid(self):
        """Lock URLs differ by the daemon they came through (Host); the uid names the lock."""
        return self.lock_url.rstrip("/").rsplit("/", 1)[-1] if self.lock_url else None

    def __str__(self):
        parts = ["%s %s %s via %s" % (self.client, self.op, self.resource, self.daemon),
                 "sent %.3f" % self.sent,
                 "answered %s" % ("%.3f" % self.answered if self.answered is not None else "never"),
                 "status %s" % self.status]
        for name in ("token", "uid", "lifetime", "wait", "accepted", "active", "error"):
            value = getattr(self, name)
            if value is not None:
                parts.append("%s %s" % (name, value))
        return "<" + ", ".join(parts) + ">"


@dataclass
class Fault:
    """What the nemesis did: `kind` to `target` (a daemon URL or an etcd member number)
    from `start` until `end`, when the target answered again."""
    kind: str
    target: object
    start: float
    end: Optional[float] = None

    def __str__(self):
        end = "%.3f" % self.end if self.end is not None else "never"
        return "<fault %s %s from %.3f to %s>" % (self.kind, self.target, self.start, end)


@dataclass
class Anomaly:
    kind: str
    message: str
    records: list = field(default_factory=list)

    def __str__(self):
        return "%s: %s\n    %s" % (self.kind, self.message, "\n    ".join(str(r) for r in self.records))


class History:
    """Records from many threads; `ops` and `faults` are read once the threads are done."""

    def __init__(self, daemons=()):
        self.daemons = list(daemons)
        self.ops: List[Op] = []
        self.faults: List[Fault] = []
        self.nemesis_stopped: Optional[float] = None
        self._lock = threading.Lock()

    def add(self, op):
        with self._lock:
            self.ops.append(op)
        return op

    def fault(self, fault):
        with self._lock:
            self.faults.append(fault)
        return fault


class FakeStorage:
    """The storage a lock guards: it takes a write only if its token is at least the
    highest it has seen for the resource (the holder may write more than once)."""

    def __init__(self):
        self.highest = {}
        self._lock = threading.Lock()

    def write(self, resource, token):
        with self._lock:
            if token < self.highest.get(resource, -1):
                return False
            self.highest[resource] = token
            return True


@dataclass
class Holder:
    """A granted lock and the interval in which it is certainly held."""
    grant: Op
    start: float
    end: float
    ended_by: list

    @property
    def records(self):
        return [self.grant] + self.ended_by


def holders(history):
    """Every 201, with the interval its lock was certainly held in (maybe empty, when the
    answer came after the lifetime had run out)."""
    releases, refreshes = {}, {}
    for op in history.ops:
        if op.op == RELEASE and op.uid:
            releases.setdefault(op.uid, []).append(op)
        elif op.op == REFRESH and op.status == 200 and op.uid:
            refreshes.setdefault(op.uid, []).append(op)
    # A retry carries the first attempt's RDLM-Request-Id and may be answered with the grant
    # the first attempt made: the lifetime may have started as early as the first send.
    first_sent = {}
    for op in history.ops:
        if op.op == ACQUIRE and op.request_id:
            first_sent[op.request_id] = min(op.sent, first_sent.get(op.request_id, op.sent))
    found = []
    for op in history.ops:
        if op.op != ACQUIRE or op.status != 201:
            continue
        expires, ended_by = first_sent.get(op.request_id, op.sent) + op.lifetime, []
        for refresh in refreshes.get(op.uid, []):
            if refresh.lifetime is not None and refresh.sent + refresh.lifetime > expires:
                expires, ended_by = refresh.sent + refresh.lifetime, [refresh]
        end = expires
        for release in releases.get(op.uid, []):
            if release.sent < end:
                end, ended_by = release.sent, [release]
        found.append(Holder(op, op.answered, end, ended_by))
    return found


def overlapping_holders(history):
    """No two holders of a resource at once, unless both are shared."""
    anomalies = []
    by_resource = {}
    for holder in holders(history):
        if holder.end > holder.start:
            by_resource.setdefault(holder.grant.resource, []).append(holder)
    for resource, found in by_resource.items():
        found.sort(key=lambda h: h.start)
        for i, a in enumerate(found):
            for b in found[i + 1:]:
                if b.start >= a.end:
                    break  # sorted by start: no later one overlaps a either
                if a.grant.mode == SHARED and b.grant.mode == SHARED:
                    continue
                anomalies.append(Anomaly(
                    "overlap", "%s held by two at once from %.3f to %.3f"
                    % (resource, b.start, min(a.end, b.end)), a.records + b.records))
    return anomalies


def tokens_backwards(history):
    """A holder that started after another's interval ended has the bigger token."""
    anomalies = []
    by_resource = {}
    for holder in holders(history):
        if holder.end > holder.start and holder.grant.mode == EXCLUSIVE:
            by_resource.setdefault(holder.grant.resource, []).append(holder)
    for resource, found in by_resource.items():
        found.sort(key=lambda h: h.start)
        for i, later in enumerate(found):
            for earlier in found[:i]:
                if earlier.end <= later.start and not later.grant.token > earlier.grant.token:
                    anomalies.append(Anomaly(
                        "token", "%s: token %s granted after token %s" % (
                            resource, later.grant.token, earlier.grant.token),
                        [earlier.grant, later.grant]))
    return anomalies


def releases_undone(history):
    """After a 204 for a lock, nobody refreshes it (200) or sees it active."""
    anomalies = []
    released = {}
    for op in history.ops:
        if op.op == RELEASE and op.status == 204 and op.uid:
            if op.uid not in released or op.answered < released[op.uid].answered:
                released[op.uid] = op
    for op in history.ops:
        release = released.get(op.uid) if op.uid else None
        if release is None or op.sent <= release.answered:
            continue
        if op.op == REFRESH and op.status == 200:
            anomalies.append(Anomaly("release-undone", "lock %s refreshed after its release was acknowledged"
                                     % op.uid, [release, op]))
        elif op.op == SHOW and op.active:
            anomalies.append(Anomaly("release-undone", "lock %s shown active after its release was acknowledged"
                                     % op.uid, [release, op]))
    return anomalies


def refreshes_after_expiry(history, slack=0.25):
    """A refresh never re-acquires a lost lock: one sent after the lock had certainly expired
    (its 201 or its last refresh answered more than a lifetime before) must not get 200.
    `slack` allows for a daemon's timer firing a little late."""
    refreshes = {}
    for op in history.ops:
        if op.op == REFRESH and op.status == 200 and op.uid:
            refreshes.setdefault(op.uid, []).append(op)
    anomalies = []
    for op in history.ops:
        if op.op != ACQUIRE or op.status != 201 or op.uid not in refreshes:
            continue
        expired = op.answered + op.lifetime
        for refresh in sorted(refreshes[op.uid], key=lambda r: r.sent):
            if refresh.sent > expired + slack:
                anomalies.append(Anomaly("refresh-revived", "lock %s refreshed %.3f s after it had expired"
                                         % (op.uid, refresh.sent - expired), [op, refresh]))
            expired = max(expired, refresh.answered + (refresh.lifetime or op.lifetime))
    return anomalies


def answer_limit(op, faults, bound):
    """When `op` must have had its answer: its deadline plus `bound`, extended past every
    kill or pause of its daemon that began before then (plus `bound` to recover)."""
    limit = op.sent + ((op.wait or 0) if op.op == ACQUIRE else 0) + bound
    changed = True
    while changed:
        changed = False
        for fault in daemon_faults(op, faults):
            if fault.start <= limit:
                if fault.end is None:
                    return None  # down until the end: no bound
                if fault.end + bound > limit:
                    limit, changed = fault.end + bound, True
    return limit


def daemon_faults(op, faults):
    """The kills and pauses of `op`'s daemon that had not ended when it was sent."""
    return [f for f in faults if f.kind in DAEMON_FAULTS and f.target == op.daemon
            and (f.end is None or f.end > op.sent)]


def late_answers(history, bound):
    """Every request answered by its deadline plus `bound`; a request that never got an
    answer (no time recorded) is late too. A request that got no HTTP answer at all (a
    refused or reset connection, the client's own timeout) is an anomaly unless its daemon
    was killed or paused meanwhile: the clients open a connection per request, so a
    restarted daemon leaves no stale connection behind."""
    anomalies = []
    for op in history.ops:
        if op.op not in (ACQUIRE, RELEASE, REFRESH, SHOW):
            continue
        if op.status is None and op.answered is not None:
            down = [f for f in daemon_faults(op, history.faults) if f.start <= op.answered]
            if not down:
                anomalies.append(Anomaly("no-answer", "no HTTP answer (%s) from a daemon that was up" % op.error,
                                         [op]))
                continue
        limit = answer_limit(op, history.faults, bound)
        if limit is None:
            continue
        if op.answered is None or op.answered > limit:
            involved = [op] + [f for f in history.faults if f.start <= (op.answered or limit) and
                               (f.end is None or f.end >= op.sent)]
            anomalies.append(Anomaly("late", "answer due by %.3f, came %s" % (
                limit, "%.3f" % op.answered if op.answered is not None else "never"), involved))
    return anomalies


def no_recovery(history, bound):
    """Once the nemesis stopped, each daemon granted a lock (an acquire sent after that,
    answered 201) within `bound`."""
    stopped = history.nemesis_stopped
    if stopped is None:
        ends = [f.end for f in history.faults]
        if not ends:
            return []
        if None in ends:
            return [Anomaly("no-recovery", "a fault never ended", [f for f in history.faults if f.end is None])]
        stopped = max(ends)
    anomalies = []
    for daemon in history.daemons:
        if not any(op.op == ACQUIRE and op.daemon == daemon and op.status == 201 and op.sent >= stopped
                   and op.answered <= stopped + bound for op in history.ops):
            tried = [op for op in history.ops if op.op == ACQUIRE and op.daemon == daemon and op.sent >= stopped]
            anomalies.append(Anomaly("no-recovery", "%s granted nothing within %s s of the nemesis stopping at %.3f"
                                     % (daemon, bound, stopped), tried[-5:]))
    return anomalies


def rejected_writes(history):
    """The storage refused a write by a client that was within its lock's interval: the
    token of a lock it certainly held was below one already used."""
    intervals = {h.grant.uid: h for h in holders(history)}
    anomalies = []
    for op in history.ops:
        if op.op == WRITE and op.accepted is False:
            holder = intervals.get(op.uid)
            if holder is not None and holder.start <= op.sent < holder.end:
                anomalies.append(Anomaly("write-rejected", "%s: token %s refused while its lock was held"
                                         % (op.resource, op.token), [holder.grant, op]))
    return anomalies


def check(history, answer_bound, recovery_bound):
    """Every anomaly in `history`; an empty list means it passed."""
    return (overlapping_holders(history) + tokens_backwards(history) + releases_undone(history)
            + refreshes_after_expiry(history) + late_answers(history, answer_bound) + no_recovery(history, recovery_bound)
            + rejected_writes(history))


def summary(history, anomalies):
    """The line the fault test prints."""
    ops = [op for op in history.ops if op.op != WRITE]
    grants = sum(1 for op in ops if op.op == ACQUIRE and op.status == 201)
    writes = [op for op in history.ops if op.op == WRITE]
    statuses = {}
    for op in ops:
        if op.op == ACQUIRE:
            key = str(op.status) if op.status is not None else (op.error or "none")
            statuses[key] = statuses.get(key, 0) + 1
    kinds = {}
    for fault in history.faults:
        kinds[fault.kind] = kinds.get(fault.kind, 0) + 1
    return ("fault run: %d operations, %d grants, %d writes (%d refused), %d faults injected (%s), "
            "acquire outcomes %s, %d anomalies" % (
                len(ops), grants, len(writes), sum(1 for w in writes if not w.accepted), len(history.faults),
                ", ".join("%s %d" % kv for kv in sorted(kinds.items())) or "none",
                " ".join("%s:%d" % kv for kv in sorted(statuses.items())), len(anomalies)))
