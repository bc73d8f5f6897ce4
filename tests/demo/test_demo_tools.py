"""What the demo does besides starting things: free ports, watching its processes, keeping secrets off ``ps``."""

from __future__ import annotations

from pathlib import Path
import socket
import subprocess
import sys
import time

from devtools.demo import MAX_RESTARTS, Gateway, Watched
from devtools.mosquitto import free_port, port_is_free

TIME_WAIT = "06"  # the state column of /proc/net/tcp


def _time_wait_ports() -> set[int]:
    ports = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == TIME_WAIT:
            ports.add(int(fields[1].split(":")[1], 16))
    return ports


def test_a_port_with_connections_in_time_wait_is_free(socket_enabled):
    """Restarting the demo right after Ctrl-C: the old server's connections sit in TIME-WAIT."""
    port = free_port()
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen()
        assert not port_is_free(port), "a listening port is in use"
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the server closes first, as HA does on stop: its side goes to TIME-WAIT
        time.sleep(0.1)
        client.close()
    assert port in _time_wait_ports()
    # The check the demo used before: a bind without SO_REUSEADDR fails for about a minute.
    with socket.socket() as plain:
        try:
            plain.bind(("127.0.0.1", port))
            bound_without_reuse = True
        except OSError:
            bound_without_reuse = False
    assert not bound_without_reuse
    assert port_is_free(port)


def _dying(log: Path, code: int) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-c", f"import sys; print('probe read failed'); sys.exit({code})"], stdout=out
        )


def test_a_process_that_dies_is_reported_and_restarted_until_it_keeps_dying(tmp_path):
    log = tmp_path / "pi-2.log"
    processes = [_dying(log, 3)]

    def restart() -> None:
        processes.append(_dying(log, 3))

    watched = Watched("The pi-2 bridge", lambda: processes[-1].poll(), restart, log)
    processes[-1].wait()
    message = watched.check(time.monotonic())
    assert message is not None
    assert "The pi-2 bridge exited with code 3; restarted it" in message
    assert "probe read failed" in message
    assert len(processes) == 2
    assert processes[0].returncode == 3  # reaped: no <defunct> left behind
    for _ in range(MAX_RESTARTS - 1):
        processes[-1].wait()
        assert "restarted it" in (watched.check(time.monotonic()) or "")
    processes[-1].wait()
    message = watched.check(time.monotonic())
    assert message is not None and "left stopped" in message
    assert len(processes) == MAX_RESTARTS + 1
    assert watched.check(time.monotonic()) is None  # said once
    # A running process is left alone.
    # One stopped on purpose (exit code 0, as a bridge after SIGTERM) stays stopped, and is said once.
    stopped = _dying(log, 0)
    stopped.wait()
    watched = Watched("The pi-3 bridge", stopped.poll, restart, log)
    assert "stopped (exit code 0); left stopped" in (watched.check(time.monotonic()) or "")
    assert watched.check(time.monotonic()) is None
    assert len(processes) == MAX_RESTARTS + 1
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert Watched("x", running.poll, restart, log).check(time.monotonic()) is None
    finally:
        running.kill()
        running.wait()


def test_the_gateways_password_and_secret_are_not_on_its_command_line(socket_enabled, tmp_path):
    password, secret = "pw-" + "x" * 20, "secret-" + "y" * 40
    gateway = Gateway(
        f"http://127.0.0.1:{free_port()}", "gateway@example.com", password, secret, 60, tmp_path / "gateway.log"
    )
    gateway.start()
    try:
        assert gateway.process is not None
        cmdline = Path(f"/proc/{gateway.process.pid}/cmdline")
        deadline = time.monotonic() + 10
        while "devtools.gateway_sim" not in cmdline.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)  # the child is still between fork and exec
        assert "devtools.gateway_sim" in cmdline.read_text()
        assert password not in cmdline.read_text() and secret not in cmdline.read_text()
        time.sleep(1)
        assert gateway.exit_code() is None, (tmp_path / "gateway.log").read_text()
    finally:
        gateway.stop()
    assert gateway.exit_code() is not None
