"""A real stack for end-to-end tests: Mosquitto, a `hass` process and simulated Pi bridges."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from devtools.bridges import BridgeProcess
from devtools.homeassistant import HomeAssistant
from devtools.mosquitto import Mosquitto, free_port

NODES = ("pi-1", "pi-2", "pi-3")
PUMP_MAX_RUNTIME = 3.0


@dataclass
class Stack:
    broker: Mosquitto
    hass: HomeAssistant
    bridges: dict[str, BridgeProcess] = field(default_factory=dict)


@pytest.fixture
def stack(socket_enabled: None, tmp_path: Path) -> Iterator[Stack]:
    """Everything started, onboarded and configured; every process stopped afterwards, also on failure."""
    broker = Mosquitto(workdir=tmp_path / "mosquitto")
    hass = HomeAssistant(tmp_path / "ha", free_port(), log_level="warning")
    bridges = {
        node: BridgeProcess(node, broker.port, tmp_path / "bridges", interval=1.0, max_runtime=PUMP_MAX_RUNTIME)
        for node in NODES
    }
    try:
        broker.start()
        for bridge in bridges.values():
            bridge.start()
        hass.start_with_mqtt(broker.port, "tester", "tester-password")
        yield Stack(broker, hass, bridges)
    except BaseException:
        print("---- hass log ----\n" + hass.log_tail())
        for bridge in bridges.values():
            print(f"---- {bridge.node_id} log ----\n" + bridge.log()[-2000:])
        raise
    finally:
        for bridge in bridges.values():
            bridge.stop()
        hass.stop()
        broker.stop()
