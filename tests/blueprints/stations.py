"""A charging station and the receiver as the add-on receiver announces them (protocol v1).

Configs and readings come from the receiver's own code (``hydro_fleet_receiver.nodes``), so
the tests see the nodes exactly as the add-on publishes them.
"""

from __future__ import annotations

from homeassistant.core import HomeAssistant

from hydro_fleet_protocol import NodeConfig, State
from hydro_fleet_receiver import nodes
from tests.components.hydro_fleet.conftest import publish

STATION = "station-ps-001"
SLOTS = 2


def station_config(node_id: str = STATION, slots: int = SLOTS) -> NodeConfig:
    return nodes.station_config(node_id, "PS-001", slots)


def station_state(seq: int, **slots: tuple[str, str | None, float | None]) -> State:
    """``slot_1=("occupied", "PB-7", 80)`` sets a slot's status, power bank and battery."""
    rows = [
        {"slot_number": int(slot.removeprefix("slot_")), "status": status, "power_bank": bank, "battery": battery}
        for slot, (status, bank, battery) in slots.items()
    ]
    readings = nodes.station_readings("online", None, SLOTS, rows)
    return State(ts=1_700_000_000.0 + seq, seq=seq, readings=readings)


def online_station(hass: HomeAssistant) -> None:
    """Publish station PS-001 online, slot 1 empty and slot 2 holding PB-2 at 40 %."""
    publish(hass, STATION, "config", station_config())
    publish(hass, STATION, "availability", "online")
    publish(hass, STATION, "state", station_state(1, slot_1=("available", None, None), slot_2=("occupied", "PB-2", 40)))


def receiver_config(node_id: str = "receiver") -> NodeConfig:
    return nodes.receiver_config(node_id)


def receiver_state(seq: int, success_rate: float) -> State:
    return State(
        ts=1_700_000_000.0 + seq,
        seq=seq,
        readings={"success_rate": success_rate, "accepted": 100 * seq, "rejected": seq, "outbox_backlog": 0},
    )


def online_receiver(hass: HomeAssistant, success_rate: float) -> None:
    """Publish the receiver online with its sync success rate."""
    publish(hass, "receiver", "config", receiver_config())
    publish(hass, "receiver", "availability", "online")
    publish(hass, "receiver", "state", receiver_state(1, success_rate))
