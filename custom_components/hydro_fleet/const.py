"""Constants of the Hydro Fleet integration."""

from typing import Final

DOMAIN: Final = "hydro_fleet"
CONF_PREFIX: Final = "prefix"
# How long a command waits for the node's ack before it counts as failed. A node acks
# within milliseconds on a healthy LAN; 10 s covers a Pi busy writing to its SD card.
COMMAND_TIMEOUT: Final = 10.0

# Options (entry.options); every one has a default, so an entry without options works.
CONF_OFFLINE_MINUTES: Final = "offline_minutes"
CONF_CALIBRATION_DAYS: Final = "calibration_days"
CONF_WATER_LOW_PERCENT: Final = "water_low_percent"
CONF_RANGES: Final = "ranges"  # {node_id: {sensor type: [critical_min, normal_min, normal_max, critical_max]}}
DEFAULT_OFFLINE_MINUTES: Final = 30
DEFAULT_CALIBRATION_DAYS: Final = 30
# Photo retention, per camera: the newest this many, none older than this many days.
CONF_PHOTO_KEEP_COUNT: Final = "photo_keep_count"
CONF_PHOTO_KEEP_DAYS: Final = "photo_keep_days"
DEFAULT_PHOTO_KEEP_COUNT: Final = 2000
DEFAULT_PHOTO_KEEP_DAYS: Final = 90

# Bus event fired for every node event the integration shows; the logbook describes it
# and device triggers listen to it.
EVENT_NODE: Final = f"{DOMAIN}_event"
ATTR_NODE_ID: Final = "node_id"
ATTR_EVENT_TYPE: Final = "type"
ATTR_DATA: Final = "data"

# Two configs of one node id from different machines within this many seconds means two
# devices share a name.
DUPLICATE_WINDOW: Final = 600.0


def signal_photo(entry_id: str, node_id: str, camera: str) -> str:
    """Dispatcher signal sent when a camera's newest photo changed."""
    return f"{DOMAIN}_{entry_id}_photo_{node_id}_{camera}"


def signal_node_discovered(entry_id: str) -> str:
    """Dispatcher signal sent with a Node when it is discovered or its config changes."""
    return f"{DOMAIN}_{entry_id}_node_discovered"


def unique_id(node_id: str, key: str, aspect: str | None = None) -> str:
    """An entity's unique id: ``<node>_<key>`` for what the node announces.

    ``<node>_<key>_<aspect>`` for what the integration derives (a probe's status, a plan's fields).
    """
    return f"{node_id}_{key}" if aspect is None else f"{node_id}_{key}_{aspect}"


def is_unique_id_of(entity_unique_id: str, node_id: str, key: str) -> bool:
    """Whether an entity's unique id is one of those of ``key`` of the node (any aspect)."""
    own = unique_id(node_id, key)
    return entity_unique_id == own or entity_unique_id.startswith(f"{own}_")
