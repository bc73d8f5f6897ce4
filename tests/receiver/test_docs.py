"""The test vector published in docs/receiver.md is what our signing code produces."""

from __future__ import annotations

import base64
from pathlib import Path
import re

from devtools.gateway_sim import signature as gateway_signature
from hydro_fleet_receiver.signing import decode_signature, sign, verify

DOC = Path(__file__).resolve().parents[2] / "docs" / "receiver.md"


def _vector() -> dict[str, str]:
    section = DOC.read_text(encoding="utf-8").split("### Test vector", 1)[1]
    return dict(re.findall(r"^- (secret|timestamp|body|signature): `([^`]*)`$", section, re.MULTILINE))


def test_documented_vector() -> None:
    vector = _vector()
    assert set(vector) == {"secret", "timestamp", "body", "signature"}
    body = vector["body"].encode()
    assert sign(vector["secret"], body, vector["timestamp"]) == vector["signature"]
    assert gateway_signature(vector["secret"], body, vector["timestamp"]) == vector["signature"]
    raw = decode_signature(vector["signature"])
    assert raw is not None
    assert verify(["another-secret-0000000", vector["secret"]], body, vector["timestamp"], raw) == 1
    assert verify([vector["secret"]], body + b" ", vector["timestamp"], raw) is None
    assert raw.hex() == "a246fcc6989066f1ea922d6ea5862aa815bf076e6d68f6367b070d090ca0bd91"


def test_strict_decoding() -> None:
    good = _vector()["signature"]
    raw = base64.b64decode(good)
    assert decode_signature(good) == raw
    for bad in (
        good.rstrip("="),
        good + "=",
        good.replace("/", "_"),
        good[:20] + "\n" + good[21:],
        "",
        "é" * 44,
        base64.b64encode(raw + b"x").decode(),
        good[:-2] + "l=",
    ):
        assert decode_signature(bad) is None, bad
