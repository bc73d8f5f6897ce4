"""Hydro Fleet wire protocol v1.

Plain Python with no Home Assistant import, in the way ``hatasmota`` holds Tasmota's
protocol: the integration, the Pi bridge and the add-on receiver all use this one
definition. It lives inside the integration folder because the HACS download is only
``custom_components/hydro_fleet/``; the Pi wheel carries the same files as the
top-level package ``hydro_fleet_protocol`` (see ``pyproject.toml``).

Everything here is documented in ``docs/protocol.md``.
"""

from .commands import Ack, Command, refusal_for
from .const import (
    MAX_PAYLOAD_BYTES,
    PROTOCOL_VERSION,
    AckCode,
    CommandAction,
    EventType,
    HealthKey,
    NodeKind,
    NodeSetting,
    PlanType,
    PumpRun,
    Reading,
    SensorType,
    SlotStatus,
    StationStatus,
    WateringOutcome,
)
from .discovery import NodeConfig, PlanConfig, PumpConfig, SensorConfig
from .photo import (
    MAX_PHOTO_BYTES,
    PHOTO_BURST,
    PHOTO_SPACING,
    CameraConfig,
    Photo,
    PhotoMeta,
    PhotoReason,
    photo_id,
)
from .plan import Plan
from .state import Backfill, Event, PumpState, Sample, State
from .topics import (
    AVAILABILITY_OFFLINE,
    AVAILABILITY_ONLINE,
    DEFAULT_PREFIX,
    Publication,
    Topic,
    TopicKind,
    broker_address,
    came_online,
    connect_sequence,
    is_valid_node_id,
    last_will,
    parse_topic,
    wildcard,
)
from .validation import ProtocolError, UnsupportedVersionError, encode

__all__ = [
    "AVAILABILITY_OFFLINE",
    "AVAILABILITY_ONLINE",
    "DEFAULT_PREFIX",
    "MAX_PAYLOAD_BYTES",
    "MAX_PHOTO_BYTES",
    "PHOTO_BURST",
    "PHOTO_SPACING",
    "PROTOCOL_VERSION",
    "Ack",
    "AckCode",
    "Backfill",
    "CameraConfig",
    "Command",
    "CommandAction",
    "Event",
    "EventType",
    "HealthKey",
    "NodeConfig",
    "NodeKind",
    "NodeSetting",
    "Photo",
    "PhotoMeta",
    "PhotoReason",
    "Plan",
    "PlanConfig",
    "PlanType",
    "ProtocolError",
    "Publication",
    "PumpConfig",
    "PumpRun",
    "PumpState",
    "Reading",
    "Sample",
    "SensorConfig",
    "SensorType",
    "SlotStatus",
    "State",
    "StationStatus",
    "Topic",
    "TopicKind",
    "UnsupportedVersionError",
    "WateringOutcome",
    "broker_address",
    "came_online",
    "connect_sequence",
    "encode",
    "is_valid_node_id",
    "last_will",
    "parse_topic",
    "photo_id",
    "refusal_for",
    "wildcard",
]
