"""The ESPHome node: valid for ESPHome itself, and speaking our protocol v1.

``esphome config`` runs from ESPHome's own venv (its pins clash with Home Assistant's);
scripts/test creates it from requirements/esphome.txt and exports ESPHOME_VENV.
"""

from __future__ import annotations

import os
from pathlib import Path
import re
import shutil
import subprocess
from typing import Any

import yaml

from hydro_fleet_protocol import NodeConfig, NodeKind, PumpConfig, SensorType

NODE_YAML = Path(__file__).parents[2] / "esphome" / "hydro-node.yaml"
SECRETS = {
    "wifi_ssid": "greenhouse",
    "wifi_password": "not-a-real-password",
    "mqtt_broker": "192.0.2.10",
    "mqtt_username": "esp-1",
    "mqtt_password": "not-a-real-password",
}


def esphome_bin() -> Path:
    venv = os.environ.get("ESPHOME_VENV")
    assert venv, "ESPHOME_VENV is not set: run the tests through scripts/test, which creates ESPHome's venv"
    path = Path(venv) / "bin" / "esphome"
    assert path.is_file(), f"{path} is missing; delete {venv} and rerun scripts/test to rebuild it"
    return path


def test_esphome_config_accepts_the_node(tmp_path: Path) -> None:
    # A copy beside a secrets.yaml, as a user's ESPHome folder would have it.
    shutil.copy(NODE_YAML, tmp_path / NODE_YAML.name)
    (tmp_path / "secrets.yaml").write_text(yaml.safe_dump(SECRETS))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    result = subprocess.run(
        [esphome_bin(), "config", NODE_YAML.name],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"esphome config failed for {NODE_YAML}:\n{output[-4000:]}"
    assert "Configuration is valid!" in output


class _Loader(yaml.SafeLoader):
    """Reads ESPHome YAML; tags such as !secret and !lambda become their plain value."""


_Loader.add_multi_constructor("!", lambda loader, suffix, node: loader.construct_scalar(node))


def _node() -> dict[str, Any]:
    return yaml.load(NODE_YAML.read_text(), Loader=_Loader)  # a SafeLoader subclass


def _substitute(text: str, substitutions: dict[str, Any]) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: str(substitutions[m.group(1)]), text)


def test_discovery_config_is_a_valid_protocol_v1_node() -> None:
    node = _node()
    subs = node["substitutions"]
    config = NodeConfig.parse(_substitute(subs["discovery"], subs))

    assert config.node_id == subs["node_id"] == node["esphome"]["name"].replace("${node_id}", subs["node_id"])
    assert config.kind is NodeKind.ESPHOME
    assert config.pumps == (PumpConfig("pump", name="Pump", max_runtime=float(subs["max_runtime"])),)
    types = {s.key: s.type for s in config.sensors}
    assert {types["tds"], types["ph"], types["moisture"]} == {SensorType.TDS, SensorType.PH, SensorType.MOISTURE}
    on_connect = node["mqtt"]["on_connect"][0]["mqtt.publish"]
    assert (on_connect["topic"], on_connect["retain"], on_connect["payload"]) == (
        "${prefix}/${node_id}/config",
        True,
        "${discovery}",
    )


def test_state_and_acks_use_the_announced_keys_and_topics() -> None:
    node = _node()
    subs = node["substitutions"]
    config = NodeConfig.parse(_substitute(subs["discovery"], subs))
    scripts = {s["id"]: s for s in node["script"]}
    state_payload = scripts["publish_state"]["then"][0]["if"]["then"][0]["mqtt.publish_json"]["payload"]

    # Every announced sensor is in each state message, and nothing else is.
    sent = set(re.findall(r'put\("(\w+)"', state_payload)) | set(re.findall(r'readings\["(\w+)"\] =', state_payload))
    assert sent == {s.key for s in config.sensors}
    assert 'root["v"] = 1' in state_payload and 'root["seq"]' in state_payload and 'root["ts"]' in state_payload

    mqtt = node["mqtt"]
    availability = "${prefix}/${node_id}/availability"
    assert (mqtt["birth_message"]["topic"], mqtt["birth_message"]["payload"], mqtt["birth_message"]["retain"]) == (
        availability,
        "online",
        True,
    )
    assert (mqtt["will_message"]["topic"], mqtt["will_message"]["payload"], mqtt["will_message"]["retain"]) == (
        availability,
        "offline",
        True,
    )
    assert mqtt["discovery"] is False
    commands = mqtt["on_json_message"]
    assert commands["topic"] == "${prefix}/${node_id}/cmd"
    handler = commands["then"][0]["lambda"]
    assert '"${prefix}/${node_id}/ack"' in handler
    # The error codes are the protocol's (docs/protocol.md), and the pump never runs past max_runtime.
    assert set(re.findall(r'refuse\("(\w+)"', handler)) == {
        "unknown_pump",
        "invalid_duration",
        "water_low",
        "unsupported",
        "unsupported_version",
        "invalid_command",
    }
    assert "std::min(asked, max_runtime)" in handler
    # Nothing of ESPHome's own is published: every component stays internal.
    for domain in ("sensor", "binary_sensor", "switch"):
        for component in node[domain]:
            assert component.get("internal") is True, f"{NODE_YAML}: {domain} {component['id']} is not internal"
