"""The photo payload and the cameras of a discovery config."""

from __future__ import annotations

import hashlib
import json

import pytest

from hydro_fleet_protocol import (
    MAX_PHOTO_BYTES,
    CameraConfig,
    NodeConfig,
    NodeKind,
    Photo,
    PhotoReason,
    ProtocolError,
    UnsupportedVersionError,
    encode,
    photo_id,
)

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4 + b"\xff\xd9"


def test_a_photo_round_trips_with_its_metadata():
    photo = Photo.build("plant", 1796531204.9181, PhotoReason.BEFORE_WATERING, JPEG, 640, 480)
    parsed = Photo.parse(photo.encode())
    assert parsed == photo
    assert parsed.meta.id == "20261206-042644-918-before_watering"
    assert parsed.meta.size == len(JPEG) and parsed.meta.sha256 == hashlib.sha256(JPEG).hexdigest()
    assert photo_id(0, PhotoReason.INTERVAL) == "19700101-000000-000-interval"


def _payload(header: dict, jpeg: bytes = JPEG) -> bytes:
    return json.dumps(header).encode() + b"\n" + jpeg


GOOD = Photo.build("plant", 1.0, PhotoReason.INTERVAL, JPEG).meta.to_dict()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\xff\xd8\xff" + b"a" * 4000, "no header line"),
        (b"not json\n" + JPEG, "header is not JSON"),
        (b"[1]\n" + JPEG, "must be a JSON object"),
        (_payload(GOOD, JPEG[:-1]), "header says"),
        (_payload(GOOD | {"size": len(b"GIF89a" + JPEG[6:])}, b"GIF89a" + JPEG[6:]), "not a JPEG"),
        (_payload(GOOD | {"sha256": "0" * 64}), "checksum mismatch"),
        (_payload(GOOD | {"sha256": "XYZ"}), "64 lowercase hex"),
        (_payload(GOOD | {"size": MAX_PHOTO_BYTES + 1}), "must be <="),
        (_payload(GOOD | {"reason": "selfie"}), "expected one of"),
        (_payload(GOOD | {"camera": "Bad Key"}), "lowercase"),
        (_payload({k: v for k, v in GOOD.items() if k != "ts"}), "'ts' is missing"),
        (b"x" * (MAX_PHOTO_BYTES + 4096), "over the"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_bad_photos_are_rejected_naming_the_problem(payload: bytes, message: str):
    with pytest.raises(ProtocolError, match=message):
        Photo.parse(payload)


def test_a_photo_of_another_protocol_version_is_refused():
    with pytest.raises(UnsupportedVersionError):
        Photo.parse(_payload(GOOD | {"v": 2}))


def test_cameras_in_discovery_and_nodes_without_any():
    node = NodeConfig(node_id="pi-1", kind=NodeKind.PI, name="Pi 1", cameras=(CameraConfig("plant", "Plant", 3600),))
    assert NodeConfig.parse(encode(node)).cameras == node.cameras
    # An old node (or an ESPHome node) declares no camera: the key is absent and that is fine.
    old = {"v": 1, "node_id": "esp-1", "kind": "esphome", "name": "ESP"}
    assert NodeConfig.parse(json.dumps(old)).cameras == ()
    assert "cameras" not in json.loads(encode(NodeConfig(node_id="pi-2", kind=NodeKind.PI, name="x")))
    for bad, message in (
        ({"cameras": {"key": "a"}}, "must be a list"),
        ({"cameras": [{"key": "a"}, {"key": "a"}]}, "duplicate"),
        ({"cameras": [{"key": "a", "photo_interval": 0}]}, ">= 1"),
        ({"cameras": [{"key": str(i)} for i in range(5)]}, "more than 4"),
    ):
        with pytest.raises(ProtocolError, match=message):
            NodeConfig.parse(json.dumps(old | bad))
