"""rdlm with several servers sharing one lock space: --server repeated or comma-separated,
RDLM_SERVER as a list, failover only when a server gives no answer, and the RDLM-Request-Id
that makes a retried acquire the same request."""
import re
import socket
import threading

from conftest import EX_NOT_FOUND, EX_UNREACHABLE, Rdlm, free_port, one_line_error

LOCK_URL = re.compile(r"^(http://127\.0\.0\.1:\d+)(/locks/\w+/([0-9a-f]{32}))$")


def dead_url():
    """A port nothing listens on: bound, then closed."""
    return "http://127.0.0.1:%d" % free_port()


class ScriptedServer:
    """Answers every request with `answer` (bytes), or, when it is None, reads the request
    and closes the connection without a word: a lost answer. Keeps each request's head."""

    def __init__(self, answer=None):
        self.answer = answer
        self.requests = []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.url = "http://127.0.0.1:%d" % self.listener.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with connection:
                received = b""
                while b"\r\n\r\n" not in received:
                    chunk = connection.recv(4096)
                    if not chunk:
                        break
                    received += chunk
                head = received.split(b"\r\n\r\n")[0].decode("latin-1")
                length = re.search(r"(?im)^content-length:\s*(\d+)", head)
                body = received.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in received else b""
                while length and len(body) < int(length.group(1)):
                    chunk = connection.recv(4096)
                    if not chunk:
                        break
                    body += chunk
                self.requests.append(head)
                if self.answer is not None:
                    connection.sendall(self.answer)

    def header(self, index, name):
        match = re.search(r"(?im)^%s:\s*(\S+)" % re.escape(name), self.requests[index])
        return match and match.group(1)

    def stop(self):
        self.listener.close()


def test_rdlm_server_list_skips_a_dead_server(daemon, resource):
    rdlm = Rdlm(dead_url() + "," + daemon.url + "/")
    url = rdlm.ok("acquire", resource, "--lifetime", "60").strip()
    match = LOCK_URL.match(url)
    assert match and match.group(1) == daemon.url, url
    assert Rdlm(daemon.url).holder(resource)["uid"] == match.group(3)
    rdlm.ok("release", url)
    assert Rdlm(daemon.url).holder(resource) is None


def test_server_option_repeated_and_comma_separated(daemon, resource):
    rdlm = Rdlm(daemon.url)
    env = rdlm.env(RDLM_SERVER="")
    url = rdlm.ok("acquire", resource, "--server", dead_url(), "--server", dead_url() + "," + daemon.url,
                  env=env).strip()
    assert url.startswith(daemon.url + "/locks/" + resource + "/")
    rdlm.ok("release", url, "--server", dead_url(), "--server", daemon.url, env=env)


def test_release_refresh_show_of_a_lock_on_a_dead_server_go_to_the_others(daemon, resource):
    live = Rdlm(daemon.url)
    url = live.ok("acquire", resource, "--lifetime", "60").strip()
    dead = dead_url()
    on_dead = dead + LOCK_URL.match(url).group(2)
    rdlm = Rdlm(dead + "," + daemon.url)
    assert rdlm.json("show", on_dead)["active"] is True
    assert rdlm.json("refresh", on_dead, "--lifetime", "90")["lifetime"] == 90
    rdlm.ok("release", on_dead)
    one_line_error(live.run("show", url), EX_NOT_FOUND)


def test_every_server_dead_exits_102_naming_the_last_failure(resource):
    first, last = dead_url(), dead_url()
    line = one_line_error(Rdlm(first + "," + last).run("acquire", resource), EX_UNREACHABLE)
    assert "no answer" in line and last.split(":")[-1] in line, line


def test_an_acquire_whose_answer_was_lost_goes_on_with_the_same_request_id(daemon, resource):
    silent = ScriptedServer()
    try:
        url = Rdlm(silent.url + "," + daemon.url).ok("acquire", resource, "--lifetime", "60").strip()
    finally:
        silent.stop()
    assert len(silent.requests) == 1 and silent.requests[0].startswith("POST /locks/" + resource + " ")
    request_id = silent.header(0, "RDLM-Request-Id")
    assert request_id and re.fullmatch(r"[0-9a-f]{32}", request_id), silent.requests[0]
    # The daemon made the id the lock's uid: the second server got the same id.
    assert LOCK_URL.match(url).group(3) == request_id
    Rdlm(daemon.url).ok("release", url)


def test_a_503_is_an_answer_and_no_other_server_is_asked(daemon, resource):
    unavailable = ScriptedServer(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    try:
        result = Rdlm(unavailable.url + "," + daemon.url).run("acquire", resource, "--wait", "0")
    finally:
        unavailable.stop()
    assert result.returncode == 105, result.stderr
    assert len(unavailable.requests) == 1
    assert Rdlm(daemon.url).holder(resource) is None
