"""The rules every client shares (Clients/README.md, "Behaviour shared by every client"),
and the exit-status table that rdlm shares with rdlm.sh."""
import http.server
import os
import re
import threading

import pytest

from conftest import EX_NOT_FOUND, EX_USAGE, ROOT, one_line_error

# Statuses only rdlm has: rdlm_with returns its command's 126 and 127 rather than naming
# them. (108, an admin request refused, both have: rdlm's admin commands, rdlm.sh's
# rdlm_resource and rdlm_delete_resource.)
CLI_ONLY = {126, 127}


def help_statuses(text):
    """{status: meaning} from the "Exit statuses" table of `rdlm --help`."""
    table = text.split("Exit statuses", 1)[1].split("Examples:", 1)[0]
    return {int(m.group(1)): m.group(2) for m in re.finditer(r"^\s+(\d+)\s+(\S.*)$", table, re.M)}


def shell_statuses():
    """{status: variable} from rdlm.sh's RDLM_EX_* assignments."""
    with open(os.path.join(ROOT, "Clients", "shell", "rdlm.sh")) as f:
        return {int(value): name for name, value in re.findall(r"^(RDLM_EX_\w+)=(\d+)$", f.read(), re.M)}


def test_help_lists_the_exit_statuses_of_rdlm_sh(rdlm):
    shown = help_statuses(rdlm.ok("--help"))
    shell = shell_statuses()
    assert len(shell) >= 8, shell
    assert 0 in shown
    assert {status for status in shown if status >= 100} - CLI_ONLY == set(shell), (shown, shell)
    # The shell's comment table says the same number for each variable.
    with open(os.path.join(ROOT, "Clients", "shell", "rdlm.sh")) as f:
        comments = dict(re.findall(r"^#   (\d+) (RDLM_EX_\w+) ", f.read(), re.M))
    assert {int(status): name for status, name in comments.items()} == shell


def test_acquire_of_a_name_the_server_rejects_exits_103(rdlm):
    # rdlmd answers 404 only to names outside [a-zA-Z0-9]+, which rdlm refuses before sending
    # (also 103); a name over the server's length limit passes that check and gets 400.
    name = "x" * 300
    line = one_line_error(rdlm.run("acquire", name, "--wait", "0"), EX_USAGE)
    assert name in line and "400" in line, line
    line = one_line_error(rdlm.run("acquire", "no.dots", "--wait", "0"), EX_USAGE)
    assert "no.dots" in line, line


class _Answer(http.server.BaseHTTPRequestHandler):
    """Answers every request with the server's `status` and no body."""

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.send_response(self.server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_DELETE = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def answering():
    """Starts a server on 127.0.0.1 that answers every request with the given status:
    answers rdlmd never gives. Yields a function STATUS -> its base URL."""
    servers = []

    def start(status):
        server = http.server.HTTPServer(("127.0.0.1", 0), _Answer)
        server.status = status
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return "http://127.0.0.1:%d" % server.server_address[1]

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_release_answered_200_succeeds_and_404_means_gone(rdlm, answering):
    lock = "/locks/fake/" + "0" * 32
    rdlm.ok("release", answering(200) + lock)
    rdlm.ok("release", answering(204) + lock)
    line = one_line_error(rdlm.run("release", answering(404) + lock), EX_NOT_FOUND)
    assert "not found" in line, line


def test_acquire_answered_404_exits_103_naming_the_resource(rdlm, answering):
    line = one_line_error(rdlm.run("acquire", "fake", "--server", answering(404), "--wait", "0"), EX_USAGE)
    assert "'fake'" in line, line
