"""SIGHUP re-reads the admin userpass file (what `systemctl reload` sends), and never stops
rdlmd; a file that cannot be read keeps the credentials in force."""
import base64
import signal

from conftest import wait_until


def admin_status(daemon, user, password):
    token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
    return daemon.request("GET", "/resources", headers={"Authorization": "Basic " + token}).status


def test_sighup_rereads_the_admin_file_and_keeps_serving(rdlmd, tmp_path):
    userpass = tmp_path / "admins"
    userpass.write_text("alice:first\n")
    daemon = rdlmd("--admin-userpass-file", userpass)
    assert admin_status(daemon, "alice", "first") == 200
    assert admin_status(daemon, "bob", "second") == 401

    userpass.write_text("bob:second\n")
    daemon.process.send_signal(signal.SIGHUP)
    wait_until(lambda: admin_status(daemon, "bob", "second") == 200, timeout=30, what="bob let in after SIGHUP")
    assert admin_status(daemon, "alice", "first") == 401
    assert daemon.process.poll() is None
    assert "admin credentials re-read" in daemon.log_text()

    # A broken file (no user:password line) keeps bob's credentials, and says so.
    userpass.write_text("# nobody\n")
    daemon.process.send_signal(signal.SIGHUP)
    wait_until(lambda: "keeping the ones in force" in daemon.log_text(), timeout=30, what="the refused reload logged")
    assert admin_status(daemon, "bob", "second") == 200
    assert daemon.request("GET", "/health").status == 200


def test_sighup_without_a_file_does_not_stop_rdlmd(rdlmd):
    daemon = rdlmd("--admin-userpass-file", "no")
    # One at a time: signals of one kind sent together may be delivered as one.
    for count in (1, 2, 3):
        daemon.process.send_signal(signal.SIGHUP)
        wait_until(lambda: daemon.log_text().count("SIGHUP: nothing to reload") == count, timeout=30,
                   what="SIGHUP %d handled" % count)
    assert daemon.process.poll() is None
    assert daemon.request("GET", "/health").status == 200
    assert daemon.request("GET", "/resources").status == 403
