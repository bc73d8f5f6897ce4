"""Faults outside testing found in the integration (issue #17 items 1-2): a pump never shown
running past the deadline its node announced, and a repair that goes with its cause."""

from __future__ import annotations

from datetime import UTC, datetime

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.hydro_fleet.const import DOMAIN
from hydro_fleet_protocol import PumpState

from .conftest import node_config, node_state, publish

T0 = 1_700_000_000.0
SWITCH = "switch.pi_1_pump"


def _state(ts: float, on: bool, until: float | None) -> object:
    state = node_state()
    return type(state)(
        ts=ts, seq=int(ts), readings=state.readings, pumps={"pump": PumpState(on=on, until=until)}, plans=state.plans
    )


async def _at(hass: HomeAssistant, freezer: FrozenDateTimeFactory, when: float) -> None:
    freezer.move_to(datetime.fromtimestamp(when, UTC))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


async def test_pump_is_not_shown_on_past_the_announced_deadline(
    hass: HomeAssistant, setup_integration: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """Item 1: the node stops the pump at ``runs_until`` whatever happens to the link; HA
    must not keep showing ``on`` after it without a fresh confirmation."""
    await _at(hass, freezer, T0)
    publish(hass, "pi-1", "config", node_config())
    publish(hass, "pi-1", "availability", "online")
    publish(hass, "pi-1", "state", _state(T0, True, T0 + 30))
    await hass.async_block_till_done()
    assert hass.states.get(SWITCH).state == STATE_ON

    # The node goes silent (its link to the broker is cut, say): no state, no last will yet.
    await _at(hass, freezer, T0 + 28)
    assert hass.states.get(SWITCH).state == STATE_ON
    await _at(hass, freezer, T0 + 30.01)
    state = hass.states.get(SWITCH)
    assert state.state == STATE_OFF
    assert state.attributes["runs_until"] == datetime.fromtimestamp(T0 + 30, UTC).isoformat()

    # A late copy of a state sampled before the deadline does not bring it back...
    publish(hass, "pi-1", "state", _state(T0 + 29, True, T0 + 30))
    await hass.async_block_till_done()
    assert hass.states.get(SWITCH).state == STATE_OFF
    # ...a state sampled after it that still says on is a fresh confirmation.
    publish(hass, "pi-1", "state", _state(T0 + 31, True, T0 + 30))
    await hass.async_block_till_done()
    assert hass.states.get(SWITCH).state == STATE_ON

    # A run the node extended is shown until its new deadline, and off after it.
    publish(hass, "pi-1", "state", _state(T0 + 32, True, T0 + 60))
    await hass.async_block_till_done()
    await _at(hass, freezer, T0 + 59)
    assert hass.states.get(SWITCH).state == STATE_ON
    await _at(hass, freezer, T0 + 61)
    assert hass.states.get(SWITCH).state == STATE_OFF


async def test_deadline_timer_is_replaced_not_stacked(
    hass: HomeAssistant, setup_integration: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """A pump stopped and restarted: the first run's deadline does not cut the second short."""
    await _at(hass, freezer, T0)
    publish(hass, "pi-1", "config", node_config())
    publish(hass, "pi-1", "availability", "online")
    publish(hass, "pi-1", "state", _state(T0, True, T0 + 10))
    publish(hass, "pi-1", "state", _state(T0 + 1, False, None))
    publish(hass, "pi-1", "state", _state(T0 + 2, True, T0 + 40))
    await hass.async_block_till_done()
    await _at(hass, freezer, T0 + 11)
    assert hass.states.get(SWITCH).state == STATE_ON
    await _at(hass, freezer, T0 + 41)
    assert hass.states.get(SWITCH).state == STATE_OFF


async def test_unsupported_version_repair_clears_with_the_next_valid_message(
    hass: HomeAssistant, setup_integration: MockConfigEntry
) -> None:
    """Item 2: one non-retained config with ``"v": 2`` raised the repair, and valid v1 states
    did not clear it; only a new valid config did (when the bridge reconnected)."""
    publish(hass, "pi-1", "config", node_config())
    publish(hass, "pi-1", "availability", "online")
    publish(hass, "pi-1", "state", node_state(seq=1))
    await hass.async_block_till_done()
    publish(hass, "pi-1", "config", '{"v": 2, "node_id": "pi-1", "kind": "pi"}')
    await hass.async_block_till_done()
    issues = ir.async_get(hass).issues
    assert (DOMAIN, "unsupported_protocol_version_pi-1") in issues

    publish(hass, "pi-1", "state", node_state(seq=2))
    await hass.async_block_till_done()
    assert (DOMAIN, "unsupported_protocol_version_pi-1") not in ir.async_get(hass).issues
    # Still the v1 node it was: its entities kept working through it.
    assert hass.states.get("sensor.pi_1_ph").state == "6.1"


async def test_unsupported_version_repair_clears_with_a_valid_ack(
    hass: HomeAssistant, setup_integration: MockConfigEntry
) -> None:
    publish(hass, "pi-1", "config", node_config())
    publish(hass, "pi-1", "config", '{"v": 2, "node_id": "pi-1", "kind": "pi"}')
    await hass.async_block_till_done()
    assert (DOMAIN, "unsupported_protocol_version_pi-1") in ir.async_get(hass).issues
    publish(hass, "pi-1", "ack", '{"v": 1, "id": "x", "ok": true}')
    await hass.async_block_till_done()
    assert (DOMAIN, "unsupported_protocol_version_pi-1") not in ir.async_get(hass).issues
