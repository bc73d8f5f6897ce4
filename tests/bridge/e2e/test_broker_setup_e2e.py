"""The broker set-up ``provision`` generates, run by Debian's Mosquitto as its own user.

Each test puts the generated ``hydro-fleet.conf`` into ``conf.d`` as docs/bridge.md says,
starts ``/usr/sbin/mosquitto`` as root the way ``mosquitto.service`` does (it drops to
user ``mosquitto`` before reading the files), then drives it with real bridges, Home
Assistant's user (birth message, deleting a node) and, on a shared broker, a
zigbee2mqtt-like client that was there before the fleet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
import glob
import json
import os
from pathlib import Path
import shutil
import subprocess

import aiomqtt
import pytest
import yaml

from hydro_fleet_protocol import TopicKind
from hydro_fleet_protocol.topics import node_published_kinds
from pi_bridge.broker_acl import Access, node_rules

from ..helpers import BridgeProcess, Recorder, run_cli, wait_until
from .distro_broker import BROKER_USER, DistroMosquitto, can_run_as_distro

_WHY_NOT = can_run_as_distro()
# A developer without root may skip these; CI (root, Mosquitto installed by scripts/test) may
# not: there a missing prerequisite fails the run instead of hiding the tests.
distro_only = pytest.mark.skipif(_WHY_NOT is not None and not os.environ.get("CI"), reason=str(_WHY_NOT))
OPERATOR_USERS = {"homeassistant": "ha-own-password", "zigbee2mqtt": "z2m-own-password"}


@pytest.fixture
def distro(socket_enabled) -> Iterator[DistroMosquitto]:
    broker = DistroMosquitto()
    try:
        yield broker
    finally:
        broker.cleanup()


def provision(distro: DistroMosquitto, *args: str) -> Path:
    out = distro.etc / "hydro-fleet"
    result = run_cli(
        "provision", *args, "--out", str(out), "--broker-host", "127.0.0.1", "--broker-port", str(distro.port)
    )
    assert result.returncode == 0, result.stderr
    secrets = json.loads((out / "secrets.json").read_text())
    assert not any(password in result.stdout + result.stderr for password in secrets.values())
    return out


def install(distro: DistroMosquitto, out: Path) -> None:
    """What docs/bridge.md tells the operator: the generated lines go to conf.d."""
    shutil.copy(out / "hydro-fleet.conf", distro.conf_d / "hydro-fleet.conf")


def operator_password_file(distro: DistroMosquitto) -> Path:
    """The broker as it was before the fleet: HA and zigbee2mqtt in a password file, no ACL."""
    path = distro.etc / "passwd"
    path.write_text("".join(f"{user}:{password}\n" for user, password in OPERATOR_USERS.items()))
    subprocess.run(["mosquitto_passwd", "-U", str(path)], check=True)
    shutil.chown(path, group=BROKER_USER)
    os.chmod(path, 0o640)
    distro.add_conf("local.conf", f"allow_anonymous false\npassword_file {path}\n")
    return path


def bridge(out: Path, node: str, tmp_path: Path) -> BridgeProcess:
    """A real simulated bridge on the config file provision wrote for it."""
    config = yaml.safe_load((out / "nodes" / f"{node}.yaml").read_text())
    config["state_dir"] = str(tmp_path / node / "state")
    config["machine_id_file"] = str(tmp_path / node / "machine-id")
    (tmp_path / node).mkdir(exist_ok=True)
    path = tmp_path / node / "bridge.yaml"
    path.write_text(yaml.safe_dump(config))
    return BridgeProcess(path, node, config["broker"]["port"], interval=0.5)


async def nothing_arrives(client: aiomqtt.Client, seconds: float = 0.5) -> None:
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(seconds):
            await anext(aiter(client.messages))


async def run_fleet(distro: DistroMosquitto, out: Path, ha_password: str, tmp_path: Path) -> None:
    """HA with its birth message, two nodes, pi-1 fenced off from pi-2, and a deleted node staying deleted."""
    secrets = json.loads((out / "secrets.json").read_text())
    port = distro.port
    async with Recorder(port, "#", username="homeassistant", password=ha_password) as ha:
        # HA's birth message: denied, HA never learns its entities should be re-announced.
        await ha.publish("homeassistant/status", "online")
        await ha.wait_for("status", lambda m: m.get("raw") == "online", timeout=5)
        pi2 = bridge(out, "pi-2", tmp_path).start()
        try:
            with bridge(out, "pi-1", tmp_path):
                for node in ("pi-1", "pi-2"):
                    topic = f"hydro_fleet/{node}/state"
                    await wait_until(lambda topic=topic: any(t == topic for t, _ in ha.messages), 20, topic)
                    await ha.wait_for("config", lambda m, node=node: m.get("node_id") == node)
                    assert (await ha.command(node, "identify", cmd_id=f"id-{node}"))["ok"]
                async with aiomqtt.Client("127.0.0.1", port, username="pi-1", password=secrets["pi-1"]) as pi1:
                    await pi1.publish("hydro_fleet/pi-2/state", '{"v":1,"ts":1,"seq":1,"readings":{}}', qos=1)
                    await pi1.publish("hydro_fleet/pi-2/config", "forged", qos=1, retain=True)
                    await pi1.publish("hydro_fleet/pi-2/cmd", '{"v":1,"id":"x","action":"identify"}', qos=1)
                    await pi1.publish("hydro_fleet/pi-1/event", '{"v":1,"ts":1,"type":"marker","data":{}}', qos=1)
                    await pi1.subscribe("hydro_fleet/pi-2/cmd", qos=1)
                    await ha.publish("hydro_fleet/pi-2/cmd", '{"v":1,"id":"z","action":"identify"}')
                    await ha.wait_for("event", lambda m: m.get("type") == "marker")
                    await ha.wait_for("ack", lambda m: m.get("id") == "z")
                    await nothing_arrives(pi1)
                to_pi2 = [p for t, p in ha.messages if t.startswith("hydro_fleet/pi-2/")]
                assert [p for p in to_pi2 if b"forged" in p or b'"x"' in p] == []
                assert not [p for t, p in ha.messages if t == "hydro_fleet/pi-2/state" and b'"seq":1,' in p]
            # The user deletes pi-2 in HA (the node is gone): HA clears its retained config, as fleet.py does.
            pi2.stop()
        finally:
            if pi2.process is not None and pi2.process.poll() is None:
                pi2.process.kill()
                pi2.process.wait()
    async with aiomqtt.Client("127.0.0.1", port, username="homeassistant", password=ha_password) as client:
        await client.publish("hydro_fleet/pi-2/config", b"", qos=1, retain=True)
    # Restart the broker (its persistence keeps retained messages): the device must not come back.
    distro.stop()
    distro.start()
    async with Recorder(port, "hydro_fleet/+/config", username="homeassistant", password=ha_password) as ha:
        await ha.wait_for("config", lambda m: m.get("node_id") == "pi-1", timeout=10)
        await asyncio.sleep(0.5)
        assert [t for t, _ in ha.messages if t == "hydro_fleet/pi-2/config"] == []


@distro_only
async def test_acl_files_start_with_debians_mosquitto_as_its_own_user(distro, tmp_path):
    """Item 7: the password file and ACL as generated, read by Mosquitto after it drops to its user."""
    others = distro.etc / "other-users.acl"
    others.write_text("user zigbee2mqtt\ntopic readwrite zigbee2mqtt/#\n")
    out = provision(distro, "pi-1", "pi-2", "--acl-include", str(others))
    acl = (out / "acl").read_text()
    # The add-on's convention: its own users keep every topic; the operator's other users are kept.
    for stanza in ("user homeassistant\ntopic readwrite #\n", "user addons\ntopic readwrite #\n"):
        assert stanza in acl
    assert acl.rstrip().endswith("user zigbee2mqtt\ntopic readwrite zigbee2mqtt/#")
    install(distro, out)
    distro.start()
    assert distro.running_user() == BROKER_USER
    assert "Unable to open" not in distro.log()
    assert oct((out / "secrets.json").stat().st_mode & 0o777) == "0o600"
    assert oct((out / "nodes").stat().st_mode & 0o777) == "0o700"
    assert oct((out / "passwd").stat().st_mode & 0o777) == "0o640"
    secrets = json.loads((out / "secrets.json").read_text())
    await run_fleet(distro, out, secrets["homeassistant"], tmp_path)


@distro_only
async def test_dynsec_adds_the_fleet_to_a_shared_broker(distro, tmp_path):
    """Items 8, 9: a broker HA and zigbee2mqtt already use; the fleet is added, nobody is locked out."""
    passwd = operator_password_file(distro)
    dynsec_file = distro.var / "dynamic-security.json"
    out = provision(distro, "pi-1", "pi-2", "--dynsec", str(dynsec_file), "--keep-users-of", str(passwd))
    assert "homeassistant" not in json.loads((out / "secrets.json").read_text())  # HA keeps its own password
    assert not (out / "passwd").exists()
    install(distro, out)
    distro.start()
    assert distro.running_user() == BROKER_USER

    z2m_login = {"username": "zigbee2mqtt", "password": OPERATOR_USERS["zigbee2mqtt"]}
    async with aiomqtt.Client("127.0.0.1", distro.port, **z2m_login) as z2m:
        await z2m.subscribe("zigbee2mqtt/#", qos=1)
        await z2m.subscribe("homeassistant/status", qos=1)
        async with Recorder(distro.port, "#", username="homeassistant", password=OPERATOR_USERS["homeassistant"]) as ha:
            # zigbee2mqtt keeps publishing and HA keeps reaching it, both ways.
            await z2m.publish("zigbee2mqtt/bridge/state", "online", qos=1, retain=True)
            await ha.wait_for("state", lambda m: m.get("raw") == "online", timeout=5)
            await ha.publish("zigbee2mqtt/lamp/set", '{"state":"ON"}')
            await ha.publish("homeassistant/status", "online")
            seen = []
            async with asyncio.timeout(5):
                async for message in z2m.messages:
                    seen.append(str(message.topic))
                    if {"zigbee2mqtt/lamp/set", "homeassistant/status"} <= set(seen):
                        break
            # What it may not do is act as the fleet: a forged command never reaches the node's topic.
            await z2m.publish("hydro_fleet/pi-1/cmd", '{"v":1,"id":"forged","action":"identify"}', qos=1)
            await asyncio.sleep(0.5)
            assert not [t for t, p in ha.messages if t == "hydro_fleet/pi-1/cmd"]
    await run_fleet(distro, out, OPERATOR_USERS["homeassistant"], tmp_path)

    # A rerun with the broker stopped, as the docs say: a third node, pi-2 rotated, nobody else touched.
    old_pi2 = json.loads((out / "secrets.json").read_text())["pi-2"]
    distro.stop()
    provision(distro, "pi-3", "--dynsec", str(dynsec_file), "--keep-users-of", str(passwd))
    provision(distro, "pi-2", "--rotate", "--dynsec", str(dynsec_file))
    distro.start()
    secrets = json.loads((out / "secrets.json").read_text())
    logins = [{"username": node, "password": secrets[node]} for node in ("pi-1", "pi-2", "pi-3")]
    for login in [*logins, z2m_login, {"username": "homeassistant", "password": OPERATOR_USERS["homeassistant"]}]:
        async with aiomqtt.Client("127.0.0.1", distro.port, **login):
            pass
    with pytest.raises(aiomqtt.MqttError):
        async with aiomqtt.Client("127.0.0.1", distro.port, username="pi-2", password=old_pi2):
            pass


def mosquitto_ctrl(distro: DistroMosquitto, *args: str) -> str:
    """The operator's own tool against the running broker, as its dynsec admin."""
    login = ["-h", "127.0.0.1", "-p", str(distro.port), "-u", "admin", "-P", "admin-password"]
    result = subprocess.run(["mosquitto_ctrl", *login, "dynsec", *args], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


@distro_only
async def test_dynsec_merges_into_a_broker_that_already_uses_it(distro, tmp_path):
    """A broker whose operator runs the plugin (an admin, zigbee2mqtt with its own role): all kept."""
    dynsec_file = distro.var / "dynamic-security.json"
    subprocess.run(["mosquitto_ctrl", "dynsec", "init", str(dynsec_file), "admin", "admin-password"], check=True)
    shutil.chown(dynsec_file, BROKER_USER, BROKER_USER)
    (plugin,) = glob.glob("/usr/lib/*/mosquitto_dynamic_security.so") or glob.glob("/usr/lib/mosquitto_dynamic_*.so")
    distro.add_conf("dynsec.conf", f"allow_anonymous false\nplugin {plugin}\nplugin_opt_config_file {dynsec_file}\n")
    distro.start()
    mosquitto_ctrl(distro, "createRole", "z2m")
    for acltype in ("publishClientSend", "subscribePattern"):
        mosquitto_ctrl(distro, "addRoleACL", "z2m", acltype, "zigbee2mqtt/#", "allow")
    mosquitto_ctrl(distro, "createClient", "zigbee2mqtt", "-p", OPERATOR_USERS["zigbee2mqtt"])
    mosquitto_ctrl(distro, "addClientRole", "zigbee2mqtt", "z2m")
    distro.stop()

    out = provision(distro, "pi-1", "pi-2", "--dynsec", str(dynsec_file))  # the plugin is loaded already
    distro.start()
    assert distro.running_user() == BROKER_USER
    clients = mosquitto_ctrl(distro, "listClients")
    assert {"admin", "zigbee2mqtt", "homeassistant", "pi-1", "pi-2"} <= set(clients.split())
    assert "z2m" in mosquitto_ctrl(distro, "getClient", "zigbee2mqtt")
    z2m_login = {"username": "zigbee2mqtt", "password": OPERATOR_USERS["zigbee2mqtt"]}
    async with aiomqtt.Client("127.0.0.1", distro.port, **z2m_login) as z2m:
        await z2m.subscribe("zigbee2mqtt/#", qos=1)
        await z2m.publish("zigbee2mqtt/bridge/state", "online", qos=1)
        async with asyncio.timeout(5):
            message = await anext(aiter(z2m.messages))
        assert str(message.topic) == "zigbee2mqtt/bridge/state"
    secrets = json.loads((out / "secrets.json").read_text())
    await run_fleet(distro, out, secrets["homeassistant"], tmp_path)


def test_node_rules_follow_the_topic_table():
    """A topic kind added to the protocol is a node topic its node may write, with no ACL change."""
    rules = node_rules("hydro_fleet", "pi-1")
    written = {rule.topic for rule in rules if rule.access is Access.WRITE}
    assert written == {f"hydro_fleet/pi-1/{kind}" for kind in node_published_kinds()}
    assert f"hydro_fleet/pi-1/{TopicKind.CMD}" not in written
    assert set(node_published_kinds()) == set(TopicKind) - {TopicKind.CMD}
    read = {rule.topic for rule in rules if rule.access is Access.READ}
    assert read == {f"hydro_fleet/pi-1/{kind}" for kind in ("cmd", "config", "availability")}
