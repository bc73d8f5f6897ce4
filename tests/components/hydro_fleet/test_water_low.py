"""One water-low decision (issue #17 item 3): HA shows the node's own decision from its
state, and HA's threshold option goes to the node as configuration (``set_config``),
never as a second rule that could say "not low" while the node refuses to water."""

from __future__ import annotations

import dataclasses

from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from hydro_fleet_protocol import CommandAction, ProtocolError, State, encode

from .conftest import FakeNode, node_config, node_state, publish

SENSOR = "binary_sensor.pi_1_water_low"


def _state(seq: int, water_low: bool | None, **readings: object) -> State:
    return dataclasses.replace(node_state(seq=seq, **readings), water_low=water_low)


async def _send(hass: HomeAssistant, state: State, node_id: str = "pi-1") -> None:
    publish(hass, node_id, "state", state)
    await hass.async_block_till_done()


async def _online(hass: HomeAssistant, node_id: str = "pi-1", **extra: object) -> None:
    publish(hass, node_id, "config", node_config(node_id, extra=extra))
    publish(hass, node_id, "availability", "online")
    # set_config runs as a background task (a node may take up to the command timeout).
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_water_low_is_the_nodes_decision(hass: HomeAssistant, setup_integration: MockConfigEntry) -> None:
    await _online(hass, water_low_pct=5.0)
    # 12 % is under HA's old default threshold (20 %) but above the node's 5 %: the node
    # waters, so HA must not say "low".
    await _send(hass, _state(1, False, water_level=12.0))
    assert hass.states.get(SENSOR).state == STATE_OFF
    assert "water low" not in hass.states.get("binary_sensor.pi_1_needs_attention").attributes["reasons"]
    # The node's hysteresis keeps it tripped at 6 % (limit + 2 points not reached): so does HA.
    await _send(hass, _state(2, True, water_level=4.0))
    assert hass.states.get(SENSOR).state == STATE_ON
    await _send(hass, _state(3, True, water_level=6.0))
    assert hass.states.get(SENSOR).state == STATE_ON
    assert "water low" in hass.states.get("binary_sensor.pi_1_needs_attention").attributes["reasons"]
    # Only the decision changed (same readings): still shown.
    await _send(hass, _state(4, False, water_level=6.0))
    assert hass.states.get(SENSOR).state == STATE_OFF


async def test_without_a_decision_a_float_switch_speaks_else_unknown(
    hass: HomeAssistant, setup_integration: MockConfigEntry
) -> None:
    await _online(hass)
    await _send(hass, _state(1, None, water_level=3.0))
    assert hass.states.get(SENSOR).state == STATE_UNKNOWN  # no rule of HA's own on the level


async def test_threshold_option_is_sent_to_the_nodes_as_configuration(
    hass: HomeAssistant, setup_integration: MockConfigEntry, fake_node: FakeNode
) -> None:
    await _online(hass, "pi-1", water_low_pct=5.0)
    await _online(hass, "pi-2", water_low_pct=15.0)  # already at the value set below
    await _online(hass, "pi-3")  # does not report the setting: cannot take it
    assert fake_node.commands == []  # no option set: every node keeps its own

    result = await hass.config_entries.options.async_init(setup_integration.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"offline_minutes": 30, "calibration_days": 30, "water_low_percent": 15}
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    sent = [(c.action, c.target, c.params) for c in fake_node.commands]
    assert sent == [(CommandAction.SET_CONFIG, None, {"water_low_pct": 15.0})]

    # The node restarts with its file's 5 % and announces itself again: HA sends it again.
    fake_node.commands.clear()
    publish(hass, "pi-1", "availability", "offline")
    await _online(hass, "pi-1", water_low_pct=5.0)
    assert [c.params for c in fake_node.commands] == [{"water_low_pct": 15.0}]
    # Once the node reports the value, nothing more is sent.
    fake_node.commands.clear()
    await _online(hass, "pi-1", water_low_pct=15.0)
    assert fake_node.commands == []

    # Cleared in the options: HA stops sending a threshold.
    result = await hass.config_entries.options.async_init(setup_integration.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"offline_minutes": 30, "calibration_days": 30}
    )
    await hass.async_block_till_done()
    assert "water_low_percent" not in setup_integration.options
    publish(hass, "pi-1", "availability", "offline")
    await _online(hass, "pi-1", water_low_pct=5.0)
    assert fake_node.commands == []


def test_state_water_low_round_trips_and_is_strictly_a_bool() -> None:
    for value in (True, False, None):
        state = _state(1, value)
        assert State.parse(encode(state)).water_low is value
    assert b'"water_low"' not in encode(_state(1, None))
    with pytest.raises(ProtocolError, match="'water_low' must be true or false"):
        State.parse(b'{"v": 1, "ts": 1, "seq": 1, "readings": {}, "water_low": 1}')
