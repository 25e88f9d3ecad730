"""The checker catches each kind of broken history, built by hand, and passes a clean one.
Pure Python: no daemon, no etcd."""
from checker import (ACQUIRE, REFRESH, RELEASE, SHARED, SHOW, WRITE, Fault, FakeStorage, History, Op, check,
                     summary)

A, B = "http://127.0.0.1:1", "http://127.0.0.1:2"
ANSWER_BOUND, RECOVERY_BOUND = 3.0, 10.0


def grant(client, uid, sent, answered, token, lifetime=5.0, wait=5.0, daemon=A, resource="r", mode="exclusive"):
    return Op(client, daemon, ACQUIRE, resource, sent, answered, 201, token, "%s/locks/%s/%s" % (daemon, resource, uid),
              lifetime, wait, mode=mode)


def release(client, uid, sent, answered, status=204, daemon=A, resource="r"):
    return Op(client, daemon, RELEASE, resource, sent, answered, status, lock_url="%s/locks/%s/%s" % (daemon, resource, uid))


def write(client, uid, at, token, accepted, resource="r"):
    return Op(client, "storage", WRITE, resource, at, at, token=token, lock_url="x/locks/%s/%s" % (resource, uid),
              accepted=accepted)


def history(*ops, faults=(), daemons=(A, B)):
    h = History(daemons)
    for op in ops:
        h.add(op)
    for fault in faults:
        h.fault(fault)
    return h


def kinds(h):
    return sorted(a.kind for a in check(h, ANSWER_BOUND, RECOVERY_BOUND))


def clean():
    """Two clients taking turns on r through two daemons, a nemesis that paused B, and a
    grant through each daemon after it: nothing wrong."""
    return history(
        grant("c1", "u1", 0.0, 0.1, 10),
        write("c1", "u1", 0.2, 10, True),
        release("c1", "u1", 0.3, 0.35),
        grant("c2", "u2", 0.2, 0.4, 12, daemon=B),   # waited behind u1
        write("c2", "u2", 0.5, 12, True),
        Op("c2", B, REFRESH, "r", 0.6, 0.7, 200, lock_url=B + "/locks/r/u2", lifetime=5.0),
        release("c2", "u2", 0.8, 0.9, daemon=B),
        Op("c1", A, SHOW, "r", 1.0, 1.1, 200, lock_url=A + "/locks/r/u2", active=False),
        # sent to B while it was paused: answered long after its wait, but B was down
        Op("c1", B, ACQUIRE, "r", 1.5, 9.0, 408, lifetime=5.0, wait=1.0),
        grant("c1", "u3", 11.0, 11.2, 15, daemon=B),
        release("c1", "u3", 11.3, 11.4, daemon=B),
        grant("c2", "u4", 11.5, 11.6, 16, daemon=A),
        release("c2", "u4", 11.7, 11.8, daemon=A),
        faults=[Fault("pause-daemon", B, 1.2, 8.0), Fault("kill-member", 1, 8.5, 10.5)])


def test_a_clean_history_passes():
    h = clean()
    assert check(h, ANSWER_BOUND, RECOVERY_BOUND) == []
    assert "0 anomalies" in summary(h, [])


def test_overlapping_holders_are_caught():
    h = history(grant("c1", "u1", 0.0, 0.1, 10, lifetime=2.0),
                grant("c2", "u2", 0.5, 1.0, 11, daemon=B),  # u1 cannot have expired before 2.0
                release("c2", "u2", 1.5, 1.6, daemon=B))
    anomalies = check(h, ANSWER_BOUND, 1e9)
    assert [a.kind for a in anomalies] == ["overlap"]
    assert {op.uid for op in anomalies[0].records} == {"u1", "u2"}


def test_a_holder_whose_lifetime_ran_out_does_not_overlap_the_next():
    h = history(grant("c1", "u1", 0.0, 0.1, 10, lifetime=2.0),
                grant("c2", "u2", 0.5, 2.1, 11, daemon=B))
    assert kinds(h) == []


def test_a_retry_holds_from_its_first_attempt():
    """The retry (same request id, through B after A failed) may be answered with the grant
    the lost first attempt made, whose lifetime started then."""
    first = Op("c1", A, ACQUIRE, "r", 0.0, 0.1, None, lifetime=2.0, wait=5.0, error="reset", request_id="id1")
    retry = grant("c1", "id1", 0.5, 0.6, 10, lifetime=2.0, daemon=B)
    retry.request_id = "id1"
    h = history(first, retry, grant("c2", "u2", 2.1, 2.2, 11), faults=[Fault("kill-daemon", A, 0.05, 1.0)], daemons=())
    assert kinds(h) == []


def test_a_released_holder_does_not_overlap_the_next():
    h = history(grant("c1", "u1", 0.0, 0.1, 10), release("c1", "u1", 0.5, 3.0),
                grant("c2", "u2", 0.2, 0.6, 11, daemon=B))
    assert kinds(h) == []


def test_a_refresh_extends_the_interval():
    h = history(grant("c1", "u1", 0.0, 0.1, 10, lifetime=2.0),
                Op("c1", B, REFRESH, "r", 1.5, 1.6, 200, lock_url=B + "/locks/r/u1", lifetime=2.0),
                grant("c2", "u2", 0.5, 3.0, 11, daemon=B))
    assert kinds(h) == ["overlap"]


def test_shared_holders_may_overlap_but_not_with_an_exclusive_one():
    shared = [grant("c%d" % i, "s%d" % i, 0.0, 0.1, 10 + i, mode=SHARED) for i in range(3)]
    assert kinds(history(*shared)) == []
    assert kinds(history(*shared, grant("c9", "x", 0.0, 0.2, 20))) == ["overlap"] * 3


def test_a_token_going_backwards_is_caught():
    h = history(grant("c1", "u1", 0.0, 0.1, 10), release("c1", "u1", 0.2, 0.3),
                grant("c2", "u2", 0.0, 0.4, 9, daemon=B), release("c2", "u2", 0.5, 0.6, daemon=B))
    anomalies = check(h, ANSWER_BOUND, 1e9)
    assert [a.kind for a in anomalies] == ["token"]
    assert [op.token for op in anomalies[0].records] == [10, 9]


def test_equal_tokens_are_caught_too():
    h = history(grant("c1", "u1", 0.0, 0.1, 10), release("c1", "u1", 0.2, 0.3),
                grant("c2", "u2", 0.0, 0.4, 10, daemon=B))
    assert kinds(h) == ["token"]


def test_tokens_of_different_resources_are_not_compared():
    h = history(grant("c1", "u1", 0.0, 0.1, 10), release("c1", "u1", 0.2, 0.3),
                grant("c2", "u2", 0.0, 0.4, 9, daemon=B, resource="q"))
    assert kinds(h) == []


def test_a_release_that_did_not_stick_is_caught():
    h = history(grant("c1", "u1", 0.0, 0.1, 10), release("c1", "u1", 0.2, 0.3),
                Op("c1", B, REFRESH, "r", 0.4, 0.5, 200, lock_url=B + "/locks/r/u1", lifetime=5.0),
                Op("c2", B, SHOW, "r", 0.6, 0.7, 200, lock_url=B + "/locks/r/u1", active=True))
    assert kinds(h) == ["release-undone", "release-undone"]


def test_a_refresh_sent_before_the_release_was_acknowledged_may_succeed():
    h = history(grant("c1", "u1", 0.0, 0.1, 10), release("c1", "u1", 0.2, 0.5),
                Op("c1", B, REFRESH, "r", 0.3, 0.6, 200, lock_url=B + "/locks/r/u1", lifetime=5.0))
    assert kinds(h) == []


def test_a_refresh_that_revives_an_expired_lock_is_caught():
    h = history(grant("c1", "u1", 0.0, 0.1, 10, lifetime=2.0),
                Op("c1", B, REFRESH, "r", 1.5, 1.6, 200, lock_url=B + "/locks/r/u1", lifetime=2.0),
                Op("c1", B, REFRESH, "r", 3.5, 3.6, 200, lock_url=B + "/locks/r/u1", lifetime=2.0),  # in time
                Op("c1", B, REFRESH, "r", 6.0, 6.1, 200, lock_url=B + "/locks/r/u1", lifetime=2.0))  # expired 5.6
    anomalies = check(h, ANSWER_BOUND, 1e9)
    assert [a.kind for a in anomalies] == ["refresh-revived"]
    assert anomalies[0].records[1].sent == 6.0


def test_a_late_answer_is_caught():
    h = history(Op("c1", A, ACQUIRE, "r", 0.0, 5.0 + ANSWER_BOUND + 0.1, 408, lifetime=5.0, wait=5.0),
                Op("c1", A, RELEASE, "r", 10.0, 10.0 + ANSWER_BOUND + 0.1, 404, lock_url=A + "/locks/r/u9"))
    assert kinds(h) == ["late", "late"]


def test_an_answer_just_within_the_bound_is_not_late():
    h = history(Op("c1", A, ACQUIRE, "r", 0.0, 5.0 + ANSWER_BOUND - 0.01, 408, lifetime=5.0, wait=5.0))
    assert kinds(h) == []


def test_a_paused_daemon_is_exempt_only_while_paused():
    pause = Fault("pause-daemon", A, 1.0, 20.0)
    during = Op("c1", A, ACQUIRE, "r", 0.5, 20.0 + ANSWER_BOUND - 0.1, 408, lifetime=5.0, wait=1.0)
    too_late = Op("c2", A, ACQUIRE, "r", 0.5, 20.0 + ANSWER_BOUND + 0.1, 408, lifetime=5.0, wait=1.0)
    after = Op("c3", A, ACQUIRE, "r", 20.5, 20.5 + 1.0 + ANSWER_BOUND + 0.1, 408, lifetime=5.0, wait=1.0)
    other_daemon = Op("c4", B, ACQUIRE, "r", 2.0, 2.0 + 1.0 + ANSWER_BOUND + 0.1, 408, lifetime=5.0, wait=1.0)
    anomalies = check(history(during, too_late, after, other_daemon, faults=[pause], daemons=()), ANSWER_BOUND, 1e9)
    assert [(a.kind, a.records[0].client) for a in anomalies] == [("late", "c2"), ("late", "c3"), ("late", "c4")]


def test_an_etcd_member_fault_is_no_excuse():
    h = history(Op("c1", A, ACQUIRE, "r", 0.5, 9.0, 408, lifetime=5.0, wait=1.0),
                faults=[Fault("kill-member", 1, 0.0, 20.0)])
    assert "late" in kinds(h)


def test_a_request_never_answered_is_late():
    assert kinds(history(Op("c1", A, RELEASE, "r", 0.0, None, None, lock_url=A + "/locks/r/u1"))) == ["late"]


def test_a_dropped_connection_from_a_daemon_that_was_up_is_caught():
    dropped = Op("c1", A, ACQUIRE, "r", 0.0, 0.1, None, lifetime=5.0, wait=5.0, error="reset")
    assert kinds(history(dropped)) == ["no-answer"]
    assert kinds(history(dropped, faults=[Fault("kill-daemon", A, 0.05, 3.0)], daemons=())) == []


def test_no_recovery_after_the_nemesis_is_caught():
    h = history(grant("c1", "u1", 11.0, 11.2, 15, daemon=B), release("c1", "u1", 11.3, 11.4, daemon=B),
                Op("c2", A, ACQUIRE, "r", 11.0, 16.0, 408, lifetime=5.0, wait=5.0),
                faults=[Fault("kill-daemon", A, 1.0, 10.5)])
    anomalies = check(h, ANSWER_BOUND, RECOVERY_BOUND)
    assert [a.kind for a in anomalies] == ["no-recovery"]
    assert A in anomalies[0].message


def test_a_grant_after_the_recovery_bound_is_no_recovery():
    h = history(grant("c1", "u1", 11.0, 11.2, 15, daemon=B), release("c1", "u1", 11.3, 11.4, daemon=B),
                grant("c2", "u2", 20.0, 21.0, 16, daemon=A),
                faults=[Fault("kill-daemon", A, 1.0, 10.5)])
    assert kinds(h) == ["no-recovery"]


def test_a_fault_that_never_ended_is_no_recovery():
    h = history(grant("c1", "u1", 11.0, 11.2, 15, daemon=B), faults=[Fault("kill-member", 2, 1.0, None)])
    assert kinds(h) == ["no-recovery"]


def test_a_write_refused_while_the_lock_was_held_is_caught():
    h = history(grant("c1", "u1", 0.0, 0.1, 10), write("c1", "u1", 0.2, 10, False), release("c1", "u1", 0.3, 0.4))
    assert kinds(h) == ["write-rejected"]


def test_a_write_refused_after_the_lifetime_ran_out_is_not_an_anomaly():
    h = history(grant("c1", "u1", 0.0, 0.1, 10, lifetime=1.0), write("c1", "u1", 1.5, 10, False))
    assert kinds(h) == []


def test_the_fake_storage_refuses_only_smaller_tokens():
    storage = FakeStorage()
    assert storage.write("r", 10) and storage.write("r", 10) and storage.write("r", 12)
    assert not storage.write("r", 11)
    assert storage.write("q", 1)
