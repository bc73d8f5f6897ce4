"""The add-on as the add-on store installs it: ``addon/`` alone built into an image, then run.

``devtools.addon_container`` builds ``addon/`` as the whole build context with the build
args the Supervisor passes (nothing made beforehand: no wheel, no copied sources) and runs
the container with config.yaml's port mapping, a Supervisor-style ``/data/options.json``
and a real Mosquitto on the host.

What differs from a store install, and why (the module docstring has the details):

- No image registry is reachable, so the base is a stand-in built locally with
  debootstrap: Debian trixie with its python3 (3.13), pip and CA certificates. It lacks
  what HA's ``*-base-python:3.13-alpine3.21`` has: Alpine/musl (and HA's own Python
  build), s6-overlay (``/init``, ``with-contenv``) and bashio. So the container runs the receiver command
  ``run.sh`` ends with (read from run.sh), plus the broker arguments run.sh's bashio
  lookup of the MQTT service adds; on the real base, run.sh runs that same command.
- GitHub is not reachable and HEAD is not a release, so the Dockerfile's
  ``HYDRO_FLEET_SOURCE`` points at an archive of this working tree in the layout of
  GitHub's tag archive, instead of the tag ``v<version>`` the Supervisor's build uses.

The test installs nothing itself: ``scripts/test`` installs podman, buildah, runc,
slirp4netns and debootstrap (as root). The stand-in base and the image are cached under
``~/.cache/hydro-fleet/containers``; the image is rebuilt when any of its inputs changes.
"""

from __future__ import annotations

import asyncio
import functools
import json
from pathlib import Path
import sqlite3
import time

import aiohttp
import pytest

from devtools.addon_container import (
    HOST_LOOPBACK_FROM_CONTAINER,
    Build,
    Container,
    Tools,
    addon_config,
    build_image,
    run_sh_command,
    running,
    standin_base,
)
from devtools.gateway_sim import encode, signed_headers
from devtools.mosquitto import Mosquitto, free_port
from hydro_fleet_protocol import NodeConfig, NodeKind
from hydro_fleet_receiver.app import DB_NAME
from hydro_fleet_receiver.context import DATA_PATH, LOGIN_PATH
from tests.receiver.conftest import EMAIL, PASSWORD, SECRET, full_sync
from tests.receiver.mqtt_helpers import Collector

pytestmark = pytest.mark.e2e

STATION = "hydro_fleet/station-ps001"


@functools.cache
def _image() -> tuple[Tools, Build, float]:
    """The stand-in base (cached across runs) and the image, built once per test session."""
    tools = Tools.default()
    started = time.monotonic()
    base = standin_base(tools)
    base_seconds = time.monotonic() - started
    return tools, build_image(tools, base), base_seconds


def _supervisor_data(data: Path) -> Path:
    """The add-on's /data as the Supervisor fills it: config.yaml's options, the required ones set."""
    data.mkdir(parents=True)
    options = dict(addon_config()["options"])  # type: ignore[call-overload]
    options |= {"secrets": [SECRET], "admin_email": EMAIL, "admin_password": PASSWORD}
    (data / "options.json").write_text(json.dumps(options))
    return data


def _command(broker: Mosquitto) -> list[str]:
    """run.sh's receiver command with the arguments its MQTT-service branch adds for this broker."""
    return [*run_sh_command(), "--mqtt-host", HOST_LOOPBACK_FROM_CONTAINER, "--mqtt-port", str(broker.port)]


async def _wait_for_health(session: aiohttp.ClientSession, url: str, container: Container, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            async with session.get(url + "/api/health") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        assert container.is_running(), f"the container exited; its log:\n{container.logs()}"
        if time.monotonic() > deadline:
            raise AssertionError(f"no 200 from /api/health within {timeout} s; container log:\n{container.logs()}")
        await asyncio.sleep(0.1)


async def test_store_build_serves_the_gateway_and_publishes_stations(mosquitto: Mosquitto, tmp_path: Path) -> None:
    tools, build, base_seconds = _image()
    data = _supervisor_data(tmp_path / "data")
    host_port = free_port()  # the host port the add-on's Network panel would set
    url = f"http://127.0.0.1:{host_port}"
    async with Collector(mosquitto) as broker, aiohttp.ClientSession() as session:
        started = time.monotonic()
        with running(tools, build.image, data, host_port, _command(mosquitto)) as container:
            await _wait_for_health(session, url, container, timeout=90)
            to_first_200 = time.monotonic() - started

            async with session.post(url + LOGIN_PATH, json={"email": EMAIL, "password": PASSWORD}) as response:
                assert response.status == 200, container.logs()
                token = (await response.json())["access_token"]
            body = encode(full_sync())
            async with session.post(
                url + DATA_PATH, data=body, headers=signed_headers(token, SECRET, body)
            ) as response:
                assert response.status == 200, (await response.text(), container.logs())

            await broker.wait_for(
                lambda: broker.on(f"{STATION}/config") and broker.on(f"{STATION}/state"), what="the station on MQTT"
            )
            config = NodeConfig.parse(broker.on(f"{STATION}/config")[-1].payload)
            assert (config.node_id, config.kind) == ("station-ps001", NodeKind.STATION)
            assert broker.on(f"{STATION}/availability")[-1].payload == b"online"
            assert container.healthcheck(), container.logs()

    # The sync was committed to the add-on's /data, which the Supervisor backs up.
    with sqlite3.connect(data / DB_NAME) as db:
        assert db.execute("SELECT COUNT(*) FROM stations").fetchone()[0] == 1
    size_mb = tools.image_size(build.image) / 1e6
    print(
        f"\nadd-on image {build.image}: stand-in base ready in {base_seconds:.1f} s, "
        f"{'reused (inputs unchanged)' if build.cached else f'built in {build.seconds:.1f} s'}, {size_mb:.0f} MB; "
        f"podman run to the first 200: {to_first_200:.1f} s"
    )


async def test_health_check_fails_when_the_gateway_cannot_reach_the_receiver(
    socket_enabled: None, tmp_path: Path
) -> None:
    """A listener moved off the mapped port (what the removed `port` option did) is unhealthy."""
    tools, build, _ = _image()
    command = run_sh_command()
    command[command.index("--port") + 1] = "8011"
    host_port = free_port()
    async with aiohttp.ClientSession() as session:
        with running(tools, build.image, _supervisor_data(tmp_path / "data"), host_port, command) as container:
            deadline = time.monotonic() + 90
            while "listening on 0.0.0.0:8011" not in container.logs():
                assert container.is_running() and time.monotonic() < deadline, container.logs()
                await asyncio.sleep(0.2)
            with pytest.raises(aiohttp.ClientError):
                async with session.post(
                    f"http://127.0.0.1:{host_port}{LOGIN_PATH}", json={"email": EMAIL, "password": PASSWORD}
                ) as response:
                    await response.read()
            assert not container.healthcheck()
