"""Run a real Mosquitto broker on a free loopback port, for tests, the demo and benchmarks."""

from __future__ import annotations

import os
from pathlib import Path
import shutil
import socket
import subprocess
import tempfile
import time
from types import TracebackType

from devtools.processes import stop_process


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on ``port`` now.

    With SO_REUSEADDR, as Home Assistant and Mosquitto bind: connections of a stopped
    server left in TIME-WAIT (a minute after a restart) do not count as in use, a
    listening socket does.
    """
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def publish(port: int, messages: list[tuple[str, bytes, bool]]) -> None:
    """Publish (topic, payload, retain) messages at QoS 1 to the broker on ``port`` and wait for each."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        for topic, payload, retain in messages:
            client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)
    finally:
        client.loop_stop()
        client.disconnect()


def mosquitto_binary() -> str:
    for candidate in (os.environ.get("MOSQUITTO_BIN"), shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
        if candidate and Path(candidate).is_file():
            return candidate
    raise FileNotFoundError("mosquitto is not installed: apt-get install -y mosquitto")


class Mosquitto:
    """A broker process. ``extra_config`` lines are appended (password_file, acl_file...).

    Usable as a context manager; ``stop()`` and ``start()`` again keep the same port,
    so tests can take the broker away and bring it back.
    """

    def __init__(self, port: int | None = None, extra_config: str = "", workdir: Path | None = None) -> None:
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="hf-mosquitto-")
        self.workdir = workdir or Path(self._tmp.name)  # type: ignore[union-attr]
        self.workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.workdir, 0o755)
        self.log_path = self.workdir / "mosquitto.log"
        self.extra_config = extra_config
        self.process: subprocess.Popen[bytes] | None = None

    def _write_config(self) -> Path:
        conf = self.workdir / "mosquitto.conf"
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true" if "allow_anonymous" not in self.extra_config else "",
            "persistence false",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type subscribe",
            "max_packet_size 1048576",
            self.extra_config,
        ]
        conf.write_text("\n".join(line for line in lines if line) + "\n")
        return conf

    def start(self, timeout: float = 10.0) -> None:
        conf = self._write_config()
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [mosquitto_binary(), "-c", str(conf)], stdout=log, stderr=log, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log_path.read_text()[-2000:]}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"mosquitto did not listen on {self.port} within {timeout} s")

    def stop(self) -> None:
        stop_process(self.process, 5)
        self.process = None

    def exit_code(self) -> int | None:
        """The exit code once the process has ended (it is reaped then), None while it runs."""
        return None if self.process is None else self.process.poll()

    def kill(self) -> None:
        """Stop abruptly, as a crashed broker or a cut network would."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def __enter__(self) -> Mosquitto:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
