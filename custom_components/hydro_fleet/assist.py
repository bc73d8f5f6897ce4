"""What Assist understands with no setup: the readings growers ask about, and entities by their own name.

Home Assistant exposes switches to Assist by default, but of the sensors only
temperature, humidity and air quality: "what is the pi-2 pH" would be answered with the
time. A node's main readings are therefore exposed when they are first registered, as
long as the user lets new entities be exposed (Settings > Voice assistants); later
changes are the user's.

Assist matches an entity by its whole name ("pi-2 Pump") or an alias, literally: "turn
on pi 2 pump" and "turn on the pump in the greenhouse" find nothing. When an entity is
first registered it therefore gets, as aliases, its name as it is spoken ("pi 2 Pump":
nobody says a hyphen) and, if its node says where it stands, its own name ("Pump", "pH"):
the area then tells the pumps apart, as a user would set it up by hand.
"""

from __future__ import annotations

import re

from homeassistant.components.conversation import DOMAIN as CONVERSATION
from homeassistant.components.homeassistant.const import DATA_EXPOSED_ENTITIES
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity import Entity

from .protocol import SensorType

# Readings a grower asks about ("what is the pH in the greenhouse").
ASKED_ABOUT = frozenset(
    {
        SensorType.PH,
        SensorType.TDS,
        SensorType.EC,
        SensorType.MOISTURE,
        SensorType.WATER_LEVEL,
        SensorType.WATER_TEMPERATURE,
    }
)
_SHOULD_EXPOSE = "should_expose"
# What people do not pronounce in a node's name ("pi-2", "bed_3").
_UNSPOKEN = re.compile(r"[-_]+")


def initial_exposure(hass: HomeAssistant) -> er.EntityOptionsType:
    """Registry options that expose a new entity to Assist, if the user has new entities exposed."""
    if (exposed := hass.data.get(DATA_EXPOSED_ENTITIES)) is None:
        return {}  # the core integration that keeps these settings is not loaded (bare test harness)
    return {CONVERSATION: {_SHOULD_EXPOSE: exposed.async_get_expose_new_entities(CONVERSATION)}}


def spoken(name: str) -> str:
    """A name as a person says it: "pi-2" -> "pi 2"."""
    return " ".join(_UNSPOKEN.sub(" ", name).split())


@callback
def async_add_aliases(entity: Entity) -> None:
    """Give a newly registered entity the names a person says for it, unless it has aliases already."""
    entry = entity.registry_entry
    device = entity.device_entry
    name = entity.name
    if entry is None or entry.aliases or device is None or not isinstance(name, str):
        return
    aliases = set()
    if device.area_id is not None:
        aliases.add(name)
    if device.name and (node_name := spoken(device.name)) != device.name:
        aliases.add(f"{node_name} {name}")
    if aliases:
        er.async_get(entity.hass).async_update_entity(entry.entity_id, aliases=aliases)
