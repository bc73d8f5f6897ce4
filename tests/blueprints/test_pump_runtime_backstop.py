"""A pump reported on for longer than expected -> HA turns it off and notifies."""

from __future__ import annotations

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest

from tests.components.hydro_fleet.conftest import online_node

from .conftest import Commands, Notifications, actions, advance, report, use_blueprint


@pytest.mark.usefixtures("pi_1")
async def test_pump_left_on_is_turned_off(
    hass: HomeAssistant, node_commands: Commands, notifications: Notifications, freezer: FrozenDateTimeFactory
) -> None:
    await online_node(hass, "pi-2")
    await use_blueprint(
        hass, "pump_runtime_backstop.yaml", {"pumps": ["switch.pi_1_pump", "switch.pi_2_pump"], "minutes": 10}
    )

    # pi-2 runs a normal watering: on, then off well within the limit.
    await report(hass, "pi-2", seq=2, pump_on=True)
    await report(hass, seq=2, pump_on=True)
    await advance(hass, freezer, minutes=1)
    await report(hass, "pi-2", seq=3, pump_on=False)
    await advance(hass, freezer, minutes=8)
    assert node_commands == []

    await advance(hass, freezer, minutes=2)
    assert actions(node_commands) == [("pi-1", "pump_off", "pump")]
    assert len(notifications) == 1
    assert notifications[0].data["message"] == (
        "pi-1 Pump was on for more than 10 minutes; Home Assistant told the node to turn it off."
    )
    await report(hass, seq=3, pump_on=False)
    assert hass.states.get("switch.pi_1_pump").state == "off"
