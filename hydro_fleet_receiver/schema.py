"""The gateway's two payloads, validated with pydantic; every error names its field.

Field names and values follow seeds 001/003. Status values are accepted in any case
(the gateway sends ``ONLINE``) and stored lowercase. Types are strict: a number is a JSON
number, never a string or a boolean. Unknown fields are ignored so a
gateway that sends more than the seed documents keeps working.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
)

MAX_SLOTS = 128


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


# Serial numbers become node ids, MQTT payloads and SQL keys: keep them printable.
Serial = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
DeviceStatus = Annotated[Literal["online", "offline", "maintenance"], BeforeValidator(_lower)]
SlotStatus = Annotated[Literal["available", "occupied", "error"], BeforeValidator(_lower)]
BankStatus = Annotated[Literal["available", "rented", "maintenance", "charging", "error"], BeforeValidator(_lower)]
Percent = Annotated[int, Field(ge=0, le=100)]
SlotNumber = Annotated[int, Field(ge=1, le=MAX_SLOTS)]
# Unix seconds between 2001 and 2286: catches milliseconds sent by mistake.
UnixSeconds = Annotated[int, Field(ge=1_000_000_000, le=9_999_999_999)]
Measure = Annotated[float, Field(ge=-1000, le=1000, allow_inf_nan=False)]


class _Model(BaseModel):
    # strict: no coercion. ``true`` is not a battery level of 1 %, nor ``"80"`` one of 80 %;
    # a gateway sending either is broken, and storing it would hide that (as on the
    # LoRaWAN endpoint). In strict JSON mode a float field still takes an integer and a
    # datetime an ISO 8601 string.
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


class Device(_Model):
    serial_number: Serial
    status: DeviceStatus
    last_heartbeat: datetime | None = None

    def heartbeat_unix(self) -> float | None:
        if self.last_heartbeat is None:
            return None
        heartbeat = self.last_heartbeat
        if heartbeat.tzinfo is None:  # the seed's example is UTC ("...Z"); assume UTC otherwise
            heartbeat = heartbeat.replace(tzinfo=UTC)
        return heartbeat.timestamp()


class DeviceRef(_Model):
    serial_number: Serial


class StationInfo(_Model):
    total_slots: Annotated[int, Field(ge=0, le=MAX_SLOTS)]


class Slot(_Model):
    slot_number: SlotNumber
    status: SlotStatus
    battery_level: Percent | None = None
    power_bank_serial: Serial | None = None


class HardwareInfo(_Model):
    temperature: Measure | None = None
    voltage: Measure | None = None
    current: Measure | None = None


class PowerBank(_Model):
    serial_number: Serial
    slot_number: SlotNumber | None = None
    battery_level: Percent | None = None
    status: BankStatus | None = None
    hardware_info: HardwareInfo = HardwareInfo()


class FullSync(_Model):
    type: Literal["full"]
    timestamp: UnixSeconds
    device: Device
    station: StationInfo
    slots: Annotated[list[Slot], Field(max_length=MAX_SLOTS)] = []
    power_banks: Annotated[list[PowerBank], Field(max_length=MAX_SLOTS)] = []


class ReturnEvent(_Model):
    power_bank_serial: Serial
    slot_number: SlotNumber
    battery_level: Percent


class ReturnedSync(_Model):
    type: Literal["returned"]
    timestamp: UnixSeconds
    device: DeviceRef
    return_event: ReturnEvent


Payload = FullSync | ReturnedSync
_ADAPTER: TypeAdapter[Payload] = TypeAdapter(Annotated[Payload, Field(discriminator="type")])


class PayloadError(ValueError):
    """A payload that is not JSON or not valid; ``errors`` name each field."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


def _field(loc: tuple[int | str, ...]) -> str:
    # Drop the discriminator tag pydantic puts first ("full"/"returned"): not a field.
    parts = list(loc[1:]) if loc and loc[0] in ("full", "returned") else list(loc)
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def _consistency_errors(sync: FullSync) -> list[dict[str, str]]:
    """Cross-field rules pydantic's per-field validation cannot express."""
    errors = []
    total = sync.station.total_slots
    seen: set[int] = set()
    for index, slot in enumerate(sync.slots):
        where = f"slots[{index}].slot_number"
        if slot.slot_number > total:
            errors.append({"field": where, "message": f"slot {slot.slot_number} is above station.total_slots {total}"})
        elif slot.slot_number in seen:
            errors.append({"field": where, "message": f"slot {slot.slot_number} appears twice"})
        seen.add(slot.slot_number)
    banks: set[str] = set()
    for index, bank in enumerate(sync.power_banks):
        if bank.slot_number is not None and bank.slot_number > total:
            errors.append(
                {
                    "field": f"power_banks[{index}].slot_number",
                    "message": f"slot {bank.slot_number} is above station.total_slots {total}",
                }
            )
        if bank.serial_number in banks:
            errors.append({"field": f"power_banks[{index}].serial_number", "message": "serial number appears twice"})
        banks.add(bank.serial_number)
    return errors


def parse_payload(body: bytes) -> Payload:
    """Parse and validate a request body, or raise ``PayloadError``."""
    try:
        payload = _ADAPTER.validate_json(body)
    except ValidationError as err:
        errors = []
        for e in err.errors(include_url=False, include_input=False)[:20]:
            message = e["msg"]
            if e["type"] == "json_invalid":
                message = "body is not valid JSON"
            elif e["type"] == "union_tag_invalid" or e["type"] == "union_tag_not_found":
                message = "field 'type' must be 'full' or 'returned'"
            field = _field(tuple(e["loc"]))
            if e["type"] in ("union_tag_invalid", "union_tag_not_found"):
                field = "type"
            errors.append({"field": field, "message": message})
        raise PayloadError(errors) from None
    if isinstance(payload, FullSync) and (errors := _consistency_errors(payload)):
        raise PayloadError(errors)
    return payload
