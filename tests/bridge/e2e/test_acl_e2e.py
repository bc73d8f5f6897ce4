"""Provisioning against a real Mosquitto: per-node credentials and an ACL the broker enforces."""

from __future__ import annotations

import asyncio
import json
import subprocess

import aiomqtt
import pytest
import yaml

from devtools.mosquitto import Mosquitto
from hydro_fleet_protocol import Photo, PhotoReason
from pi_bridge.provision import expand_nodes
from pi_bridge.settings import ConfigError

from ..helpers import BridgeProcess, Recorder, run_cli


def provision(out, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("provision", *args, "--out", str(out), "--broker-host", "127.0.0.1")


def test_batch_ranges():
    assert expand_nodes(["pi-1..pi-3", "pi-2", "lab"]) == ["pi-1", "pi-2", "pi-3", "lab"]
    assert len(expand_nodes(["pi-1..99"])) == 99
    with pytest.raises(ConfigError, match="not a valid node id"):
        expand_nodes(["Pi 7"])


async def test_each_node_writes_only_its_own_topics(socket_enabled, tmp_path):
    out = tmp_path / "prov"
    result = provision(out, "pi-1..pi-3")
    assert result.returncode == 0, result.stderr
    secrets = json.loads((out / "secrets.json").read_text())
    # Passwords go to 0600 files, never to the terminal.
    assert not any(password in result.stdout + result.stderr for password in secrets.values())
    assert oct((out / "nodes" / "pi-1.yaml").stat().st_mode & 0o777) == "0o600"
    assert oct((out / "secrets.json").stat().st_mode & 0o777) == "0o600"
    node1 = yaml.safe_load((out / "nodes" / "pi-1.yaml").read_text())
    assert node1["broker"]["username"] == "pi-1" and node1["node_id"] == "pi-1"

    # "user root": started as root, Mosquitto would otherwise drop to its own user, which cannot read
    # pytest's private tmp directory. (Not root: the option is ignored.)
    extra = f"allow_anonymous false\npassword_file {out / 'passwd'}\nacl_file {out / 'acl'}\nuser root"
    with Mosquitto(extra_config=extra) as broker:
        node1["broker"]["port"] = broker.port
        node1["state_dir"] = str(tmp_path / "state")
        node1["machine_id_file"] = str(tmp_path / "machine-id")
        config = tmp_path / "pi-1.yaml"
        config.write_text(yaml.safe_dump(node1))
        ha = {"username": "homeassistant", "password": secrets["homeassistant"]}
        async with Recorder(broker.port, **ha) as rec:
            with BridgeProcess(config, "pi-1", broker.port, interval=0.5):
                # The real bridge, with its provisioned credentials, gets through and takes commands.
                await rec.wait_for("state", timeout=20)
                assert (await rec.command("pi-1", "identify"))["ok"]
            # pi-1's credentials against pi-2's topics: the broker drops the publish and grants no read.
            async with aiomqtt.Client("127.0.0.1", broker.port, username="pi-1", password=secrets["pi-1"]) as pi1:
                await pi1.publish("hydro_fleet/pi-2/state", '{"v":1,"ts":1,"seq":1,"readings":{}}', qos=1)
                await pi1.publish("hydro_fleet/pi-2/config", "forged", qos=1, retain=True)
                # Photos (a binary topic of the protocol's table) follow the same rule.
                photo = Photo.build("plant", 1.0, PhotoReason.INTERVAL, b"\xff\xd8\xff" + bytes(64)).encode()
                await pi1.publish("hydro_fleet/pi-2/photo", photo, qos=1)
                await pi1.publish("hydro_fleet/pi-1/photo", photo, qos=1)
                await pi1.publish("hydro_fleet/pi-1/event", '{"v":1,"ts":1,"type":"marker","data":{}}', qos=1)
                await pi1.subscribe("hydro_fleet/pi-2/cmd", qos=1)
                await rec.publish("hydro_fleet/pi-2/cmd", '{"v":1,"id":"z","action":"identify"}')
                await rec.wait_for("event", lambda m: m.get("type") == "marker")
                await asyncio.sleep(0.3)
                with pytest.raises(TimeoutError):
                    async with asyncio.timeout(0.3):
                        await anext(aiter(pi1.messages))
            assert not [t for t, _ in rec.messages if t.startswith("hydro_fleet/pi-2/") and not t.endswith("/cmd")]
            assert ("hydro_fleet/pi-1/photo", photo) in rec.messages
        # A wrong password is refused outright.
        with pytest.raises(aiomqtt.MqttError):
            async with aiomqtt.Client("127.0.0.1", broker.port, username="pi-2", password="guess"):
                pass

        # Rotation: pi-2 gets a new password; after the broker reloads, the old one no longer works.
        old = secrets["pi-2"]
        assert provision(out, "pi-2", "--rotate").returncode == 0
        new = json.loads((out / "secrets.json").read_text())
        assert new["pi-2"] != old and new["pi-1"] == secrets["pi-1"]
        assert yaml.safe_load((out / "nodes" / "pi-2.yaml").read_text())["broker"]["password"] == new["pi-2"]
        broker.stop()
        broker.start()
        with pytest.raises(aiomqtt.MqttError):
            async with aiomqtt.Client("127.0.0.1", broker.port, username="pi-2", password=old):
                pass
        async with aiomqtt.Client("127.0.0.1", broker.port, username="pi-2", password=new["pi-2"]):
            pass
