"""rdlm watch: GET /events as a line per event (or JSON lines), reconnecting by itself,
ended by SIGINT or SIGTERM with status 0. The events are made with curl."""
import json
import os
import queue
import re
import signal
import subprocess
import threading
import urllib.request

import pytest

from conftest import EX_ADMIN_REFUSED, EX_USAGE, RDLMD, Rdlm, one_line_error, wait_until


TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"
EVENT_ID = re.compile(r"^[0-9a-f]+-\d+$")


class Watch:
    """A running `rdlm watch`, its stdout and stderr read line by line as they come."""

    def __init__(self, rdlm, *args, env=None):
        self.process = rdlm.start("watch", *args, env=env)
        self.out, self.err = queue.Queue(), queue.Queue()
        self.notes = []
        for stream, lines in ((self.process.stdout, self.out), (self.process.stderr, self.err)):
            threading.Thread(target=self._pump, args=(stream, lines), daemon=True).start()

    @staticmethod
    def _pump(stream, lines):
        for line in stream:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    def line(self, timeout=60):
        line = self.out.get(timeout=timeout)
        assert line is not None, "rdlm watch ended: status %s, stderr %r" % (self.process.wait(timeout=30), self.stderr())
        return line

    def until(self, predicate, timeout=60):
        """Lines up to and including the first that `predicate` accepts."""
        lines = []
        while True:
            lines.append(self.line(timeout))
            if predicate(lines[-1]):
                return lines

    def note(self, predicate, timeout=60):
        """Waits for a line on stderr that `predicate` accepts."""
        while True:
            line = self.err.get(timeout=timeout)
            assert line is not None, "stderr ended"
            self.notes.append(line)
            if predicate(line):
                return line

    def stderr(self):
        lines = list(self.notes)
        while True:
            try:
                line = self.err.get(timeout=5)
            except queue.Empty:
                return lines
            if line is None:
                return lines
            lines.append(line)

    def stop(self, number=signal.SIGINT):
        self.process.send_signal(number)
        return self.process.wait(timeout=30)

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


@pytest.fixture
def watches():
    started = []
    yield started
    for watch in started:
        watch.kill()


def columns(line):
    """time, event, resource, mode, token, title (decoded) of a lock's line."""
    time, event, resource, mode, token, title = line.split(None, 5)
    assert re.match(TIME + "$", time), line
    return event, resource, mode, token, json.loads(title)


def curl(*args):
    return subprocess.run(["curl", "-s", "-S", *args], check=True, capture_output=True, text=True, timeout=60).stdout


def curl_acquire(server, resource, title, wait=0, lifetime=60):
    """Acquires with curl; returns the lock's URL."""
    body = json.dumps({"title": title, "lifetime": lifetime, "wait": wait})
    head = curl("-o", "/dev/null", "-D", "-", "-X", "POST", "-d", body, server + "/locks/" + resource)
    return re.search(r"^location: (\S+)", head, re.I | re.M).group(1)


def test_a_line_per_event_with_time_event_resource_mode_token_and_title(rdlm, resource, watches):
    holder = rdlm.json("acquire", resource, "--lifetime", "60", "--title", 'the "holder"')
    watch = Watch(rdlm, resource)
    watches.append(watch)
    assert columns(watch.line()) == ("snapshot", resource, "exclusive", str(holder["fencing_token"]), 'the "holder"')

    waiter = subprocess.Popen(["curl", "-s", "-o", "/dev/null", "-X", "POST", "-d",
                               json.dumps({"title": "waiter", "lifetime": 60, "wait": 1}),
                               rdlm.server + "/locks/" + resource])
    assert columns(watch.line()) == ("waiting", resource, "exclusive", "waiting", "waiter")
    assert columns(watch.line()) == ("withdrawn", resource, "exclusive", "waiting", "waiter")
    waiter.wait(timeout=60)
    curl("-X", "DELETE", holder["url"])
    assert columns(watch.line()) == ("released", resource, "exclusive", str(holder["fencing_token"]), 'the "holder"')
    second = curl_acquire(rdlm.server, resource, "reader")
    event, _, mode, token, title = columns(watch.line())
    assert (event, mode, title) == ("granted", "exclusive", "reader") and int(token) > holder["fencing_token"]
    curl("-X", "DELETE", second)
    assert columns(watch.line())[0] == "released"
    assert watch.stop() == 0
    assert watch.stderr() == []


def test_json_lines_are_the_events_data_with_event_and_id(rdlm, resource, watches):
    watch = Watch(rdlm, resource, "--json")
    watches.append(watch)
    snapshot = json.loads(watch.line())
    assert snapshot["event"] == "snapshot" and EVENT_ID.match(snapshot["id"]) and snapshot["resources"] == []
    url = curl_acquire(rdlm.server, resource, "json watcher")
    granted = json.loads(watch.line())
    assert granted["event"] == "granted" and granted["resource"] == resource
    assert granted["lock"]["uid"] == url.rsplit("/", 1)[1] and granted["lock"]["title"] == "json watcher"
    assert isinstance(granted["lock"]["fencing_token"], int) and granted["lock"]["active"] is True
    epoch, number = granted["id"].split("-")
    assert snapshot["id"] == "%s-%d" % (epoch, int(number) - 1)
    curl("-X", "DELETE", url)
    released = json.loads(watch.line())
    assert released["event"] == "released" and released["id"] == "%s-%d" % (epoch, int(number) + 1)
    assert watch.stop(signal.SIGTERM) == 0


def start_rdlmd(port, log):
    process = subprocess.Popen([RDLMD, "--port", str(port)], stdout=subprocess.DEVNULL, stderr=log)

    def answers():
        assert process.poll() is None, "rdlmd exited with %s" % process.returncode
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=5) as response:
                return response.status == 200
        except OSError:
            return False

    wait_until(answers, timeout=60, what="rdlmd on port %d" % port)
    return process


def test_it_reconnects_when_the_daemon_restarts_on_the_same_port(workdir, watches):
    from conftest import free_port
    port = free_port()
    server = "http://127.0.0.1:%d" % port
    log = open(os.path.join(workdir, "rdlmd-watch-restart.log"), "ab")
    daemon = start_rdlmd(port, log)
    try:
        watch = Watch(Rdlm(server))
        watches.append(watch)
        assert watch.line().split(None, 2)[1:] == ["snapshot", "(no locks)"]
        curl_acquire(server, "before", "before the restart")
        assert columns(watch.line())[:2] == ("granted", "before")

        daemon.terminate()
        daemon.wait(timeout=30)
        watch.note(lambda line: "reconnecting" in line)
        daemon = start_rdlmd(port, log)
        # The new daemon cannot resume the old one's ids: a note, then its snapshot.
        watch.note(lambda line: "cannot resume" in line)
        assert watch.line().split(None, 2)[1:] == ["snapshot", "(no locks)"]
        curl_acquire(server, "after", "after the restart")
        assert columns(watch.line())[:2] == ("granted", "after")
        assert watch.stop() == 0
        assert all(line.startswith("rdlm: watch: ") for line in watch.stderr())
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
        log.close()


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_ends_it_quietly_with_status_0(rdlm, resource, watches, number):
    watch = Watch(rdlm, resource)
    watches.append(watch)
    assert watch.line().split(None, 2)[1:] == ["snapshot", "(no locks)"]
    assert watch.stop(number) == 0
    assert watch.stderr() == []


def test_admin_credentials_are_needed_where_the_daemon_asks(auth_daemon, resource, watches):
    rdlm = Rdlm(auth_daemon.url)
    line = one_line_error(rdlm.run("watch", resource, timeout=60), EX_ADMIN_REFUSED)
    assert "credentials" in line
    one_line_error(rdlm.run("watch", "--user", "admin", "--password", "guess", timeout=60), EX_ADMIN_REFUSED)
    watch = Watch(rdlm, resource, env=rdlm.env(RDLM_USER="admin", RDLM_PASSWORD="s3cret"))
    watches.append(watch)
    assert watch.line().split(None, 2)[1:] == ["snapshot", "(no locks)"]
    assert watch.stop() == 0


def test_bad_arguments_exit_103(rdlm):
    one_line_error(rdlm.run("watch", "no-dashes"), EX_USAGE)
    one_line_error(rdlm.run("watch", "--idle-timeout", "0"), EX_USAGE)
