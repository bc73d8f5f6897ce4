"""Blueprint tests: the repository's blueprints, instantiated in Home Assistant's test harness.

Blueprints are loaded from ``blueprints/`` of this repository (not copied), so a test
always exercises the file a user imports.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.blueprint.models import DomainBlueprints
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed, async_mock_service
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from hydro_fleet_protocol import Command
from tests.components.hydro_fleet.conftest import (  # noqa: F401  (fixtures, registered by import)
    auto_enable_custom_integrations,
    node_ack,
    node_config,
    node_state,
    online_node,
    publish,
    setup_integration,
)

BLUEPRINTS = Path(__file__).parents[2] / "blueprints"

type Notifications = list[ServiceCall]
type Commands = list[tuple[str, Command]]


@pytest.fixture(autouse=True)
def repo_blueprints():
    """Point HA's blueprint folder at the repository's ``blueprints/<domain>``."""
    with patch.object(DomainBlueprints, "blueprint_folder", property(lambda self: BLUEPRINTS / self.domain)):
        yield


@pytest.fixture
def notifications(hass: HomeAssistant) -> Notifications:
    """Calls of notify.notify (the blueprints' default notify action)."""
    return async_mock_service(hass, "notify", "notify")


@pytest.fixture
def logbook(hass: HomeAssistant) -> list[ServiceCall]:
    """Calls of logbook.log."""
    return async_mock_service(hass, "logbook", "log")


@pytest.fixture
async def pi_1(hass: HomeAssistant, setup_integration: MockConfigEntry) -> None:  # noqa: F811  (the fixture)
    """The integration set up, with node pi-1 online."""
    await online_node(hass)


async def use_blueprint(
    hass: HomeAssistant,
    path: str,
    inputs: dict[str, Any],
    alias: str = "under test",
    *,
    others: dict[str, tuple[str, dict[str, Any]]] | None = None,
) -> str:
    """Create an automation from ``blueprints/automation/hydro_fleet/<path>``; return its entity id.

    ``others`` maps more aliases to (path, inputs), for blueprints that act on automations.
    """
    blueprints = {alias: (path, inputs), **(others or {})}
    config = {
        "automation": [
            {
                "alias": name,
                "id": name.replace(" ", "_"),
                "use_blueprint": {"path": f"hydro_fleet/{bp_path}", "input": bp_inputs},
            }
            for name, (bp_path, bp_inputs) in blueprints.items()
        ]
    }
    assert await async_setup_component(hass, "automation", config)
    await hass.async_block_till_done()
    for name, (bp_path, _) in blueprints.items():
        state = hass.states.get(f"automation.{name.replace(' ', '_')}")
        assert state is not None and state.state == "on", f"{bp_path} did not become an active automation"
    return f"automation.{alias.replace(' ', '_')}"


async def settle() -> None:
    """Let everything that can run now run: MQTT messages, triggers, actions, acks.

    Not ``hass.async_block_till_done()``: it also waits for an automation that sits in a
    ``delay:``, and with the clock frozen that delay ends only when the test moves the
    clock, so it would wait forever. Yielding to the loop a bounded number of times runs
    every ready step without touching real time (the longest chain here, state -> trigger
    -> service -> command -> ack -> next step, needs a few dozen iterations).
    """
    for _ in range(SETTLE_ITERATIONS):
        await asyncio.sleep(0)


SETTLE_ITERATIONS = 300


async def advance(hass: HomeAssistant, freezer: FrozenDateTimeFactory, **delta: float) -> None:
    """Move the clock (``for:`` timers, delays) without sleeping.

    Messages published just before are handled first, at the old time, as they would be
    on a real broker; otherwise a ``for:`` timer would start after the jump.
    """
    await settle()
    freezer.tick(timedelta(**delta))
    async_fire_time_changed(hass)
    await settle()


async def report(hass: HomeAssistant, node_id: str = "pi-1", **state: Any) -> None:
    """Publish a node's state and let HA process it before the clock moves on."""
    publish(hass, node_id, "state", node_state(**state))
    await settle()


@pytest.fixture
def node_commands(hass: HomeAssistant, mqtt_mock: MqttMockHAClient) -> Commands:
    """(node id, command) HA publishes to any node's cmd topic, oldest first; each is acked as a node would.

    The ack is published on the next loop iteration, like a node on a fast LAN, so the
    pump switch's wait for the ack ends within ``async_block_till_done`` and no test has
    to race the automation's task.
    """
    sent: Commands = []
    real_publish = mqtt_mock.async_publish._mock_wraps

    def publish_and_ack(topic: str, payload: Any, *args: Any, **kwargs: Any) -> Any:
        parts = topic.split("/")
        if len(parts) == 3 and parts[0] == "hydro_fleet" and parts[2] == "cmd":
            node_id = parts[1]
            command = Command.parse(payload)
            sent.append((node_id, command))
            hass.loop.call_soon(publish, hass, node_id, "ack", node_ack(command, node_config(node_id)))
        return real_publish(topic, payload, *args, **kwargs)

    mqtt_mock.async_publish.side_effect = publish_and_ack
    return sent


def actions(sent: Commands) -> list[tuple[str, str, str | None]]:
    """(node id, action, target) of each command, for compact assertions."""
    return [(node_id, str(c.action), c.target) for node_id, c in sent]


def durations(sent: Commands) -> list[float | None]:
    """The duration each command asked for (pump_on through hydro_fleet.run_pump)."""
    return [c.params.get("duration") for _, c in sent]
