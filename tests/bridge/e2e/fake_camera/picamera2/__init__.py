"""A stand-in for Raspberry Pi OS's ``picamera2``: the frame source, and nothing else, faked.

It keeps the part of Picamera2's API the capture process uses (configure a still
configuration, start, ``capture_image``, close) and hands back a flat grey frame of the
configured size. While the file named by ``FAKE_CAMERA_BROKEN`` exists, opening the
camera fails the way a camera with its ribbon cable out does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PIL import Image


class Picamera2:
    def __init__(self) -> None:
        broken = os.environ.get("FAKE_CAMERA_BROKEN")
        if broken and Path(broken).exists():
            raise RuntimeError(Path(broken).read_text())
        self._size = (640, 480)
        self.started = False

    def create_still_configuration(self, main: dict[str, Any]) -> dict[str, Any]:
        return {"main": main}

    def configure(self, config: dict[str, Any]) -> None:
        self._size = tuple(config["main"]["size"])

    def start(self) -> None:
        self.started = True

    def capture_image(self, name: str = "main") -> Image.Image:
        assert self.started and name == "main"
        return Image.new("RGB", self._size, (90, 120, 80))

    def close(self) -> None:
        self.started = False
