"""What Assist understands with no setup: the readings growers ask about, and entities by their own name.

Home Assistant exposes switches to Assist by default, but of the sensors only
temperature, humidity and air quality: "what is the pi-2 pH" would be answered with the
time. A node's main readings are therefore exposed when they are first registered, as
long as the user lets new entities be exposed (Settings > Voice assistants); later
changes are the user's.

Assist matches an entity by its whole name ("pi-2 Pump") or an alias, so "turn on the
pump in the greenhouse" finds nothing. An entity of a node that says where it stands
gets its own name ("Pump", "pH") as an alias when it is first registered: the area then
tells the pumps apart, as a user would set it up by hand.
"""

from __future__ import annotations

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


def initial_exposure(hass: HomeAssistant) -> er.EntityOptionsType:
    """Registry options that expose a new entity to Assist, if the user has new entities exposed."""
    if (exposed := hass.data.get(DATA_EXPOSED_ENTITIES)) is None:
        return {}  # the core integration that keeps these settings is not loaded (bare test harness)
    return {CONVERSATION: {_SHOULD_EXPOSE: exposed.async_get_expose_new_entities(CONVERSATION)}}


@callback
def async_alias_own_name(entity: Entity) -> None:
    """Give a newly registered entity whose device is in an area its own name as an alias."""
    entry = entity.registry_entry
    device = entity.device_entry
    name = entity.name
    if entry is None or entry.aliases or device is None or device.area_id is None or not isinstance(name, str):
        return
    er.async_get(entity.hass).async_update_entity(entry.entity_id, aliases={name})
