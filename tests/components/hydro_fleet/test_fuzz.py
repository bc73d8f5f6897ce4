"""Hostile payloads on every subscribed topic: nothing escapes, no entity shows a bogus value.

Hypothesis generates the payloads (deterministically, so the test cannot flake) and the
test feeds them all through HA's MQTT message path: the same subscription matching and
callbacks a real broker message takes.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import entity_registry as er
from hypothesis import HealthCheck, given, settings, strategies as st
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_mqtt_message

from custom_components.hydro_fleet.const import DOMAIN

from .conftest import node_config, node_state, online_node, publish

PAYLOADS_PER_KIND = 1700
# Hypothesis' per-example bookkeeping, not drawing, is what costs: batches of payloads
# per example generate the same variety ten times faster than one payload per example.
BATCH = 20
KINDS = ("config", "availability", "state", "backfill", "event", "ack")
# Readings the node announces, so that near-valid payloads hit real sensors.
KEYS = [
    "tds",
    "ec",
    "ph",
    "moisture",
    "water_level",
    "water_temperature",
    "pump",
    "plan",
    "uptime",
    "battery",
    "rssi",
    "cpu_temperature",
    "last_calibration",
    "firmware",
    "float",
]
MEGABYTE = 1024 * 1024

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from([10**400, -(10**400), 1e308, -1e308, 5e-324, "NaN", "", "online", "offline"]),
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=10), children, max_size=4),
    max_leaves=8,
)
readings = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=8)
times = st.one_of(st.floats(allow_nan=True), st.integers(min_value=-(10**20), max_value=10**20), json_values)


def _near_valid(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    """Payloads right in structure but wrong in detail: where parsers are most likely to slip."""
    version = st.one_of(st.just(1), st.sampled_from([0, 2, 1.0, "1", True, None, -1]))
    if kind == "config":
        return st.fixed_dictionaries(
            {
                "v": version,
                "node_id": st.sampled_from(["fuzz-1", "fuzz-2", "FUZZ", "", "pi-1"]) | st.text(max_size=70),
                "kind": st.sampled_from(["pi", "station", "esphome", "toaster", "", "receiver"]) | json_values,
            },
            optional={
                "name": json_values,
                "sample_interval": times,
                "sensors": st.lists(
                    st.fixed_dictionaries(
                        {
                            "key": st.sampled_from(KEYS) | json_values,
                            "type": st.sampled_from(["ph", "tds", "text", "timestamp", "water_low", "nope"])
                            | json_values,
                        },
                        optional={"min": times, "max": times, "options": json_values, "precision": times},
                    ),
                    max_size=6,
                ),
                "pumps": st.lists(
                    st.fixed_dictionaries({"key": st.sampled_from(KEYS), "max_runtime": times}), max_size=3
                ),
                "plans": st.lists(
                    st.fixed_dictionaries({"key": json_values, "pump": st.sampled_from(KEYS)}), max_size=3
                ),
            },
        )
    if kind in ("state", "backfill"):
        sample = st.fixed_dictionaries({"ts": times, "seq": times, "readings": readings | json_values})
        if kind == "backfill":
            return st.fixed_dictionaries({"v": version, "samples": st.lists(sample, max_size=6) | json_values})
        return st.fixed_dictionaries(
            {"v": version, "ts": times, "seq": times, "readings": readings},
            optional={
                "problems": readings | json_values,
                "health": readings | json_values,
                "pumps": st.dictionaries(st.sampled_from(KEYS), st.fixed_dictionaries({"on": json_values}), max_size=2),
                "plans": st.dictionaries(
                    st.sampled_from(KEYS),
                    st.fixed_dictionaries(
                        {"type": json_values}, optional={"volume_ml": times, "times": json_values, "threshold": times}
                    ),
                    max_size=2,
                ),
            },
        )
    if kind == "event":
        return st.fixed_dictionaries(
            {
                "v": version,
                "ts": times,
                "type": st.sampled_from(["watering_report", "safety_stop", "power_bank_returned", "calibration", "x"])
                | json_values,
                "data": readings | json_values,
            }
        )
    return st.fixed_dictionaries(
        {"v": version, "id": json_values, "ok": json_values},
        optional={"code": json_values, "message": json_values, "result": json_values},
    )


def _encode(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


# Few but expensive: they prove the size and depth limits, not the parsers' branches.
HUGE = [
    b"{" + b" " * MEGABYTE + b"}",
    b'{"v": 1, "ts": 1, "seq": 1, "readings": {"ph": "' + b"x" * MEGABYTE + b'"}}',
    b"[" * 200_000 + b"]" * 200_000,
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    b"\x00\xff" * (MEGABYTE // 2),
]


def payload_strategy(kind: str) -> st.SearchStrategy[bytes]:
    return st.one_of(
        _near_valid(kind).map(_encode),
        json_values.map(_encode),
        st.binary(max_size=64),
        st.text(max_size=64).map(str.encode),
    )


def generate(kind: str) -> list[bytes]:
    """Collect the payloads first; the test then sends them inside HA's event loop."""
    collected: list[bytes] = []

    @settings(
        max_examples=PAYLOADS_PER_KIND // BATCH,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(payload_strategy(kind), min_size=BATCH, max_size=BATCH))
    def collect(payloads: list[bytes]) -> None:
        collected.extend(payloads)

    collect()
    return collected


def _valid(hass: HomeAssistant, state: State, entry: er.RegistryEntry) -> bool:
    """Whether an entity's state is something a real reading or report could produce."""
    value = state.state
    if value in (STATE_UNKNOWN, STATE_UNAVAILABLE):
        return True
    domain = state.domain
    if domain in ("binary_sensor", "switch"):
        return value in ("on", "off")
    if domain == "select" or (domain == "sensor" and "options" in state.attributes):
        return value in state.attributes["options"]
    if domain in ("event", "button") or state.attributes.get("device_class") == "timestamp":
        return value[:2] in ("19", "20", "21", "22", "23", "24", "25", "26", "27", "28", "29")
    if domain == "sensor" and "state_class" not in state.attributes:
        return len(value) <= 256
    number = float(value)
    if not math.isfinite(number):
        return False
    low, high = state.attributes.get("min"), state.attributes.get("max")
    return (low is None or number >= low) and (high is None or number <= high)


@pytest.mark.timeout(120)
async def test_hostile_payloads_change_nothing_they_should_not(
    hass: HomeAssistant, setup_integration: MockConfigEntry, caplog: pytest.LogCaptureFixture
) -> None:
    await online_node(hass)
    publish(hass, "station-7", "config", node_config("station-7"))
    publish(hass, "station-7", "availability", "online")
    publish(hass, "station-7", "state", node_state())
    await hass.async_block_till_done()
    caplog.set_level(logging.WARNING)
    ent_reg = er.async_get(hass)
    sent = 0
    for kind in KINDS:
        # Config fuzzing goes to other node ids: an empty config rightly removes a node,
        # and the state fuzzing needs pi-1 to stay.
        node_ids = ("fuzz-1", "fuzz-2") if kind == "config" else ("pi-1", "station-7", "ghost")
        for index, payload in enumerate([*HUGE, *generate(kind)]):
            async_fire_mqtt_message(hass, f"hydro_fleet/{node_ids[index % len(node_ids)]}/{kind}", payload)
            sent += 1
            if index % 250 == 0:
                await hass.async_block_till_done()
                for entry in er.async_entries_for_config_entry(ent_reg, setup_integration.entry_id):
                    if (state := hass.states.get(entry.entity_id)) is not None:
                        assert _valid(hass, state, entry), (kind, entry.entity_id, state.state, payload[:200])
        await hass.async_block_till_done()
    assert sent >= 10_000
    escaped = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert escaped == [], escaped[0].getMessage()[:2000]
    # Logged once per node and topic kind until a good payload comes, not once per payload.
    warnings = [
        r for r in caplog.records if r.name.startswith(f"custom_components.{DOMAIN}") and r.levelno >= logging.WARNING
    ]
    assert 0 < len(warnings) < sent / 20, len(warnings)
    # pi-1 survived all of it and still reads its real values.
    publish(hass, "pi-1", "availability", "online")
    publish(hass, "pi-1", "state", node_state(seq=10**6, ph=6.2))
    await hass.async_block_till_done()
    assert hass.states.get("sensor.pi_1_ph").state == "6.2"
