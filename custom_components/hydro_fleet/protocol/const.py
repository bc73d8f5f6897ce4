"""Constants and vocabularies of protocol v1: every enum a message field can carry."""

from __future__ import annotations

from enum import StrEnum

PROTOCOL_VERSION = 1
# A discovery config of a station with 48 slots is about 8 KiB; nothing legitimate
# comes near this, and it bounds what a hostile publisher can make us parse.
MAX_PAYLOAD_BYTES = 256 * 1024
MAX_BACKFILL_SAMPLES = 1000

Reading = float | int | str | bool | None


class NodeKind(StrEnum):
    """What a node is."""

    PI = "pi"
    STATION = "station"
    ESPHOME = "esphome"
    RECEIVER = "receiver"
    LORAWAN = "lorawan"


class SensorType(StrEnum):
    """What a sensor measures; fixes the unit and the JSON kind of its reading."""

    TDS = "tds"  # ppm
    EC = "ec"  # uS/cm
    PH = "ph"  # pH
    MOISTURE = "moisture"  # %
    WATER_LEVEL = "water_level"  # %
    WATER_LOW = "water_low"  # bool, from a float switch
    WATER_TEMPERATURE = "water_temperature"  # degC
    TEMPERATURE = "temperature"  # degC
    HUMIDITY = "humidity"  # %
    BATTERY = "battery"  # %
    VOLTAGE = "voltage"  # V
    CURRENT = "current"  # A
    SIGNAL = "signal"  # dBm
    TEXT = "text"  # free text / enum value
    COUNT = "count"  # plain number
    TIMESTAMP = "timestamp"  # unix seconds


class StationStatus(StrEnum):
    """The values of a charging station's ``status`` reading."""

    ONLINE = "online"
    OFFLINE = "offline"
    MAINTENANCE = "maintenance"


class SlotStatus(StrEnum):
    """The values of a station slot's ``slot_<n>_status`` reading."""

    AVAILABLE = "available"
    OCCUPIED = "occupied"
    ERROR = "error"


class CommandAction(StrEnum):
    """What a command asks a node to do."""

    PUMP_ON = "pump_on"
    PUMP_OFF = "pump_off"
    SET_PLAN = "set_plan"
    CALIBRATE = "calibrate"
    IDENTIFY = "identify"
    SET_CONFIG = "set_config"


class PumpRun(StrEnum):
    """Keys of a ``pump_on`` command's params and of its ack's result."""

    # params: the seconds asked for (none: the max runtime); result: the seconds granted.
    DURATION = "duration"
    # result: true when the pump's max runtime shortened the run (the node clips, never refuses).
    CLIPPED = "clipped"
    # result, when clipped: the seconds that were asked for.
    REQUESTED = "requested"


class NodeSetting(StrEnum):
    """Settings a controller may change with ``set_config``; a node that supports one
    reports its current value in ``NodeConfig.extra`` under the same key."""

    # The reservoir level (%) under which the node refuses and stops its pumps (dry-run
    # protection, with the node's own hysteresis); ``State.water_low`` is its decision.
    WATER_LOW_PCT = "water_low_pct"


class AckCode(StrEnum):
    """Why a node refused a command: the ``code`` of an ``Ack`` with ``ok`` false.

    Readers show a translated text per code; a node may send a code not listed here
    (a newer minor revision), which readers show with the node's own message.
    """

    UNSUPPORTED = "unsupported"  # the node does not do this action
    UNKNOWN_PUMP = "unknown_pump"
    INVALID_DURATION = "invalid_duration"
    WATER_LOW = "water_low"  # dry-run protection: the pump was not started
    INVALID_PLAN = "invalid_plan"
    VOLUME_TOO_LARGE = "volume_too_large"  # above the plan slot's max_volume_ml
    UNKNOWN_PLAN = "unknown_plan"
    UNKNOWN_PROBE = "unknown_probe"  # not fitted, or cannot be calibrated
    CALIBRATION_REJECTED = "calibration_rejected"
    PROBE_UNAVAILABLE = "probe_unavailable"  # the probe could not be read while calibrating
    INTERNAL_ERROR = "internal_error"  # a fault in the node's own code
    UNSUPPORTED_VERSION = "unsupported_version"  # a command of another protocol version
    INVALID_COMMAND = "invalid_command"  # a malformed command (the message names the field)
    INVALID_CONFIG = "invalid_config"  # a set_config value the node cannot use


class HealthKey(StrEnum):
    """Keys of ``State.health``: how the node itself is doing (all optional).

    A Pi bridge also reports ``probe_<key>`` (ok, or the probe's problem) per probe.
    """

    UPTIME = "uptime"  # seconds since the bridge started
    RSSI = "rssi"  # Wi-Fi signal, dBm
    CPU_TEMPERATURE = "cpu_temperature"  # degC
    DISK_FREE = "disk_free"  # MB free on the node's data disk
    BATTERY = "battery"  # %
    LAST_CALIBRATION = "last_calibration"  # unix seconds of the newest probe calibration
    FIRMWARE = "firmware"  # text
    CAMERA_OK = "camera_ok"  # bool: the node's camera delivered its last photo (absent: no camera)
    PHOTOS_DROPPED = "photos_dropped"  # photos dropped from the node's full photo buffer since it started
    BUFFERED = "buffered"  # samples waiting in the node's offline queue (reported, not shown)


class PlanType(StrEnum):
    """How a watering plan decides when to water (seed 000's plan kinds, plus off)."""

    OFF = "off"
    BASIC = "basic"  # volume_ml every check_interval
    MOISTURE = "moisture"  # volume_ml when moisture < threshold, checked every check_interval, min_pause apart
    TIME_BASED = "time_based"  # volume_ml at each of times (local "HH:MM" on the node)


class EventType(StrEnum):
    """Event types of protocol v1; nodes may send others, which readers ignore."""

    WATERING_REPORT = "watering_report"
    SAFETY_STOP = "safety_stop"
    CALIBRATION = "calibration"
    POWER_BANK_RETURNED = "power_bank_returned"
    PUMP_STARTED = "pump_started"
    PUMP_STOPPED = "pump_stopped"
    DUPLICATE_NODE = "duplicate_node"
    BUFFER_DROPPED = "buffer_dropped"


class WateringOutcome(StrEnum):
    """How a plan's run went: the ``outcome`` of a ``watering_report`` event."""

    OK = "ok"
    SKIPPED_LOW_WATER = "skipped_low_water"
    SKIPPED_BUSY = "skipped_busy"
    STOPPED_SAFETY = "stopped_safety"
    FAILED = "failed"
