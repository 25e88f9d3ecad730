"""Hashed lines in --admin-userpass-file, through curl: bcrypt from `htpasswd -nbB` ($2y$)
and `mkpasswd -m bcrypt` ($2b$), yescrypt and SHA-512 from `mkpasswd`, made here at test
time; wrong passwords get 401, repeated failures 429 with Retry-After while another
address still gets in; plain lines warn at start-up and at SIGHUP, naming their line;
SIGHUP re-reads a hashed file (and forgets the credentials it remembered)."""
import signal
import subprocess

from conftest import RDLMD, free_port, wait_until


def htpasswd_bcrypt(user, password):
    line = subprocess.run(["htpasswd", "-nbB", user, password], check=True, capture_output=True, text=True).stdout
    return line.strip()


def mkpasswd(method, password):
    return subprocess.run(["mkpasswd", "-m", method, password], check=True, capture_output=True, text=True).stdout.strip()


def curl(daemon, user, password, source="127.0.0.1", path="/resources"):
    """(status, headers text, body) of an admin GET with Basic credentials, sent from `source`."""
    result = subprocess.run(
        ["curl", "-q", "-s", "--max-time", "30", "--interface", source, "-u", "%s:%s" % (user, password),
         "-D", "-", "-w", "\n%{http_code}", "http://127.0.0.1:%d%s" % (daemon.port, path)],
        check=True, capture_output=True, text=True)
    # (text mode reads curl's CRLF as LF)
    text, _, status = result.stdout.rpartition("\n")
    headers, _, body = text.partition("\n\n")
    return int(status), headers, body


def write_admins(path, lines):
    path.write_text("".join(line + "\n" for line in lines))


def test_each_hash_format_accepts_its_password_and_refuses_a_wrong_one(rdlmd, tmp_path):
    admins = tmp_path / "admins"
    write_admins(admins, [
        "# made by htpasswd and mkpasswd",
        htpasswd_bcrypt("b2y", "pw-2y"),
        "b2b:" + mkpasswd("bcrypt", "pw-2b"),
        "yes:" + mkpasswd("yescrypt", "pw-y"),
        "sha:" + mkpasswd("sha-512", "pw-6"),
    ])
    assert ":$2y$" in admins.read_text() and ":$2b$" in admins.read_text()
    daemon = rdlmd("--admin-userpass-file", admins)
    for user, password in [("b2y", "pw-2y"), ("b2b", "pw-2b"), ("yes", "pw-y"), ("sha", "pw-6")]:
        # A wrong one from an address of its own, so the failures do not add up to the limit.
        status, headers, _ = curl(daemon, user, password + "x", source="127.0.0.2")
        assert status == 401, (user, status)
        assert 'WWW-Authenticate: Basic realm="rdlm"' in headers
        # Twice: checked, then remembered.
        assert curl(daemon, user, password)[0] == 200, user
        assert curl(daemon, user, password)[0] == 200, user
    assert curl(daemon, "sha", "pw-y")[0] == 401
    assert "plain text" not in daemon.log_text()


def test_repeated_failures_get_429_with_retry_after_and_other_addresses_still_get_in(rdlmd, tmp_path):
    admins = tmp_path / "admins"
    write_admins(admins, [htpasswd_bcrypt("admin", "s3cret"), "ops:plain"])
    daemon = rdlmd("--admin-userpass-file", admins)
    for attempt in range(5):
        assert curl(daemon, "admin" if attempt % 2 == 0 else "ops", "guess%d" % attempt)[0] == 401
    for user, password in [("admin", "wrong"), ("admin", "s3cret"), ("ops", "plain")]:
        status, headers, body = curl(daemon, user, password)
        assert status == 429, (user, password, status)
        retry_after = [line.split(":", 1)[1].strip() for line in headers.split("\n") if line.lower().startswith("retry-after:")]
        assert len(retry_after) == 1 and 1 <= int(retry_after[0]) <= 60, headers
        assert "too many failed admin logins" in body
    # Another address is not held back, for a hashed line or a plain one.
    assert curl(daemon, "admin", "s3cret", source="127.0.0.2")[0] == 200
    assert curl(daemon, "ops", "plain", source="127.0.0.3")[0] == 200
    # Without credentials nothing is checked: the usual 401, not 429.
    status = subprocess.run(["curl", "-q", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                             "http://127.0.0.1:%d/resources" % daemon.port], capture_output=True, text=True).stdout
    assert status == "401"


def test_plain_lines_warn_at_start_and_at_sighup_naming_their_line(rdlmd, tmp_path):
    admins = tmp_path / "admins"
    write_admins(admins, ["# admins", htpasswd_bcrypt("admin", "s3cret"), "", "ops:other"])
    daemon = rdlmd("--admin-userpass-file", admins)
    assert "line 4 (user 'ops'): the password is stored in plain text" in daemon.log_text()
    assert "user 'admin'" not in daemon.log_text()
    assert curl(daemon, "ops", "other")[0] == 200

    write_admins(admins, ["late:plain", htpasswd_bcrypt("admin", "s3cret")])
    daemon.process.send_signal(signal.SIGHUP)
    wait_until(lambda: "admin credentials re-read" in daemon.log_text(), timeout=30, what="the reload")
    assert "line 1 (user 'late'): the password is stored in plain text" in daemon.log_text()
    assert curl(daemon, "late", "plain")[0] == 200


def test_sighup_rereads_a_hashed_file_and_forgets_what_it_remembered(rdlmd, tmp_path):
    admins = tmp_path / "admins"
    write_admins(admins, [htpasswd_bcrypt("admin", "first"), "yes:" + mkpasswd("yescrypt", "other")])
    daemon = rdlmd("--admin-userpass-file", admins)
    assert curl(daemon, "admin", "first")[0] == 200
    assert curl(daemon, "admin", "first")[0] == 200  # remembered now

    write_admins(admins, [htpasswd_bcrypt("admin", "second"), "yes:" + mkpasswd("yescrypt", "other")])
    daemon.process.send_signal(signal.SIGHUP)
    wait_until(lambda: curl(daemon, "admin", "second")[0] == 200, timeout=30, what="the new password let in after SIGHUP")
    # The old password was remembered for the old file only.
    assert curl(daemon, "admin", "first")[0] == 401
    assert curl(daemon, "yes", "other")[0] == 200

    # A hash libxcrypt cannot check keeps the file in force, and says which line.
    write_admins(admins, ["# broken", "admin:$apr1$jM8w2gdW$iXe9ZrLvtziMKesgr9DWR0"])
    daemon.process.send_signal(signal.SIGHUP)
    wait_until(lambda: "keeping the ones in force" in daemon.log_text(), timeout=30, what="the refused reload")
    assert "line 2 (user 'admin'): its hash is not one libxcrypt knows" in daemon.log_text()
    assert curl(daemon, "admin", "second")[0] == 200


def test_a_hash_libxcrypt_cannot_check_stops_start_up_naming_its_line(tmp_path):
    admins = tmp_path / "admins"
    write_admins(admins, [htpasswd_bcrypt("admin", "s3cret"), "# md5 of apache, not crypt(3)",
                          "ops:" + subprocess.run(["htpasswd", "-nbm", "x", "y"], check=True, capture_output=True,
                                                  text=True).stdout.strip().split(":", 1)[1]])
    result = subprocess.run([RDLMD, "--port", str(free_port()), "--admin-userpass-file", str(admins)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "line 3 (user 'ops'): its hash is not one libxcrypt knows" in result.stderr, result.stderr
