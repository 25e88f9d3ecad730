"""rdlm acquire, release, refresh, show, resources, locks, delete and bench, end to end."""
import datetime
import json
import re

import pytest

from conftest import (EX_ADMIN_REFUSED, EX_NOT_FOUND, EX_TIMEOUT, EX_UNREACHABLE, EX_USAGE,
                      Rdlm, free_port, one_line_error, wait_until)

LOCK_URL = re.compile(r"^http://127\.0\.0\.1:\d+/locks/(\w+)/([0-9a-f]{32})$")


def parse_time(text):
    return datetime.datetime.strptime(text[:26], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc)


def test_acquire_prints_a_lock_url_that_show_and_release_accept(rdlm, resource):
    url = rdlm.ok("acquire", resource, "--lifetime", "60").strip()
    match = LOCK_URL.match(url)
    assert match and match.group(1) == resource
    shown = rdlm.ok("show", url)
    assert re.search(r"^state\s+held \(exclusive\)$", shown, re.M), shown
    assert re.search(r"^fencing token\s+\d+$", shown, re.M), shown
    rdlm.ok("release", url)
    one_line_error(rdlm.run("show", url), EX_NOT_FOUND)
    one_line_error(rdlm.run("release", url), EX_NOT_FOUND)


def test_acquire_json_is_the_whole_lock_with_its_fencing_token(rdlm, resource):
    lock = rdlm.json("acquire", resource, "--lifetime", "60", "--title", "json test")
    assert LOCK_URL.match(lock["url"]) and lock["url"].endswith("/" + lock["uid"])
    assert lock["resource"] == resource and lock["title"] == "json test"
    assert lock["active"] is True and lock["mode"] == "exclusive" and lock["lifetime"] == 60
    assert isinstance(lock["fencing_token"], int) and lock["fencing_token"] > 0
    assert parse_time(lock["active_expires"]) > parse_time(lock["active_since"])
    assert rdlm.json("show", lock["url"]) == lock
    rdlm.ok("release", lock["url"])
    again = rdlm.json("acquire", resource, "--lifetime", "60")
    assert again["fencing_token"] > lock["fencing_token"]
    rdlm.ok("release", again["url"])


def test_acquire_of_a_held_resource_with_wait_0_exits_100(rdlm, resource):
    url = rdlm.ok("acquire", resource, "--lifetime", "60").strip()
    line = one_line_error(rdlm.run("acquire", resource, "--wait", "0"), EX_TIMEOUT)
    assert "held elsewhere" in line
    shared = rdlm.run("acquire", resource, "--wait", "0", "--shared")
    assert shared.returncode == EX_TIMEOUT
    rdlm.ok("release", url)


def test_shared_locks_are_held_together(rdlm, resource):
    first = rdlm.json("acquire", resource, "--shared", "--wait", "0")
    second = rdlm.json("acquire", resource, "--shared", "--wait", "0")
    assert first["mode"] == second["mode"] == "shared"
    holders = [lock for lock in rdlm.json("locks", resource) if lock["active"]]
    assert {lock["uid"] for lock in holders} == {first["uid"], second["uid"]}
    rdlm.ok("release", first["url"])
    rdlm.ok("release", second["url"])


def test_refresh_renews_the_lease(rdlm, resource):
    lock = rdlm.json("acquire", resource, "--lifetime", "2")
    renewed = rdlm.json("refresh", lock["url"], "--lifetime", "120")
    assert renewed["uid"] == lock["uid"] and renewed["url"] == lock["url"]
    assert renewed["lifetime"] == 120 and renewed["fencing_token"] == lock["fencing_token"]
    lease = parse_time(renewed["active_expires"]) - parse_time(lock["active_since"])
    assert lease.total_seconds() > 100
    rdlm.ok("refresh", lock["url"])        # the lock's own lifetime, silently
    rdlm.ok("release", lock["url"])
    one_line_error(rdlm.run("refresh", lock["url"]), EX_NOT_FOUND)


def test_resources_and_locks_list_holders_and_waiters(rdlm, resource):
    holder = rdlm.json("acquire", resource, "--lifetime", "60", "--title", "the holder")
    waiter = rdlm.start("acquire", resource, "--wait", "60", "--title", "the waiter")
    try:
        locks = wait_until(lambda: (lambda locks: len(locks) == 2 and locks)(rdlm.json("locks", resource)),
                           what="the waiter to queue")
        assert [lock["active"] for lock in locks] == [True, False]
        assert locks[0]["fencing_token"] == holder["fencing_token"] and "fencing_token" not in locks[1]
        assert [lock["title"] for lock in locks] == ["the holder", "the waiter"]
        table = rdlm.ok("locks", resource).splitlines()
        assert table[0].split()[:5] == ["STATE", "MODE", "TOKEN", "SINCE", "EXPIRES"]
        assert table[1].split()[:3] == ["held", "exclusive", str(holder["fencing_token"])]
        assert table[2].split()[:2] == ["waiting", "exclusive"] and table[2].endswith("the waiter")
        summary = [r for r in rdlm.json("resources") if r["name"] == resource]
        assert summary == [{"name": resource, "holders": 1, "waiters": 1}]
        row = [line.split() for line in rdlm.ok("resources").splitlines() if line.startswith(resource + " ")]
        assert row and row[0][:4] == [resource, "1", "1", "exclusive"]
    finally:
        rdlm.ok("release", holder["url"])
    out, err = waiter.communicate(timeout=60)
    assert waiter.returncode == 0, err
    rdlm.ok("release", out.strip())
    assert rdlm.json("locks", resource) == []
    assert "no locks on" in rdlm.ok("locks", resource)


def test_delete_drops_the_locks_of_one_resource_or_all(rdlm, resource):
    first = rdlm.ok("acquire", resource + "a", "--lifetime", "60").strip()
    second = rdlm.ok("acquire", resource + "b", "--lifetime", "60").strip()
    rdlm.ok("delete", resource + "a")
    one_line_error(rdlm.run("show", first), EX_NOT_FOUND)
    rdlm.ok("show", second)
    one_line_error(rdlm.run("delete", resource + "a"), EX_NOT_FOUND)
    rdlm.ok("delete", "--all")
    one_line_error(rdlm.run("show", second), EX_NOT_FOUND)
    one_line_error(rdlm.run("delete"), EX_USAGE)
    one_line_error(rdlm.run("delete", resource, "--all"), EX_USAGE)


def test_admin_credentials_come_from_flags_or_the_environment(auth_daemon, resource):
    rdlm = Rdlm(auth_daemon.url)
    url = rdlm.ok("acquire", resource, "--lifetime", "60").strip()
    line = one_line_error(rdlm.run("locks", resource, "--json"), EX_ADMIN_REFUSED)
    assert "RDLM_USER" in line
    one_line_error(rdlm.run("delete", resource, "--user", "admin", "--password", "wrong"), EX_ADMIN_REFUSED)
    listed = rdlm.run("locks", resource, "--json", "--user", "admin", "--password", "s3cret")
    assert listed.returncode == 0 and json.loads(listed.stdout)[0]["url"] == url
    deleted = rdlm.run("delete", resource, env=rdlm.env(RDLM_USER="admin", RDLM_PASSWORD="s3cret"))
    assert deleted.returncode == 0, deleted.stderr
    one_line_error(rdlm.run("show", url), EX_NOT_FOUND)


def test_an_unreachable_server_exits_102_with_one_line(rdlm, resource):
    dead = "http://127.0.0.1:%d" % free_port()
    for args in (["acquire", resource], ["resources"], ["show", dead + "/locks/x/" + "0" * 32],
                 ["release", dead + "/locks/x/" + "0" * 32], ["exec", resource, "--", "true"]):
        line = one_line_error(rdlm.run(*args, env=rdlm.env(RDLM_SERVER=dead)), EX_UNREACHABLE)
        assert "no answer from" in line, line
    # --server wins over RDLM_SERVER.
    url = rdlm.ok("acquire", resource, "--server", rdlm.server, env=rdlm.env(RDLM_SERVER=dead)).strip()
    rdlm.ok("release", url)


@pytest.mark.parametrize("args", [
    ["acquire"], ["acquire", "not-a-name"], ["acquire", "x", "--lifetime", "0"], ["acquire", "x", "--wait", "-1"],
    ["release", "not a url"], ["release", "http://127.0.0.1:1/elsewhere"], ["exec", "x"], ["frobnicate"],
    ["bench", "--resources", "some"], ["acquire", "x", "--server", "ftp://host"],
])
def test_usage_errors_exit_103_with_one_line(rdlm, args):
    one_line_error(rdlm.run(*args), EX_USAGE)


@pytest.mark.parametrize("command", [
    "acquire", "release", "refresh", "show", "exec", "resources", "locks", "delete", "bench"])
def test_every_command_has_help_with_an_example(rdlm, command):
    help_text = rdlm.ok(command, "--help")
    assert "Example" in help_text and ("rdlm " + command) in help_text


def test_bench_prints_a_parseable_summary(rdlm):
    summary = rdlm.json("bench", "--duration", "2", "--connections", "4", timeout=120)
    assert summary["connections"] == 4 and summary["resources"] == "distinct"
    assert 1.9 <= summary["duration"] < 30
    assert summary["cycles"] > 0 and summary["errors"] == {} and summary["error_total"] == 0
    assert summary["cycles_per_second"] == pytest.approx(summary["cycles"] / summary["duration"], rel=0.01)
    for phase in ("acquire_ms", "release_ms"):
        latency = summary[phase]
        assert latency["count"] == summary["cycles"]
        assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"]
    assert rdlm.json("locks", "rdlmbench0") == []


def test_bench_on_one_resource_prints_a_table(rdlm):
    lines = rdlm.ok("bench", "--duration", "1", "--connections", "3", "--resources", "same",
                    "--prefix", "rdlmbenchsame", timeout=120).splitlines()
    assert lines[0].startswith("rdlm bench: 3 connections, one resource")
    assert re.match(r"cycles:\s+\d+ in [\d.]+ s = [\d.]+ cycles/s", lines[1]), lines[1]
    assert lines[2].split()[:5] == ["latency", "(ms)", "p50", "p90", "p99"]
    assert lines[3].split()[0] == "acquire" and lines[4].split()[0] == "release"
    assert lines[5] == "errors:   none"
