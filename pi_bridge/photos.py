"""Plant photos: one every ``photo_interval`` plus one before and after each watering run.

Every photo goes to the on-disk buffer first and is sent from there by the bridge's
backfill task once the readings' backlog is empty (``send_one``), then deleted on the
broker's acknowledgement; so a photo taken while the broker is away waits its turn,
and readings always go first. Captures run in a child process (camera.py), file writes
in the bridge's worker thread: neither ever holds up the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from concurrent.futures import Executor
import logging
from pathlib import Path
import time
from typing import Protocol

import aiomqtt

from hydro_fleet_protocol import PHOTO_SPACING, CameraConfig, EventType, HealthKey, PhotoReason, Reading

from .camera import Camera, PlantView
from .photo_buffer import PhotoBuffer
from .settings import CameraSettings
from .store import read_json, write_json

_LOGGER = logging.getLogger(__name__)
_PUBLISH_TIMEOUT = 60.0
# After a failed capture, the next try comes this soon (or at the interval, if sooner).
_RETRY_SECONDS = 60.0


class PhotoHost(Protocol):
    """What photos need from the bridge."""

    node_id: str

    def last_readings(self) -> Mapping[str, Reading]: ...

    def emit(self, event_type: str, data: dict[str, Reading]) -> None: ...

    def wake_backfill(self) -> None: ...


class PhotoService:
    """The node's camera, its photo schedule and its photo buffer."""

    def __init__(
        self, host: PhotoHost, settings: CameraSettings, state_dir: Path, executor: Executor, *, simulate: bool
    ) -> None:
        self.host = host
        self.settings = settings
        self.camera = Camera(settings, simulate=simulate)
        self.buffer = PhotoBuffer(state_dir / "photos", int(settings.disk_budget_mb * 1e6), self._dropped)
        self._executor = executor
        self._sent_at = -PHOTO_SPACING
        # The simulated plant was "planted" when this node first ran, and keeps growing across restarts.
        planted_file = state_dir / "plant.json"
        planted = read_json(planted_file).get("planted")
        if not isinstance(planted, int | float):
            planted = time.time()
            write_json(planted_file, {"planted": planted})
        self._planted = float(planted)

    def describe(self) -> tuple[CameraConfig, ...]:
        settings = self.settings
        return (CameraConfig(key=settings.key, name=settings.name, photo_interval=settings.photo_interval),)

    def health(self) -> dict[str, Reading]:
        health: dict[str, Reading] = {HealthKey.PHOTOS_DROPPED: self.buffer.dropped}
        if self.camera.ok is not None:
            health[HealthKey.CAMERA_OK] = self.camera.ok
        return health

    def _plant(self) -> PlantView | None:
        if self.camera.source != "simulated":
            return None
        moisture = self.host.last_readings().get("moisture")
        age = (time.time() - self._planted) / 86400.0 * self.settings.growth_speed
        return PlantView(
            seed=self.host.node_id,
            moisture=float(moisture) if isinstance(moisture, int | float) else 40.0,
            age_days=age,
        )

    async def take(self, reason: PhotoReason) -> str | None:
        """Take a photo and queue it for sending; its id, or None if the camera failed."""
        photo = await self.camera.capture(reason, self._plant())
        if photo is None:
            return None
        stored = await asyncio.get_running_loop().run_in_executor(self._executor, self.buffer.put, photo)
        if not stored:
            return None
        _LOGGER.debug("photo %s (%d bytes) taken", photo.meta.id, photo.meta.size)
        self.host.wake_backfill()
        return photo.meta.id

    async def take_for_watering(self, reason: PhotoReason) -> str | None:
        """A before/after photo of a watering run, if the config asks for them."""
        return await self.take(reason) if self.settings.watering_photos else None

    async def run(self) -> None:
        """Take a photo every ``photo_interval``; sooner again after a failure."""
        interval = self.settings.photo_interval
        while True:
            await self.take(PhotoReason.INTERVAL)
            await asyncio.sleep(interval if self.camera.ok else min(interval, _RETRY_SECONDS))

    async def send_one(self, client: aiomqtt.Client, *, topic: str) -> bool:
        """Publish the oldest buffered photo and delete it once acknowledged; False if none is buffered."""
        loop = asyncio.get_running_loop()
        oldest = await loop.run_in_executor(self._executor, self.buffer.oldest)
        if oldest is None:
            return False
        name, payload = oldest
        # No faster than the protocol's photo spacing: a reader refuses a flood, and a buffer
        # of photos after an outage is no flood.
        wait = self._sent_at + PHOTO_SPACING - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        await client.publish(topic, payload, qos=1, timeout=_PUBLISH_TIMEOUT)
        self._sent_at = time.monotonic()
        await loop.run_in_executor(self._executor, self.buffer.delete, name)
        return True

    def _dropped(self, count: int) -> None:
        self.host.emit(
            EventType.BUFFER_DROPPED,
            {"photos": count, "disk_budget_mb": self.settings.disk_budget_mb, "message": "photo buffer full"},
        )
