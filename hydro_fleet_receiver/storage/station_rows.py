"""A station's slots and power banks as rows: what a full sync or a return changes."""

from __future__ import annotations

from typing import Any

from ..schema import FullSync, ReturnedSync
from .database import Database


def apply_full(db: Database, serial: str, total_before: int, sync: FullSync, now: float) -> None:
    """Replace the station's slots with the reported ones and upsert the banks it names."""
    total = sync.station.total_slots
    if total_before > total:
        db.execute("DELETE FROM slots WHERE station = ? AND slot_number > ?", (serial, total))
    bank_in_slot = {b.slot_number: b.serial_number for b in sync.power_banks if b.slot_number is not None}
    db.executemany(
        "INSERT INTO slots(station, slot_number, status, power_bank, battery) VALUES(?, ?, ?, ?, ?)"
        " ON CONFLICT(station, slot_number) DO UPDATE SET status = excluded.status,"
        " power_bank = excluded.power_bank, battery = excluded.battery",
        [
            (
                serial,
                slot.slot_number,
                slot.status,
                slot.power_bank_serial or bank_in_slot.get(slot.slot_number),
                slot.battery_level,
            )
            for slot in sync.slots
        ],
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
