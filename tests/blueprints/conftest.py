"""Blueprint tests: the repository's blueprints, instantiated in Home Assistant's test harness.

Blueprints are loaded from ``blueprints/`` of this repository (not copied), so a test
always exercises the file a user imports.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
import json
from pathlib import Path
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.blueprint.models import DomainBlueprints
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed, async_mock_service
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from hydro_fleet_protocol import Ack, Command
from tests.components.hydro_fleet.conftest import (  # noqa: F401  (fixtures, registered by import)
    auto_enable_custom_integrations,
    node_state,
    publish,
    setup_integration,
)

BLUEPRINTS = Path(__file__).parents[2] / "blueprints"


@pytest.fixture(autouse=True)
def repo_blueprints():
    """Point HA's blueprint folder at the repository's ``blueprints/<domain>``."""
    with patch.object(DomainBlueprints, "blueprint_folder", property(lambda self: BLUEPRINTS / self.domain)):
        yield


@pytest.fixture
def notifications(hass: HomeAssistant) -> list[ServiceCall]:
    """Calls of notify.notify (the blueprints' default notify action)."""
    return async_mock_service(hass, "notify", "notify")


async def use_blueprint(hass: HomeAssistant, path: str, inputs: dict[str, Any], alias: str = "under test") -> str:
    """Create an automation from ``blueprints/automation/hydro_fleet/<path>``; return its entity id."""
    config = {"automation": [{
        "alias": alias, "id": alias.replace(" ", "_"),
        "use_blueprint": {"path": f"hydro_fleet/{path}", "input": inputs},
    }]}
    assert await async_setup_component(hass, "automation", config)
    await hass.async_block_till_done()
    entity_id = f"automation.{alias.replace(' ', '_')}"
    state = hass.states.get(entity_id)
    assert state is not None and state.state == "on", f"{path} did not become an active automation"
    return entity_id


async def advance(hass: HomeAssistant, freezer: FrozenDateTimeFactory, **delta: float) -> None:
    """Move the clock (``for:`` timers, delays) without sleeping."""
    freezer.tick(timedelta(**delta))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


async def report(hass: HomeAssistant, node_id: str = "pi-1", **state: Any) -> None:
    """Publish a node's state and let HA process it before the clock moves on."""
    publish(hass, node_id, "state", node_state(**state))
    await hass.async_block_till_done()


def commands(mqtt_mock: MqttMockHAClient, node_id: str = "pi-1") -> list[Command]:
    """Every command published to a node's cmd topic so far, oldest first."""
    return [Command.parse(c.args[1]) for c in mqtt_mock.async_publish.call_args_list
            if c.args[0] == f"hydro_fleet/{node_id}/cmd"]


async def ack_next_command(hass: HomeAssistant, mqtt_mock: MqttMockHAClient, node_id: str = "pi-1",
                           *, seen: int = 0) -> Command:
    """Wait for command number ``seen + 1`` of a node and ack it as the node would.

    The switch awaits the ack inside the automation's action, so the command appears
    only after a few loop iterations; this yields to the loop instead of sleeping.
    """
    for _ in range(200):
        sent = commands(mqtt_mock, node_id)
        if len(sent) > seen:
            break
        await asyncio.sleep(0)
    else:
        raise AssertionError(f"no command #{seen + 1} on hydro_fleet/{node_id}/cmd; sent: {sent}")
    command = sent[seen]
    publish(hass, node_id, "ack", Ack(command.id, ok=True))
    await hass.async_block_till_done()
    return command


def payload(call) -> dict[str, Any]:
    return json.loads(call.args[1])
