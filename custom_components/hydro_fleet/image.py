"""Image entities: the newest photo of each camera a node announces, with the time it was taken."""

from __future__ import annotations

from collections.abc import Iterator
import datetime as dt

from homeassistant.components.image import ImageEntity
from homeassistant.core import HomeAssistant, ServiceResponse, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .const import DOMAIN, signal_photo
from .entity import HydroFleetEntity, async_setup_node_platform
from .fleet import HydroFleet, HydroFleetConfigEntry
from .node import NO_SECTIONS, Node
from .photo_store import StoredPhoto
from .protocol import CameraConfig
from .timelapse import NoPhotos, TimelapseRequest, make_timelapse

_DEFAULT_PERIOD = dt.timedelta(days=7)


def _timestamp(value: dt.datetime) -> float:
    """A naive time from the action's form is the user's local time."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt_util.get_default_time_zone())
    return value.timestamp()


PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant, entry: HydroFleetConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """An image entity per announced camera; nodes without a camera get none."""

    def entities_for(fleet: HydroFleet, node: Node) -> Iterator[PlantPhoto]:
        for camera in node.config.cameras:
            yield PlantPhoto(hass, fleet, node, camera)

    async_setup_node_platform(hass, entry, async_add_entities, "image", entities_for)


class PlantPhoto(HydroFleetEntity, ImageEntity):
    """The camera's newest photo; its state is when that photo was taken."""

    _attr_content_type = "image/jpeg"
    _attr_translation_key = "plant_photo"
    _sections = NO_SECTIONS

    def __init__(self, hass: HomeAssistant, fleet: HydroFleet, node: Node, camera: CameraConfig) -> None:
        HydroFleetEntity.__init__(self, fleet, node, f"camera_{camera.key}")
        ImageEntity.__init__(self, hass)
        self.camera = camera.key
        self._attr_translation_placeholders = {"camera": camera.name or camera.key}
        self._photo: StoredPhoto | None = None

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        photos = self.fleet.photos
        if (self.node.node_id, self.camera) not in photos.latest:
            # After a restart: the newest photo already on disk.
            stored = await self.hass.async_add_executor_job(photos.store.latest, self.node.node_id, self.camera)
            if stored is not None:
                photos.async_set_latest(stored)
        self._show_latest()
        signal = signal_photo(self.fleet.entry.entry_id, self.node.node_id, self.camera)
        self.async_on_remove(async_dispatcher_connect(self.hass, signal, self._new_photo))

    def _show_latest(self) -> bool:
        stored = self.fleet.photos.latest.get((self.node.node_id, self.camera))
        if stored is None or stored == self._photo:
            return False
        self._photo = stored
        self._attr_image_last_updated = dt.datetime.fromtimestamp(stored.ts, dt.UTC)
        self._attr_extra_state_attributes = {"photo_id": stored.id, "media_content_id": stored.media_id}
        return True

    @callback
    def _new_photo(self) -> None:
        if self._show_latest():
            self.async_write_ha_state()

    def _fingerprint(self) -> object:
        return self._photo

    async def async_make_timelapse(
        self,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        frames_per_second: float = 8.0,
        width: int = 640,
        max_frames: int = 150,
        include_watering: bool = False,
    ) -> ServiceResponse:
        """The ``make_timelapse`` action: an animated WebP of this camera's photos in the media folder."""
        until = _timestamp(end) if end else dt_util.utcnow().timestamp()
        since = _timestamp(start) if start else until - _DEFAULT_PERIOD.total_seconds()
        request = TimelapseRequest(
            node_id=self.node.node_id,
            camera=self.camera,
            start=since,
            end=until,
            frames_per_second=frames_per_second,
            width=width,
            max_frames=max_frames,
            include_watering=include_watering,
        )
        try:
            made = await self.hass.async_add_executor_job(make_timelapse, self.fleet.photos.store, request)
        except NoPhotos as err:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="timelapse_no_photos",
                translation_placeholders={"detail": str(err)},
            ) from None
        return {
            "media_content_id": made.media_id,
            "frames": made.frames,
            "first": dt.datetime.fromtimestamp(made.first, dt.UTC).isoformat(),
            "last": dt.datetime.fromtimestamp(made.last, dt.UTC).isoformat(),
        }

    async def async_image(self) -> bytes | None:
        if self._photo is None:
            return None
        try:
            return await self.hass.async_add_executor_job(self.fleet.photos.store.read, self._photo.path)
        except FileNotFoundError:  # pruned by retention since
            return None
