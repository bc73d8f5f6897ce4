"""The camera as the bridge sees it: one capture child process per photo.

The child (camera_capture.py) holds Pillow and the camera driver only while it takes
the photo; the bridge waits for it without blocking its event loop, so sampling and
pump deadlines go on meanwhile. A failing camera is logged once (and again only after
it worked in between), reported as ``camera_ok: false`` in health, and tried again at
the next photo; it never stops sampling or pumps.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import json
import logging
import sys
import time
from typing import Any

from hydro_fleet_protocol import Photo, PhotoReason

from .settings import CameraSettings

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class PlantView:
    """What the simulated camera draws: the node's plant, its moisture and age."""

    seed: str
    moisture: float
    age_days: float


class CameraError(Exception):
    """The camera did not deliver a photo; the message says why."""


class Camera:
    """Takes photos with the configured camera (or the drawn plant in --simulate)."""

    def __init__(self, settings: CameraSettings, *, simulate: bool) -> None:
        self.settings = settings
        self.source = settings.source or ("simulated" if simulate else "picamera2")
        self.ok: bool | None = None  # None until the first photo was tried
        self._lock = asyncio.Lock()  # one capture at a time: a camera is one device

    def _request(self, ts: float, plant: PlantView | None) -> dict[str, Any]:
        s = self.settings
        request: dict[str, Any] = {
            "source": self.source,
            "device": str(s.device),
            "width": s.width,
            "height": s.height,
            "quality": s.quality,
            "max_bytes": s.max_bytes,
        }
        if self.source == "simulated":
            view = plant or PlantView(seed="plant", moisture=40.0, age_days=0.0)
            request["plant"] = {"seed": view.seed, "moisture": view.moisture, "age_days": view.age_days, "ts": ts}
        return request

    async def capture(self, reason: PhotoReason, plant: PlantView | None = None) -> Photo | None:
        """A photo now, or None if the camera failed (logged once, ``ok`` false)."""
        async with self._lock:
            ts = time.time()
            try:
                jpeg, width, height = await self._run_child(self._request(ts, plant))
            except CameraError as err:
                if self.ok is not False:
                    _LOGGER.warning("camera %s failed: %s; trying again at the next photo", self.settings.key, err)
                self.ok = False
                return None
            if self.ok is False:
                _LOGGER.info("camera %s works again", self.settings.key)
            self.ok = True
            return Photo.build(self.settings.key, ts, reason, jpeg, width, height)

    async def _run_child(self, request: dict[str, Any]) -> tuple[bytes, int, int]:
        try:
            child = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "pi_bridge.camera_capture",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as err:
            raise CameraError(f"cannot start the capture process: {err}") from None
        try:
            async with asyncio.timeout(self.settings.capture_timeout):
                out, err_text = await child.communicate(json.dumps(request).encode())
        except TimeoutError:
            child.kill()
            await child.wait()
            raise CameraError(f"no photo within {self.settings.capture_timeout:g} s") from None
        except asyncio.CancelledError:
            if child.returncode is None:
                child.kill()
                await child.wait()
            raise
        if child.returncode != 0:
            lines = err_text.decode(errors="replace").strip().splitlines()
            raise CameraError(lines[-1] if lines else f"capture exited with status {child.returncode}")
        header, _, jpeg = out.partition(b"\n")
        try:
            size = json.loads(header)
            return jpeg, int(size["width"]), int(size["height"])
        except (ValueError, KeyError, TypeError):
            raise CameraError("the capture process answered something that is not a photo") from None
