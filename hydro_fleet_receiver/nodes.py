"""How stations and the receiver look as protocol v1 nodes (discovery config and state),
and the MQTT messages a stored change of a node becomes (written to the outbox).

Storage hands this module rows; what goes on the wire, and in which order, is decided here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
import functools
import hashlib
import re
from typing import Any

from hydro_fleet_protocol import (
    Event,
    EventType,
    NodeConfig,
    NodeKind,
    Reading,
    SensorConfig,
    SensorType,
    SlotStatus,
    State,
    StationStatus,
    Topic,
    came_online as protocol_came_online,
    encode,
    is_valid_node_id,
    last_will,
)

from . import __version__
from .schema import ReturnEvent

STATION_STATUS_OPTIONS = tuple(StationStatus)
SLOT_STATUS_OPTIONS = tuple(SlotStatus)
# The stations the Java gateway reports are ChargeGhar power bank stations (seed 001).
STATION_MANUFACTURER = "ChargeGhar"
# Reasons a request can be turned away; each has a counter sensor on the receiver node.
REJECT_REASONS = (
    "forbidden_ip",
    "too_large",
    "content_type",
    "unauthorized",
    "timestamp",
    "signature",
    "replay",
    "rate_limited",
    "invalid",
    "idempotency_conflict",
    "error",
)


def station_node_id(serial: str, taken: bool = False) -> str:
    """Node id for a station serial: ``station-<slug>``, with a hash suffix if the slug is taken.

    Slugging loses information (``PS 001`` and ``ps-001`` meet), so a serial whose slug is
    already owned by another station gets a short digest of its exact serial appended.
    """
    slug = re.sub(r"[^a-z0-9_-]+", "-", serial.lower()).strip("-_") or "x"
    node_id = f"station-{slug}"[:63]
    if taken:
        digest = hashlib.sha256(serial.encode()).hexdigest()[:8]
        node_id = f"station-{slug[:45]}-{digest}"
    assert is_valid_node_id(node_id)
    return node_id


# The power bank's hardware figures in a slot: (reading, sensor type, unit, precision).
_BANK_HARDWARE = (
    ("temperature", SensorType.TEMPERATURE, "°C", 1),
    ("voltage", SensorType.VOLTAGE, "V", 2),
    ("current", SensorType.CURRENT, "A", 2),
)


def station_config(node_id: str, serial: str, total_slots: int) -> NodeConfig:
    """Discovery config of a station with ``total_slots`` slots."""
    sensors = [
        SensorConfig("status", SensorType.TEXT, name="Status", options=STATION_STATUS_OPTIONS),
        # Changes with every heartbeat: for troubleshooting, not for the logbook (diagnostic).
        SensorConfig("last_heartbeat", SensorType.TIMESTAMP, name="Last heartbeat", diagnostic=True),
        SensorConfig("total_slots", SensorType.COUNT, name="Total slots", diagnostic=True, icon="mdi:grid"),
    ]
    for n in range(1, total_slots + 1):
        sensors += [
            SensorConfig(f"slot_{n}_status", SensorType.TEXT, name=f"Slot {n} status", options=SLOT_STATUS_OPTIONS),
            SensorConfig(
                f"slot_{n}_power_bank", SensorType.TEXT, name=f"Slot {n} power bank", icon="mdi:battery-charging-medium"
            ),
            # The charge of the bank in the slot, not the station's battery: as a `battery`
            # HA would show it in the station's page header as the station's own.
            SensorConfig(
                f"slot_{n}_battery",
                SensorType.COUNT,
                name=f"Slot {n} battery",
                unit="%",
                icon="mdi:battery-charging-medium",
                minimum=0,
                maximum=100,
                precision=0,
            ),
        ]
        sensors += [
            SensorConfig(
                f"slot_{n}_{key}", kind, name=f"Slot {n} {key}", unit=unit, precision=precision, diagnostic=True
            )
            for key, kind, unit, precision in _BANK_HARDWARE
        ]
    return NodeConfig(
        node_id=node_id,
        kind=NodeKind.STATION,
        name=f"Station {serial}",
        model="Power bank station",
        manufacturer=STATION_MANUFACTURER,
        # The station's own serial tells its machine apart (and shows as the device's serial number).
        machine_id=serial,
        sw_version=None,
        sensors=tuple(sensors),
        extra={"serial_number": serial, "events": [EventType.POWER_BANK_RETURNED]},
    )


@functools.cache
def _slot_keys(n: int) -> tuple[str, str, str, str, str, str]:
    """Reading names of slot ``n`` (built once: a state carries six per slot)."""
    return (
        f"slot_{n}_status",
        f"slot_{n}_power_bank",
        f"slot_{n}_battery",
        f"slot_{n}_temperature",
        f"slot_{n}_voltage",
        f"slot_{n}_current",
    )


_NO_SLOT: Mapping[str, Any] = {}


def station_readings(
    status: str | None, last_heartbeat: float | None, total_slots: int, slots: Iterable[Mapping[str, Any]]
) -> dict[str, Reading]:
    """State readings of a station; ``slots`` rows carry slot_number, status, power_bank,
    battery, temperature, voltage and current (None where unknown)."""
    readings: dict[str, Reading] = {"status": status, "last_heartbeat": last_heartbeat, "total_slots": total_slots}
    by_number = {row["slot_number"]: row for row in slots}
    for n in range(1, total_slots + 1):
        row = by_number.get(n, _NO_SLOT)
        k_status, k_bank, k_battery, k_temperature, k_voltage, k_current = _slot_keys(n)
        bank = row.get("power_bank")
        readings[k_status] = row.get("status")
        readings[k_bank] = bank
        readings[k_battery] = row.get("battery")
        # Hardware figures belong to the bank in the slot: none when the slot is empty.
        has_bank = bank is not None
        readings[k_temperature] = row.get("temperature") if has_bank else None
        readings[k_voltage] = row.get("voltage") if has_bank else None
        readings[k_current] = row.get("current") if has_bank else None
    return readings


def receiver_config(node_id: str) -> NodeConfig:
    """Discovery config of the receiver itself, with its sync metrics as sensors."""
    sensors = [
        SensorConfig("accepted", SensorType.COUNT, name="Requests accepted", icon="mdi:check-circle-outline"),
        SensorConfig("rejected", SensorType.COUNT, name="Requests rejected", icon="mdi:close-circle-outline"),
        *(
            SensorConfig(
                f"rejected_{reason}",
                SensorType.COUNT,
                name=f"Rejected: {reason.replace('_', ' ')}",
                diagnostic=True,
                icon="mdi:close-circle-outline",
            )
            for reason in REJECT_REASONS
        ),
        # Not counted in the success rate: what anyone who reaches the port can send.
        SensorConfig(
            "rejected_unauthenticated",
            SensorType.COUNT,
            name="Rejected: no valid token",
            diagnostic=True,
            icon="mdi:shield-lock-outline",
        ),
        SensorConfig(
            "success_rate",
            SensorType.COUNT,
            name="Sync success rate (last hour)",
            unit="%",
            minimum=0,
            maximum=100,
            precision=1,
            icon="mdi:percent-circle-outline",
        ),
        *(
            SensorConfig(
                f"latency_{p}",
                SensorType.COUNT,
                name=f"Processing latency {p}",
                unit="ms",
                precision=1,
                diagnostic=True,
                icon="mdi:timer-outline",
            )
            for p in ("p50", "p99")
        ),
        # Changes with every sync: for troubleshooting, not for the logbook (diagnostic).
        SensorConfig("last_sync", SensorType.TIMESTAMP, name="Last sync", diagnostic=True, icon="mdi:sync"),
        SensorConfig("outbox_backlog", SensorType.COUNT, name="Outbox backlog", icon="mdi:tray-full"),
        SensorConfig("stations", SensorType.COUNT, name="Stations", diagnostic=True, icon="mdi:ev-station"),
    ]
    return NodeConfig(
        node_id=node_id,
        kind=NodeKind.RECEIVER,
        name="Hydro Fleet receiver",
        model="Signed-sync receiver",
        manufacturer="Hydro Fleet",
        sw_version=__version__,
        sensors=tuple(sensors),
    )


@dataclass(frozen=True, slots=True)
class Message:
    """One MQTT message for the outbox, already encoded."""

    topic: str
    payload: bytes
    retain: bool


def node_update(topics: Topic, config: bytes | None, came_online: bool, state: State) -> list[Message]:
    """What a stored change of a node sends: its config when it changed, ``online`` when it
    was offline, then the state, in this order (the outbox keeps it on the wire).

    States are retained, unlike a Pi's: a station reports every ~20 minutes, a LoRaWAN
    device every few minutes at best, and Home Assistant (re)starting in between must
    still get the last snapshot at once.
    """
    messages = [] if config is None else [Message(topics.config, config, True)]
    if came_online:
        online = protocol_came_online(topics)
        messages.append(Message(online.topic, online.payload, online.retain))
    messages.append(Message(topics.state, encode(state), True))
    return messages


def node_offline(topics: Topic) -> Message:
    offline = last_will(topics)
    return Message(offline.topic, offline.payload, offline.retain)


@dataclass(frozen=True, slots=True)
class StationRow:
    """A station as stored before a sync changed it."""

    serial: str
    node_id: str
    config_slots: int
    online: bool
    seq: int


def station_update(
    prefix: str,
    before: StationRow,
    status: str | None,
    heartbeat: float | None,
    total: int,
    slots: Iterable[Mapping[str, Any]],
    now: float,
) -> list[Message]:
    """The messages of a station after a sync: see ``node_update``; ``slots`` as in ``station_readings``."""
    config = None
    if before.config_slots != total:
        config = encode(station_config(before.node_id, before.serial, total))
    state = State(ts=now, seq=before.seq + 1, readings=station_readings(status, heartbeat, total, slots))
    return node_update(Topic(prefix, before.node_id), config, not before.online, state)


def returned_message(
    prefix: str, node_id: str, serial: str, sync_event: ReturnEvent, request_id: str, now: float
) -> Message:
    """The ``power_bank_returned`` event of a station (not retained: an event happens once)."""
    message = Event(
        ts=now,
        type=EventType.POWER_BANK_RETURNED,
        data={
            "station_serial": serial,
            "power_bank_serial": sync_event.power_bank_serial,
            "slot_number": sync_event.slot_number,
            "battery_level": sync_event.battery_level,
            "request_id": request_id,
        },
    )
    return Message(Topic(prefix, node_id).event, encode(message), False)
