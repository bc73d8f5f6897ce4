"""LoRaWAN ingest: ChirpStack v4 HTTP integration uplinks become protocol v1 nodes.

ChirpStack posts every event type of an application to one URL, naming it in the query
(``?event=up``, ``join``, ``status``, ...). Only ``up`` carries readings; the others are
acknowledged with 204 so ChirpStack does not log them as failed deliveries. The decoded
payload (``object``) comes from the device profile's codec; this module only reads the
keys it knows and ignores the rest, so a richer codec does not break ingest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
import hmac
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hydro_fleet_protocol import (
    NodeConfig,
    NodeKind,
    Reading,
    SensorConfig,
    SensorType,
    State,
    Topic,
    encode,
    is_valid_node_id,
)

from .nodes import Message, node_update

UPLINK_EVENT = "up"


class _DeviceInfo(BaseModel):
    model_config = ConfigDict(extra="ignore")
    dev_eui: str = Field(alias="devEui", pattern=r"^[0-9A-Fa-f]{16}$")
    device_name: str | None = Field(default=None, alias="deviceName", max_length=128)
    application_name: str | None = Field(default=None, alias="applicationName", max_length=128)
    device_profile_name: str | None = Field(default=None, alias="deviceProfileName", max_length=128)


class _Decoded(BaseModel):
    """The codec's output; unknown keys are ignored on purpose (see the module docstring)."""

    model_config = ConfigDict(extra="ignore")
    # strict: a codec that sends "41.5" as a string is misconfigured; coercing would hide that.
    soil_moisture: float | None = Field(default=None, strict=True, ge=0, le=100)
    temperature: float | None = Field(default=None, strict=True, ge=-60, le=100)
    battery: float | None = Field(default=None, strict=True, ge=0, le=100)


class _RxInfo(BaseModel):
    model_config = ConfigDict(extra="ignore")
    rssi: int | None = Field(default=None, strict=True, ge=-200, le=50)
    snr: float | None = Field(default=None, strict=True, ge=-50, le=50)


class Uplink(BaseModel):
    """The parts of a ChirpStack v4 ``up`` event (JSON marshaler) that the receiver uses."""

    model_config = ConfigDict(extra="ignore")
    device_info: _DeviceInfo = Field(alias="deviceInfo")
    # A device without a codec has no ``object``: the uplink still proves it is alive.
    decoded: _Decoded = Field(default_factory=_Decoded, alias="object")
    rx_info: list[_RxInfo] = Field(default_factory=list, alias="rxInfo", max_length=64)
    time: datetime | None = None
    f_cnt: int | None = Field(default=None, alias="fCnt", ge=0)

    @property
    def dev_eui(self) -> str:
        return self.device_info.dev_eui.lower()

    def best_rx(self) -> _RxInfo | None:
        """The gateway that heard the device best (several may receive one uplink)."""
        heard = [rx for rx in self.rx_info if rx.rssi is not None]
        return max(heard, key=lambda rx: rx.rssi or 0) if heard else None

    def measured_at(self, received: float) -> float:
        """When the device sent it; the receive time if ChirpStack gave none or one from the future."""
        if self.time is None or self.time.tzinfo is None:
            return received
        sent = self.time.timestamp()
        return received if sent > received + 60 else sent


def parse_uplink(body: bytes) -> Uplink:
    """Raise ``pydantic.ValidationError`` naming the field on a bad body."""
    return Uplink.model_validate_json(body)


def lorawan_node_id(dev_eui: str) -> str:
    node_id = f"lora-{dev_eui.lower()}"
    assert is_valid_node_id(node_id)
    return node_id


def lorawan_config(node_id: str, uplink: Uplink) -> NodeConfig:
    """Discovery config of a LoRaWAN device; the same sensors for every device, so the
    entities do not come and go with what one uplink happened to carry."""
    info = uplink.device_info
    sensors = (
        SensorConfig(
            "soil_moisture", SensorType.MOISTURE, name="Soil moisture", unit="%", minimum=0, maximum=100, precision=1
        ),
        SensorConfig("temperature", SensorType.TEMPERATURE, name="Temperature", unit="°C", precision=1),
        SensorConfig("battery", SensorType.BATTERY, name="Battery", unit="%", minimum=0, maximum=100, precision=0),
        SensorConfig("signal", SensorType.SIGNAL, name="Signal", unit="dBm", precision=0, diagnostic=True),
        SensorConfig("snr", SensorType.COUNT, name="SNR", unit="dB", precision=1, diagnostic=True),
    )
    extra: dict[str, Any] = {"dev_eui": uplink.dev_eui}
    if info.application_name:
        extra["application"] = info.application_name
    return NodeConfig(
        node_id=node_id,
        kind=NodeKind.LORAWAN,
        name=info.device_name or f"LoRaWAN {uplink.dev_eui}",
        model=info.device_profile_name or "LoRaWAN device",
        sensors=sensors,
        extra=extra,
    )


def lorawan_readings(uplink: Uplink) -> dict[str, Reading]:
    rx = uplink.best_rx()
    decoded = uplink.decoded
    return {
        "soil_moisture": decoded.soil_moisture,
        "temperature": decoded.temperature,
        "battery": decoded.battery,
        "signal": rx.rssi if rx else None,
        "snr": rx.snr if rx else None,
    }


@dataclass(frozen=True, slots=True)
class DeviceRow:
    """A LoRaWAN device as stored before an uplink changed it."""

    config: bytes
    online: bool
    seq: int


@dataclass(frozen=True, slots=True)
class DeviceUpdate:
    """What storage keeps of an uplink (encoded config, readings) and the messages it sends."""

    config: bytes
    readings: dict[str, Reading]
    seq: int
    messages: list[Message]


def lorawan_update(prefix: str, node_id: str, uplink: Uplink, before: DeviceRow | None, now: float) -> DeviceUpdate:
    """The stored row and messages of an uplink; the config goes out only when it changed
    (a device renamed in ChirpStack), so HA is not re-discovering each uplink."""
    config = encode(lorawan_config(node_id, uplink))
    readings = lorawan_readings(uplink)
    seq = 1 if before is None else before.seq + 1
    state = State(ts=uplink.measured_at(now), seq=seq, readings=readings)
    changed = None if before is not None and before.config == config else config
    messages = node_update(Topic(prefix, node_id), changed, before is None or not before.online, state)
    return DeviceUpdate(config, readings, seq, messages)


def token_matches(header_value: str, token: str) -> bool:
    """Whether a header value carries ``token``, as ``Bearer <token>`` or bare, compared in constant time.

    ChirpStack sends whatever header value is configured in the integration, so both forms
    are accepted. The comparison is on bytes: ``compare_digest`` refuses non-ASCII ``str``,
    and the header is client-controlled.
    """
    scheme, _, rest = header_value.partition(" ")
    presented = rest.strip() if scheme.lower() == "bearer" else header_value.strip()
    # surrogateescape: aiohttp hands non-UTF-8 header bytes over as surrogates.
    return hmac.compare_digest(presented.encode("utf-8", "surrogateescape"), token.encode())
