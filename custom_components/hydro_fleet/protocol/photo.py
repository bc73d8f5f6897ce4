"""Plant photos: ``<prefix>/<node_id>/photo`` and the cameras a node declares.

A photo is one binary MQTT payload: a compact JSON header (its metadata, one line), a
newline, then the JPEG bytes. The header carries what a reader must check before it
trusts the image: the declared size and SHA-256 of the JPEG, the camera it came from,
when it was taken and why. JSON never contains a raw newline, so the first ``\\n``
always ends the header. Everything is described in ``docs/protocol.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
import datetime as dt
from enum import StrEnum
import hashlib
import hmac
import json
from typing import Any, Self

from .const import PROTOCOL_VERSION
from .validation import (
    ProtocolError,
    UnsupportedVersionError,
    compact,
    enum,
    key,
    number,
    optional_number,
    optional_text,
    text,
)

# A 1280x960 JPEG at quality 85 is 150-300 KB; nothing a node sends legitimately comes
# near this, and it bounds what a hostile publisher can make a reader hash and decode.
MAX_PHOTO_BYTES = 1_000_000
_MAX_HEADER_BYTES = 2048
_JPEG_START = b"\xff\xd8\xff"
MAX_CAMERAS = 4
# A node sends at most one photo per this many seconds (buffered ones too); a reader may
# refuse photos that come faster, after a burst of PHOTO_BURST, as a flood.
PHOTO_SPACING = 2.5
PHOTO_BURST = 10


class PhotoReason(StrEnum):
    """Why a photo was taken."""

    INTERVAL = "interval"  # every photo_interval
    BEFORE_WATERING = "before_watering"
    AFTER_WATERING = "after_watering"


@dataclass(frozen=True, slots=True)
class CameraConfig:
    """A camera a node announces in its discovery config (``NodeConfig.cameras``)."""

    key: str
    name: str | None = None
    photo_interval: float | None = None  # seconds between interval photos; None: none on a timer

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Self:
        if not isinstance(data, dict):
            raise ProtocolError(f"'{where}' must be an object")
        return cls(
            key=key(data, "key", where=f"{where}."),
            name=optional_text(data, "name", where=f"{where}."),
            photo_interval=optional_number(data, "photo_interval", minimum=1, where=f"{where}."),
        )

    def to_dict(self) -> dict[str, Any]:
        return compact({"key": self.key, "name": self.name, "photo_interval": self.photo_interval})


def cameras_from(data: Any) -> tuple[CameraConfig, ...]:
    """The ``cameras`` list of a discovery config; absent (old nodes, ESPHome): none."""
    if data is None:
        return ()
    if not isinstance(data, list):
        raise ProtocolError(f"field 'cameras' must be a list, not {type(data).__name__}")
    if len(data) > MAX_CAMERAS:
        raise ProtocolError(f"field 'cameras' has more than {MAX_CAMERAS} items")
    cameras = tuple(CameraConfig.from_dict(item, f"cameras[{i}]") for i, item in enumerate(data))
    if len({c.key for c in cameras}) != len(cameras):
        raise ProtocolError("field 'cameras' has duplicate keys")
    return cameras


def photo_id(ts: float, reason: PhotoReason) -> str:
    """``20261206-041502-123-interval``: sorts by time, names the reason, is a valid key and file name."""
    moment = dt.datetime.fromtimestamp(ts, dt.UTC)
    return f"{moment:%Y%m%d-%H%M%S}-{moment.microsecond // 1000:03d}-{reason}"


@dataclass(frozen=True, slots=True)
class PhotoMeta:
    """The header of a photo payload."""

    camera: str
    id: str
    ts: float
    reason: PhotoReason
    size: int
    sha256: str
    width: int | None = None
    height: int | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        version = data.get("v")
        if version != PROTOCOL_VERSION or isinstance(version, bool):
            raise UnsupportedVersionError(version)
        size = number(data, "size", minimum=1, maximum=MAX_PHOTO_BYTES)
        sha256 = text(data, "sha256", max_len=64)
        if len(sha256) != 64 or sha256.strip("0123456789abcdef"):
            raise ProtocolError("field 'sha256' must be 64 lowercase hex digits")
        width = optional_number(data, "width", minimum=1, maximum=10_000)
        height = optional_number(data, "height", minimum=1, maximum=10_000)
        return cls(
            camera=key(data, "camera"),
            id=key(data, "id"),
            ts=number(data, "ts", minimum=0),
            reason=enum(PhotoReason, data, "reason"),
            size=int(size),
            sha256=sha256,
            width=None if width is None else int(width),
            height=None if height is None else int(height),
        )

    def to_dict(self) -> dict[str, Any]:
        return compact(
            {
                "v": PROTOCOL_VERSION,
                "camera": self.camera,
                "id": self.id,
                "ts": self.ts,
                "reason": str(self.reason),
                "size": self.size,
                "sha256": self.sha256,
                "width": self.width,
                "height": self.height,
            }
        )


@dataclass(frozen=True, slots=True)
class Photo:
    """A photo as it travels: its metadata and the JPEG bytes."""

    meta: PhotoMeta
    jpeg: bytes

    @classmethod
    def build(
        cls,
        camera: str,
        ts: float,
        reason: PhotoReason,
        jpeg: bytes,
        width: int | None = None,
        height: int | None = None,
    ) -> Self:
        """A photo with its size and checksum filled in from ``jpeg``."""
        meta = PhotoMeta(
            camera=camera,
            id=photo_id(ts, reason),
            ts=round(ts, 3),
            reason=reason,
            size=len(jpeg),
            sha256=hashlib.sha256(jpeg).hexdigest(),
            width=width,
            height=height,
        )
        return cls(meta, jpeg)

    def encode(self) -> bytes:
        header = json.dumps(self.meta.to_dict(), separators=(",", ":"), allow_nan=False).encode()
        return header + b"\n" + self.jpeg

    @classmethod
    def parse(cls, payload: bytes) -> Self:
        """Check a photo payload whole: header, size, checksum, JPEG signature.

        Hashing 300 KB takes about 0.3 ms; readers on an event loop run this in a worker.
        It does not decode the image (a reader that shows it does, see the integration).
        """
        if len(payload) > MAX_PHOTO_BYTES + _MAX_HEADER_BYTES:
            raise ProtocolError(f"photo of {len(payload)} bytes is over the {MAX_PHOTO_BYTES} byte limit")
        end = payload.find(b"\n", 0, _MAX_HEADER_BYTES)
        if end < 0:
            raise ProtocolError("photo has no header line (JSON metadata, a newline, then the JPEG)")
        try:
            header = json.loads(payload[:end])
        except (ValueError, RecursionError) as err:
            raise ProtocolError(f"photo header is not JSON: {err}") from None
        if not isinstance(header, dict):
            raise ProtocolError("photo header must be a JSON object")
        meta = PhotoMeta.from_dict(header)
        jpeg = payload[end + 1 :]
        if len(jpeg) != meta.size:
            raise ProtocolError(f"photo is {len(jpeg)} bytes, its header says {meta.size}")
        if not jpeg.startswith(_JPEG_START):
            raise ProtocolError("photo is not a JPEG")
        if not hmac.compare_digest(hashlib.sha256(jpeg).hexdigest(), meta.sha256):
            raise ProtocolError("photo checksum mismatch (sha256 of the JPEG differs from its header)")
        return cls(meta, jpeg)
