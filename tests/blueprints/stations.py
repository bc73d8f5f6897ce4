"""A charging station and the receiver as the add-on receiver announces them (protocol v1)."""

from __future__ import annotations

from typing import Any

from hydro_fleet_protocol import NodeConfig, NodeKind, SensorConfig, SensorType, State

SLOT_STATUS = ("available", "occupied", "error")


def station_config(node_id: str = "station-ps-001", slots: int = 2) -> NodeConfig:
    sensors = [SensorConfig("status", SensorType.TEXT, name="Status", options=("online", "offline", "maintenance"))]
    for n in range(1, slots + 1):
        sensors += [
            SensorConfig(f"slot_{n}_status", SensorType.TEXT, name=f"Slot {n} status", options=SLOT_STATUS),
            SensorConfig(f"slot_{n}_power_bank", SensorType.TEXT, name=f"Slot {n} power bank"),
            SensorConfig(
                f"slot_{n}_battery",
                SensorType.BATTERY,
                name=f"Slot {n} battery",
                unit="%",
                minimum=0,
                maximum=100,
                precision=0,
            ),
        ]
    return NodeConfig(
        node_id=node_id,
        kind=NodeKind.STATION,
        name="Station PS-001",
        model="Power bank station",
        sensors=tuple(sensors),
    )


def station_state(seq: int, **slots: tuple[str, str | None, float | None]) -> State:
    """``slot_1=("occupied", "PB-7", 80)`` sets a slot's status, power bank and battery."""
    readings: dict[str, Any] = {"status": "online"}
    for slot, (status, bank, battery) in slots.items():
        readings |= {f"{slot}_status": status, f"{slot}_power_bank": bank, f"{slot}_battery": battery}
    return State(ts=1_700_000_000.0 + seq, seq=seq, readings=readings)


def receiver_config(node_id: str = "receiver") -> NodeConfig:
    return NodeConfig(
        node_id=node_id,
        kind=NodeKind.RECEIVER,
        name="Hydro Fleet receiver",
        sensors=(
            SensorConfig(
                "success_rate",
                SensorType.COUNT,
                name="Sync success rate (last hour)",
                unit="%",
                minimum=0,
                maximum=100,
                precision=1,
            ),
            SensorConfig("accepted", SensorType.COUNT, name="Requests accepted"),
            SensorConfig("rejected", SensorType.COUNT, name="Requests rejected"),
            SensorConfig("outbox_backlog", SensorType.COUNT, name="Outbox backlog"),
        ),
    )


def receiver_state(seq: int, success_rate: float) -> State:
    return State(
        ts=1_700_000_000.0 + seq,
        seq=seq,
        readings={"success_rate": success_rate, "accepted": 100 * seq, "rejected": seq, "outbox_backlog": 0},
    )
