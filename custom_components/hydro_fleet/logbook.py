"""Logbook lines for node events ("pi-1 watered 250 ml: moisture 31 % -> 44 %")."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from homeassistant.components.logbook.const import LOGBOOK_ENTRY_MESSAGE, LOGBOOK_ENTRY_NAME
from homeassistant.const import ATTR_DEVICE_ID
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr

from .const import ATTR_DATA, ATTR_EVENT_TYPE, ATTR_NODE_ID, DOMAIN, EVENT_NODE
from .protocol import EventType


def _num(data: Mapping[str, Any], key: str, unit: str = "") -> str | None:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return f"{value:g}{unit}"


def describe_node_event(event_type: str, data: Mapping[str, Any]) -> str:
    """One readable sentence per event; fields a node left out are left out here too."""
    if event_type == EventType.WATERING_REPORT:
        parts = [f"watered {_num(data, 'volume_ml', ' ml') or ''}".rstrip()]
        before, after = _num(data, "moisture_before", " %"), _num(data, "moisture_after", " %")
        if before and after:
            parts.append(f"moisture {before} -> {after}")
        level_before, level_after = _num(data, "water_level_before", " %"), _num(data, "water_level_after", " %")
        if level_before and level_after:
            parts.append(f"water level {level_before} -> {level_after}")
        if isinstance(reason := data.get("reason"), str):
            parts.append(f"reason: {reason}")
        # The media ids are in the event's data (photo_before_media_id...): the Media panel shows them.
        photos = [when for when in ("before", "after") if isinstance(data.get(f"photo_{when}"), str)]
        if photos:
            parts.append(f"photos {' and '.join(photos)}: {' / '.join(str(data[f'photo_{w}']) for w in photos)}")
        return ", ".join(parts)
    if event_type == EventType.SAFETY_STOP:
        pump = data.get("pump")
        reason = data.get("reason")
        return f"stopped {'pump ' + pump if isinstance(pump, str) else 'a pump'} for safety" + (
            f": {reason}" if isinstance(reason, str) else ""
        )
    if event_type == EventType.CALIBRATION:
        return f"calibrated the {data.get('probe', 'probe')} probe"
    if event_type == EventType.POWER_BANK_RETURNED:
        serial, slot = data.get("power_bank_serial"), _num(data, "slot_number")
        battery = _num(data, "battery_level", " %")
        text = f"power bank {serial if isinstance(serial, str) else ''} returned".replace("  ", " ")
        if slot:
            text += f" to slot {slot}"
        return text + (f" with {battery} battery" if battery else "")
    return event_type.replace("_", " ")


@callback
def async_describe_events(
    hass: HomeAssistant,
    async_describe_event: Callable[[str, str, Callable[[Event], dict[str, str]]], None],
) -> None:
    """Describe Hydro Fleet node events in the logbook."""

    @callback
    def describe(event: Event) -> dict[str, str]:
        data = event.data
        device = dr.async_get(hass).async_get(data[ATTR_DEVICE_ID]) if data.get(ATTR_DEVICE_ID) else None
        name = (device.name_by_user or device.name) if device else None
        return {
            LOGBOOK_ENTRY_NAME: name or str(data.get(ATTR_NODE_ID)),
            LOGBOOK_ENTRY_MESSAGE: describe_node_event(str(data.get(ATTR_EVENT_TYPE)), data.get(ATTR_DATA) or {}),
        }

    async_describe_event(DOMAIN, EVENT_NODE, describe)
