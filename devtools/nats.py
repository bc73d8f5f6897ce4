"""A 3-node NATS cluster (Debian's ``nats-server``) with JetStream and the MQTT listener on
every member, on loopback ports, for the broker-cluster tests and benchmarks.

MQTT on NATS keeps retained messages, sessions and QoS 1 state in JetStream streams;
``stream_replicas: 3`` replicates them on every member, so a member's death loses none
of them. After a member dies, the others re-elect stream leaders: for some 10-20 s MQTT
subscriptions are refused (clients retry). Measured with nats-server 2.9.10.
"""

from __future__ import annotations

from dataclasses import dataclass
import os
from pathlib import Path
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from types import TracebackType

from devtools.mosquitto import free_port
from devtools.processes import stop_process


def nats_binary() -> str:
    for candidate in (os.environ.get("NATS_SERVER_BIN"), shutil.which("nats-server"), "/usr/sbin/nats-server"):
        if candidate and Path(candidate).is_file():
            return candidate
    raise FileNotFoundError("nats-server is not installed: apt-get install -y nats-server")


@dataclass
class Member:
    name: str
    client_port: int
    cluster_port: int
    mqtt_port: int
    monitor_port: int
    config: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None


class NatsCluster:
    """``size`` members named n1..nN; ``mqtt_hosts`` lists their MQTT listeners."""

    def __init__(self, size: int = 3, workdir: Path | None = None) -> None:
        self.root = workdir or Path(tempfile.mkdtemp(prefix="hydro-fleet-nats-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.members = [
            Member(
                f"n{i + 1}",
                free_port(),
                free_port(),
                free_port(),
                free_port(),
                self.root / f"n{i + 1}.conf",
                self.root / f"n{i + 1}.log",
            )
            for i in range(size)
        ]
        routes = ", ".join(f"nats-route://127.0.0.1:{m.cluster_port}" for m in self.members)
        for m in self.members:
            m.config.write_text(
                f"server_name: {m.name}\n"
                f"listen: 127.0.0.1:{m.client_port}\n"
                f"http: 127.0.0.1:{m.monitor_port}\n"
                f'jetstream {{ store_dir: "{self.root / m.name}", max_memory_store: 256MB, max_file_store: 2GB }}\n'
                f"cluster {{ name: hydro-fleet, listen: 127.0.0.1:{m.cluster_port}, routes: [{routes}] }}\n"
                f"mqtt {{ listen: 127.0.0.1:{m.mqtt_port}, stream_replicas: {min(3, size)} }}\n"
            )

    @property
    def mqtt_hosts(self) -> list[str]:
        return [f"127.0.0.1:{m.mqtt_port}" for m in self.members]

    def start(self, index: int | None = None, timeout: float = 30.0) -> None:
        """Start every member (or one again, after ``kill``); wait for their MQTT listeners."""
        chosen = self.members if index is None else [self.members[index]]
        for m in chosen:
            log = m.log.open("ab")
            m.process = subprocess.Popen(
                [nats_binary(), "-c", str(m.config)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        for m in chosen:
            # Listening is not enough: MQTT sessions live in JetStream, which needs the
            # cluster formed (a meta leader) before a CONNECT and a QoS 1 SUBSCRIBE succeed.
            while not _mqtt_ready(m.mqtt_port):
                if m.process is not None and m.process.poll() is not None:
                    raise RuntimeError(f"nats-server {m.name} exited:\n{m.log.read_text()[-2000:]}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"nats-server {m.name} MQTT listener not up within {timeout:.0f} s")
                time.sleep(0.05)

    def kill(self, index: int) -> None:
        """SIGKILL one member: no goodbye to its clients or to the cluster."""
        process = self.members[index].process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def pids(self) -> list[int]:
        return [m.process.pid for m in self.members if m.process is not None and m.process.poll() is None]

    def stop(self) -> None:
        for m in self.members:
            stop_process(m.process)

    def __enter__(self) -> NatsCluster:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def _mqtt_ready(port: int) -> bool:
    """Whether a member accepts an MQTT session with a QoS 1 subscription right now."""
    import paho.mqtt.client as mqtt

    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", port)) != 0:
            return False
    subscribed = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_connect = lambda c, *_: c.subscribe("hydro_fleet/$ready", qos=1)
    client.on_subscribe = lambda _c, _u, _m, codes, _p: codes[0].value < 0x80 and subscribed.set()
    try:
        client.connect("127.0.0.1", port, keepalive=10)
        client.loop_start()
        return subscribed.wait(5)
    except OSError:
        return False
    finally:
        client.loop_stop()
        client.disconnect()
