"""Plant photos arriving over MQTT: checked and stored off the event loop, then shown.

One wildcard subscription serves every node's ``photo`` topic. On the event loop a
photo costs a topic lookup, a size check and a flood check; hashing, decoding and
writing run in an executor thread (photo_store.py). A bad photo (not an image, too big,
a checksum mismatch, a flood, a node or camera that was not announced) is logged once
per node until that node sends a good one, and nothing of it is written or shown.
A camera that stops delivering raises a repair issue that a new photo clears.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import datetime as dt
import logging
from pathlib import Path
import time
from typing import TYPE_CHECKING, Any

from homeassistant.components import mqtt
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_track_time_interval

from .const import (
    CONF_PHOTO_KEEP_COUNT,
    CONF_PHOTO_KEEP_DAYS,
    DEFAULT_PHOTO_KEEP_COUNT,
    DEFAULT_PHOTO_KEEP_DAYS,
    DOMAIN,
    signal_photo,
)
from .photo_store import PHOTOS, PhotoStore, StoredPhoto, check_photo, media_id
from .protocol import (
    MAX_PHOTO_BYTES,
    PHOTO_BURST,
    PHOTO_SPACING,
    Event,
    EventType,
    ProtocolError,
    TopicKind,
    parse_topic,
    wildcard,
)

if TYPE_CHECKING:
    from .fleet import HydroFleet

_LOGGER = logging.getLogger(__name__)
# A node may send a burst of PHOTO_BURST photos, then one every FLOOD_REFILL seconds on
# average; the protocol's spacing, which a bridge keeps even when it empties its buffer,
# with a little slack for network jitter.
FLOOD_BURST = PHOTO_BURST
FLOOD_REFILL = PHOTO_SPACING * 0.8
_HEADER_ALLOWANCE = 2048
ISSUE_CAMERA_SILENT = "camera_silent"
# A camera is silent once it has missed this many of its photo intervals.
SILENT_INTERVALS = 3
_SILENT_CHECK = dt.timedelta(seconds=60)
_WATERING_PHOTOS = ("photo_before", "photo_after")


def photo_root(hass: HomeAssistant) -> tuple[str, Path]:
    """The media folder photos go to: (its media source id, the integration's folder in it)."""
    dirs = hass.config.media_dirs
    source = "local" if "local" in dirs else next(iter(dirs), "local")
    return source, Path(dirs.get(source) or hass.config.path("media")) / DOMAIN


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class Photos:
    """The fleet's photos: receiving, the newest per camera, retention and silent cameras."""

    def __init__(self, fleet: HydroFleet) -> None:
        self.fleet = fleet
        self.hass = fleet.hass
        self.media_source_id, root = photo_root(fleet.hass)
        self.store = PhotoStore(root)
        self.latest: dict[tuple[str, str], StoredPhoto] = {}
        # When each camera was last heard of (a photo, or its node coming into view).
        self._heard: dict[tuple[str, str], float] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._reported: set[str] = set()
        self._issues: set[str] = set()
        self._unsubscribe: list[CALLBACK_TYPE] = []

    @property
    def options(self) -> Mapping[str, Any]:
        return self.fleet.entry.options

    async def async_start(self) -> None:
        self._unsubscribe.append(
            await mqtt.async_subscribe(
                self.hass, wildcard(self.fleet.prefix, TopicKind.PHOTO), self._on_photo, qos=1, encoding=None
            )
        )
        self._unsubscribe.append(async_track_time_interval(self.hass, self._check_silent, _SILENT_CHECK))

    @callback
    def async_stop(self) -> None:
        while self._unsubscribe:
            self._unsubscribe.pop()()

    # --- receiving -------------------------------------------------------------------

    def _reject(self, node_id: str, why: str) -> None:
        if node_id in self._reported:
            _LOGGER.debug("Ignored another photo from node %s: %s", node_id, why)
            return
        self._reported.add(node_id)
        _LOGGER.warning("Ignored a photo from node %s: %s", node_id, why)

    def _flooding(self, node_id: str, now: float) -> bool:
        bucket = self._buckets.get(node_id)
        if bucket is None:
            bucket = self._buckets[node_id] = _Bucket(FLOOD_BURST, now)
        bucket.tokens = min(FLOOD_BURST, bucket.tokens + (now - bucket.at) / FLOOD_REFILL)
        bucket.at = now
        if bucket.tokens < 1:
            return True
        bucket.tokens -= 1
        return False

    @callback
    def _on_photo(self, msg: mqtt.ReceiveMessage) -> None:
        parsed = parse_topic(self.fleet.prefix, msg.topic)
        if parsed is None:
            return
        node_id = parsed[0]
        payload = msg.payload
        node = self.fleet.nodes.get(node_id)
        if node is None:
            return  # not discovered (yet): like every other topic of an unknown node
        if not node.config.cameras:
            self._reject(node_id, "the node announced no camera")
            return
        if not isinstance(payload, bytes | bytearray) or len(payload) > MAX_PHOTO_BYTES + _HEADER_ALLOWANCE:
            self._reject(node_id, f"payload of {len(payload)} bytes is over the {MAX_PHOTO_BYTES} byte limit")
            return
        if self._flooding(node_id, time.monotonic()):
            self._reject(node_id, f"more than {FLOOD_BURST} photos in a burst (at most one per {FLOOD_REFILL:g} s)")
            return
        cameras = frozenset(camera.key for camera in node.config.cameras)
        self.fleet.entry.async_create_background_task(
            self.hass, self._async_store(node_id, bytes(payload), cameras), f"{DOMAIN} photo from {node_id}"
        )

    async def _async_store(self, node_id: str, payload: bytes, cameras: frozenset[str]) -> None:
        try:
            stored = await self.hass.async_add_executor_job(self._check_and_write, node_id, payload, cameras)
        except ProtocolError as err:
            self._reject(node_id, str(err))
            return
        except OSError as err:
            _LOGGER.warning("Could not store a photo of node %s in %s: %s", node_id, self.store.root, err)
            return
        self._reported.discard(node_id)
        self._show(stored)

    def _check_and_write(self, node_id: str, payload: bytes, cameras: frozenset[str]) -> StoredPhoto:
        photo = check_photo(payload, cameras)
        stored = self.store.write(node_id, photo)
        keep_count = int(self.options.get(CONF_PHOTO_KEEP_COUNT, DEFAULT_PHOTO_KEEP_COUNT))
        keep_days = float(self.options.get(CONF_PHOTO_KEEP_DAYS, DEFAULT_PHOTO_KEEP_DAYS))
        self.store.prune(node_id, photo.meta.camera, keep_count, keep_days, time.time())
        return stored

    @callback
    def _show(self, stored: StoredPhoto) -> None:
        key = (stored.node_id, stored.camera)
        current = self.latest.get(key)
        self._heard[key] = time.time()
        self._clear_silent(stored.node_id, stored.camera)
        if current is not None and current.id >= stored.id:
            return  # a buffered older photo arriving after a newer one: stored, not shown as the latest
        self.latest[key] = stored
        async_dispatcher_send(self.hass, signal_photo(self.fleet.entry.entry_id, stored.node_id, stored.camera))

    @callback
    def async_set_latest(self, stored: StoredPhoto) -> None:
        """The newest photo found on disk at start-up (the image entity looks it up)."""
        key = (stored.node_id, stored.camera)
        if key not in self.latest or self.latest[key].id < stored.id:
            self.latest[key] = stored

    # --- watering reports --------------------------------------------------------------

    def linked(self, node_id: str, event: Event) -> Event:
        """A watering report with its photos as media source ids (the event entity and the bus event carry them)."""
        if event.type != EventType.WATERING_REPORT or not any(k in event.data for k in _WATERING_PHOTOS):
            return event
        data = dict(event.data)
        node = self.fleet.nodes.get(node_id)
        cameras = [c.key for c in node.config.cameras] if node else []
        for key in _WATERING_PHOTOS:
            photo_id = data.get(key)
            if isinstance(photo_id, str) and cameras:
                # The photos may still be on their way: the id names the file they will be stored as.
                relative = f"{node_id}/{PHOTOS}/{cameras[0]}/{photo_id}.jpg"
                data[f"{key}_media_id"] = media_id(relative)
        return Event(ts=event.ts, type=event.type, data=data)

    # --- silent cameras ----------------------------------------------------------------

    @callback
    def _check_silent(self, _now: dt.datetime | None = None) -> None:
        now = time.time()
        for node in self.fleet.nodes.values():
            for camera in node.config.cameras:
                key = (node.node_id, camera.key)
                heard = self._heard.setdefault(key, now)
                if not node.online or camera.photo_interval is None:
                    self._heard[key] = now  # an offline node has its own repair issue
                    continue
                if now - heard > SILENT_INTERVALS * camera.photo_interval:
                    self._raise_silent(node.node_id, node.config.name, camera.key, now - heard)

    def _issue_id(self, node_id: str, camera: str) -> str:
        return f"{ISSUE_CAMERA_SILENT}_{node_id}_{camera}"

    def _raise_silent(self, node_id: str, name: str, camera: str, silent_for: float) -> None:
        issue = self._issue_id(node_id, camera)
        if issue in self._issues:
            return
        self._issues.add(issue)
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            issue,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=ISSUE_CAMERA_SILENT,
            translation_placeholders={"node": name, "camera": camera, "minutes": f"{silent_for / 60:.0f}"},
        )

    def _clear_silent(self, node_id: str, camera: str) -> None:
        issue = self._issue_id(node_id, camera)
        if issue in self._issues:
            self._issues.discard(issue)
            ir.async_delete_issue(self.hass, DOMAIN, issue)

    @callback
    def async_forget(self, node_id: str) -> None:
        """A node was removed: its camera issues go with it (its photos stay in the media folder)."""
        for issue in [i for i in self._issues if i.startswith(f"{ISSUE_CAMERA_SILENT}_{node_id}_")]:
            self._issues.discard(issue)
            ir.async_delete_issue(self.hass, DOMAIN, issue)
