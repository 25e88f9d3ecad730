"""rdlm exec: a command run under a lock, end to end.

The commands are small Python programs (this interpreter) that record what they see in
files the test reads: start and end times, their lock's URL and fencing token, the
signals they receive.
"""
import json
import time
import os
import signal
import sys

import pytest

from conftest import EX_LOST, EX_TIMEOUT, one_line_error, wait_until

PY = sys.executable

# Records its lock, runs `seconds`, records its end; on SIGTERM/SIGINT records the signal
# and exits 42, unless told to ignore SIGTERM.
CHILD = r"""
import json, os, signal, sys, time
record, seconds, on_term = sys.argv[1], float(sys.argv[2]), sys.argv[3]
def write(**fields):
    with open(record, "a") as f:
        f.write(json.dumps(fields) + "\n")
def stop(number, frame):
    write(signal=signal.Signals(number).name)
    sys.exit(42)
signal.signal(signal.SIGINT, stop)
signal.signal(signal.SIGTERM, signal.SIG_IGN if on_term == "ignore" else stop)
write(start=time.monotonic(), pid=os.getpid(), url=os.environ["RDLM_LOCK_URL"],
      token=int(os.environ["RDLM_FENCING_TOKEN"]), fds=sorted(os.listdir("/proc/self/fd")))
time.sleep(seconds)
write(end=time.monotonic())
"""


def child(record, seconds, on_term="exit"):
    return ["--", PY, "-c", CHILD, record, str(seconds), on_term]


def records(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.endswith("\n")]


def started(path):
    return wait_until(lambda: next((r for r in records(path) if "start" in r), None), timeout=60,
                      what="the command to start")


def pid_exists(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("command, status", [
    (["true"], 0),
    (["sh", "-c", "exit 3"], 3),
    (["sh", "-c", "kill -KILL $$"], 128 + 9),
    (["sh", "-c", "kill -TERM $$"], 128 + 15),
])
def test_exec_exits_with_the_status_of_its_command(rdlm, resource, command, status):
    result = rdlm.run("exec", resource, "--", *command)
    assert result.returncode == status, result.stderr
    assert result.stderr == ""
    assert rdlm.json("locks", resource) == []


def test_exec_gives_the_command_its_lock_and_only_the_callers_descriptors(rdlm, resource, tmp_path):
    record = str(tmp_path / "record")
    rdlm.ok("exec", resource, *child(record, 0))
    lock = records(record)[0]
    assert lock["url"].startswith(rdlm.server + "/locks/" + resource + "/") and lock["token"] > 0
    # 0, 1, 2 from subprocess.run, and the descriptor listing its own folder; none of rdlm's.
    assert len(lock["fds"]) == 4 and {"0", "1", "2"} < set(lock["fds"])
    one_line_error(rdlm.run("show", lock["url"]), 104)


def test_a_missing_command_exits_127_without_taking_the_lock(rdlm, resource):
    line = one_line_error(rdlm.run("exec", resource, "--", "no-such-command-here"), 127)
    assert "command not found" in line
    assert resource not in [r["name"] for r in rdlm.json("resources")]


def test_two_execs_on_one_resource_never_overlap(rdlm, resource, tmp_path):
    paths = [str(tmp_path / ("record%d" % n)) for n in range(3)]
    processes = [rdlm.start("exec", resource, "--wait", "120", *child(path, 0.4)) for path in paths]
    for process in processes:
        _, err = process.communicate(timeout=180)
        assert process.returncode == 0, err
    runs = []
    for path in paths:
        start, end = records(path)
        runs.append((start["start"], end["end"], start["token"]))
    runs.sort()
    for (_, end, token), (next_start, _, next_token) in zip(runs, runs[1:]):
        assert end <= next_start, "two commands held the lock at once: %r" % runs
        assert next_token > token


def test_a_command_outliving_its_lifetime_keeps_its_lock(rdlm, resource, tmp_path):
    record = str(tmp_path / "record")
    process = rdlm.start("exec", resource, "--lifetime", "1", *child(record, 4.5))
    lock = started(record)
    late_tries = 0
    while process.poll() is None and not any("end" in r for r in records(record)):
        # Tried after the lock's first lifetime ended: only the refreshes keep it held then.
        late = time.monotonic() > lock["start"] + 1.5
        attempt = rdlm.run("acquire", resource, "--wait", "0", "--lifetime", "30")
        if attempt.returncode == 0:
            rdlm.run("release", attempt.stdout.strip())
            # Fine only once the command has ended: it records its end before it exits.
            assert any("end" in r for r in records(record)), "another client got the lock while the command ran"
            break
        assert attempt.returncode == EX_TIMEOUT, attempt.stderr
        holder = rdlm.holder(resource)
        if holder is not None:
            assert holder["url"] == lock["url"] and holder["fencing_token"] == lock["token"]
        late_tries += late
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    # Each try is two processes, over a second on a loaded machine: counted by time, not number.
    assert late_tries >= 1, "no try was made after the first lifetime ended"
    assert records(record)[-1]["end"] - lock["start"] >= 4.5
    assert rdlm.json("locks", resource) == []


def test_losing_the_lock_stops_the_command_with_sigterm_and_exits_107(rdlm, resource, tmp_path):
    record = str(tmp_path / "record")
    process = rdlm.start("exec", resource, "--lifetime", "3", "--kill-grace", "30", *child(record, 120))
    started(record)
    rdlm.ok("delete", resource)
    _, err = process.communicate(timeout=60)
    assert process.returncode == EX_LOST
    assert "lost the lock on '%s'" % resource in err and len(err.splitlines()) == 1
    assert records(record)[-1] == {"signal": "SIGTERM"}


def test_a_command_that_ignores_sigterm_is_killed_after_the_grace(rdlm, resource, tmp_path):
    record = str(tmp_path / "record")
    process = rdlm.start("exec", resource, "--lifetime", "3", "--kill-grace", "1", *child(record, 120, "ignore"))
    pid = started(record)["pid"]
    rdlm.ok("delete", resource)
    _, err = process.communicate(timeout=60)
    assert process.returncode == EX_LOST
    assert "lost the lock" in err and "SIGKILL" in err
    assert not pid_exists(pid)


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT])
def test_signals_to_rdlm_reach_the_command_and_the_lock_is_released(rdlm, resource, tmp_path, number):
    record = str(tmp_path / "record")
    process = rdlm.start("exec", resource, "--lifetime", "30", *child(record, 120))
    started(record)
    process.send_signal(number)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 42, err
    assert records(record)[-1] == {"signal": number.name}
    assert rdlm.json("locks", resource) == []


def test_a_command_with_default_signal_actions_dies_of_the_forwarded_signal(rdlm, resource, tmp_path):
    ready = tmp_path / "ready"
    process = rdlm.start("exec", resource, "--", "sh", "-c", 'touch "$1" && exec sleep 120', "sh", str(ready))
    wait_until(ready.exists, timeout=60, what="the command to start")
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM
    assert rdlm.json("locks", resource) == []


def test_a_signal_while_waiting_for_the_lock_withdraws_the_request(rdlm, resource, tmp_path):
    holder = rdlm.ok("acquire", resource, "--lifetime", "120").strip()
    marker = tmp_path / "ran"
    process = rdlm.start("exec", resource, "--wait", "120", "--", "touch", str(marker))
    wait_until(lambda: len(rdlm.json("locks", resource)) == 2, what="the exec to queue")
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM, err
    assert not marker.exists()
    wait_until(lambda: [lock["url"] for lock in rdlm.json("locks", resource)] == [holder],
               what="the waiter to leave the queue")
    rdlm.ok("release", holder)
