"""A station's slots and power banks as rows: what a full sync or a return changes."""

from __future__ import annotations

from typing import Any

from ..schema import FullSync, ReturnedSync
from .database import Database


def apply_full(db: Database, serial: str, sync: FullSync, now: float) -> None:
    """A full sync is the station's snapshot: it replaces everything known of its slots.

    A slot it lists is as listed; a slot it leaves out but a listed power bank names is
    occupied by that bank; any other slot is unknown (no status, bank or battery; HA
    shows ``unknown``), never what an earlier sync said. Banks it does not list are no
    longer placed in this station.
    """
    db.execute("DELETE FROM slots WHERE station = ?", (serial,))
    db.execute("UPDATE power_banks SET station = NULL, slot_number = NULL WHERE station = ?", (serial,))
    placed = {b.slot_number: b for b in sync.power_banks if b.slot_number is not None}
    rows: dict[int, tuple[str, str | None, int | None]] = {}
    for slot in sync.slots:
        in_slot = placed.get(slot.slot_number)
        serial_in_slot = slot.power_bank_serial or (in_slot.serial_number if in_slot else None)
        rows[slot.slot_number] = (slot.status, serial_in_slot, slot.battery_level)
    for number, bank in placed.items():
        rows.setdefault(number, ("occupied", bank.serial_number, bank.battery_level))
    db.executemany(
        "INSERT INTO slots(station, slot_number, status, power_bank, battery) VALUES(?, ?, ?, ?, ?)",
        [(serial, number, *row) for number, row in rows.items()],
    )
    db.executemany(
        "INSERT INTO power_banks(serial, station, slot_number, battery, status, temperature, voltage,"
        " current, updated) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(serial) DO UPDATE SET"
        " station = excluded.station, slot_number = excluded.slot_number,"
        " battery = COALESCE(excluded.battery, power_banks.battery),"
        " status = COALESCE(excluded.status, power_banks.status),"
        " temperature = excluded.temperature, voltage = excluded.voltage, current = excluded.current,"
        " updated = excluded.updated",
        [
            (
                bank.serial_number,
                serial,
                bank.slot_number,
                bank.battery_level,
                bank.status,
                bank.hardware_info.temperature,
                bank.hardware_info.voltage,
                bank.hardware_info.current,
                now,
            )
            for bank in sync.power_banks
        ],
    )


def apply_returned(db: Database, serial: str, sync: ReturnedSync, request_id: str, now: float) -> bool:
    """Record a return once and move the bank into its slot; False if this exact return
    was already recorded (a retry)."""
    event = sync.return_event
    inserted = db.execute(
        "INSERT INTO return_events(station, power_bank, slot_number, battery, event_ts, request_id)"
        " VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (serial, event.power_bank_serial, event.slot_number, event.battery_level, sync.timestamp, request_id),
    )
    if inserted.rowcount == 0:
        return False
    # The bank left whatever slot it was last seen in.
    db.execute(
        "UPDATE slots SET power_bank = NULL, battery = NULL, status = 'available'"
        " WHERE power_bank = ? AND NOT (station = ? AND slot_number = ?)",
        (event.power_bank_serial, serial, event.slot_number),
    )
    db.execute(
        "INSERT INTO slots(station, slot_number, status, power_bank, battery) VALUES(?, ?, 'occupied', ?, ?)"
        " ON CONFLICT(station, slot_number) DO UPDATE SET status = 'occupied', power_bank = excluded.power_bank,"
        " battery = excluded.battery",
        (serial, event.slot_number, event.power_bank_serial, event.battery_level),
    )
    db.execute(
        "INSERT INTO power_banks(serial, station, slot_number, battery, status, updated)"
        " VALUES(?, ?, ?, ?, 'available', ?) ON CONFLICT(serial) DO UPDATE SET station = excluded.station,"
        " slot_number = excluded.slot_number, battery = excluded.battery, status = 'available',"
        " updated = excluded.updated",
        (event.power_bank_serial, serial, event.slot_number, event.battery_level, now),
    )
    return True


def slot_rows(db: Database, serial: str) -> list[dict[str, Any]]:
    """The station's slots with their bank's figures, as ``nodes.station_readings`` reads them."""
    rows = db.execute(
        "SELECT s.slot_number, s.status, s.power_bank, COALESCE(s.battery, b.battery) AS battery,"
        " b.temperature, b.voltage, b.current FROM slots s LEFT JOIN power_banks b ON b.serial = s.power_bank"
        " WHERE s.station = ?",
        (serial,),
    ).fetchall()
    return [dict(r) for r in rows]
