"""HA's own MQTT connection lost (issue #17 item 1): Mosquitto killed with SIGKILL while a
real ``hass`` runs and a pump runs. Every node's entities go unavailable instead of showing
their last values as live, and come back when the broker does."""

from __future__ import annotations

import time

import pytest

from .conftest import NODES, PUMP_MAX_RUNTIME, Stack
from .test_end_to_end import _entity_ids

pytestmark = pytest.mark.e2e


def test_entities_go_unavailable_while_the_broker_is_down(stack: Stack) -> None:
    hass = stack.hass
    hass.accept_discovery()
    every_entity = [entity_id for node in NODES for entity_id in _entity_ids(node)]

    def all_reporting() -> bool:
        states = hass.states()
        return all(e in states and states[e]["state"] not in ("unknown", "unavailable") for e in every_entity)

    hass.wait_for(all_reporting, 60, "every sensor and pump to report")
    hass.call_service("switch", "turn_on", {"entity_id": "switch.pi_1_pump"})
    assert hass.state("switch.pi_1_pump") == "on"

    stack.broker.kill()
    killed = time.monotonic()
    seen_on_after_deadline = []

    def all_unavailable() -> bool:
        states = hass.states()
        if time.monotonic() - killed > PUMP_MAX_RUNTIME and states["switch.pi_1_pump"]["state"] == "on":
            seen_on_after_deadline.append(time.monotonic() - killed)
        return all(states[e]["state"] == "unavailable" for e in every_entity)

    hass.wait_for(all_unavailable, 30, "every entity to become unavailable after the broker was killed")
    latency = time.monotonic() - killed
    print(f"{len(every_entity)} entities unavailable {latency:.2f} s after SIGKILL of the broker")
    # Past the pump's deadline, with the broker still down: never shown running.
    deadline_passed = time.monotonic() + max(0.0, PUMP_MAX_RUNTIME + 1 - latency)
    while time.monotonic() < deadline_passed:
        assert hass.state("switch.pi_1_pump") == "unavailable"
        time.sleep(0.2)
    assert not seen_on_after_deadline, seen_on_after_deadline

    stack.broker.start()
    restarted = time.monotonic()
    hass.wait_for(all_reporting, 90, "every entity to report again after the broker came back")
    print(f"all entities reporting again {time.monotonic() - restarted:.1f} s after the broker restarted")
    # The bridge stopped the pump at its deadline while the broker was gone; HA shows that.
    assert hass.state("switch.pi_1_pump") == "off"
