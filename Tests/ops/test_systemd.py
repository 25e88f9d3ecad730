"""contrib/rdlmd.service passes `systemd-analyze verify`, and rdlmd speaks systemd's
readiness protocol (Type=notify): READY=1 once the port answers, STOPPING=1 at shutdown."""
import os
import shutil
import signal
import socket
import subprocess
import uuid

import pytest

from conftest import RDLMD, ROOT, free_port, http_request, stop_process

UNIT = os.path.join(ROOT, "contrib", "rdlmd.service")


def verify(unit_text, tmp_path):
    """systemd-analyze verify on a copy of the unit whose ExecStart runs the built rdlmd
    (verify checks that the command exists)."""
    path = tmp_path / "rdlmd.service"
    path.write_text(unit_text.replace("/usr/local/bin/rdlmd", os.path.abspath(RDLMD)))
    return subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=120)


def test_the_unit_passes_systemd_analyze_verify(tmp_path):
    assert shutil.which("systemd-analyze"), "systemd-analyze missing (scripts/test.sh installs systemd)"
    text = open(UNIT).read()
    for setting in ("Type=notify", "DynamicUser=yes", "StateDirectory=rdlmd", "ProtectSystem=strict",
                    "NoNewPrivileges=yes", "ExecReload=/bin/kill -HUP $MAINPID", "--data-dir /var/lib/rdlmd"):
        assert setting in text, setting
    result = verify(text, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "rdlmd.service" not in result.stderr, result.stderr
    # The check can fail: a unit whose command is missing does not verify.
    broken = verify(text.replace("/usr/local/bin/rdlmd", "/nonexistent/rdlmd"), tmp_path)
    assert broken.returncode != 0 and "rdlmd" in broken.stderr, broken


def receive(listener, timeout=60):
    listener.settimeout(timeout)
    return dict(line.split("=", 1) for line in listener.recv(4096).decode().splitlines() if "=" in line)


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_ready_after_the_port_answers_and_stopping_at_shutdown(tmp_path, abstract):
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if abstract:
        name = "rdlmd-test-%s" % uuid.uuid4().hex
        listener.bind("\0" + name)
        notify_socket = "@" + name
    else:
        notify_socket = str(tmp_path / "notify")
        listener.bind(notify_socket)
    port = free_port()
    env = dict(os.environ, NOTIFY_SOCKET=notify_socket)
    with open(tmp_path / "rdlmd.log", "wb") as log:
        process = subprocess.Popen([RDLMD, "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=log)
    try:
        ready = receive(listener)
        # When READY=1 arrives, the port already answers: no retry needed.
        assert ready.get("READY") == "1", ready
        assert ready.get("MAINPID") == str(process.pid), ready
        assert str(port) in ready.get("STATUS", ""), ready
        assert http_request(port, "GET", "/health", timeout=10).status == 200
        process.send_signal(signal.SIGTERM)
        stopping = receive(listener)
        assert stopping.get("STOPPING") == "1", stopping
        assert process.wait(timeout=30) == 0
    finally:
        stop_process(process)
        listener.close()
