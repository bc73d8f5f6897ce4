"""Plant photos on disk, under Home Assistant's media folder: checked, written, pruned, listed.

Layout: ``<media>/hydro_fleet/<node_id>/photos/<camera>/<photo id>.jpg`` and
``<media>/hydro_fleet/<node_id>/timelapses/<name>.webp``. Photo ids start with their UTC
time, so names sort by time and retention needs no index. Every function here does file
I/O or image decoding and runs in an executor thread, never on the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass
import datetime as dt
import io
import os
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from .const import DOMAIN
from .protocol import Photo, ProtocolError

PHOTOS = "photos"
TIMELAPSES = "timelapses"
_SUFFIX = ".jpg"
# A JPEG's header says how big it claims to be; refuse to decode one that claims more.
_MAX_PIXELS = 20_000_000


@dataclass(frozen=True, slots=True)
class StoredPhoto:
    """A photo on disk."""

    node_id: str
    camera: str
    id: str
    ts: float
    path: Path

    @property
    def relative(self) -> str:
        """Its path below the integration's media folder (the media source identifier)."""
        return f"{self.node_id}/{PHOTOS}/{self.camera}/{self.path.name}"

    @property
    def media_id(self) -> str:
        return media_id(self.relative)


def media_id(relative: str) -> str:
    """The media source id of a file below the integration's media folder."""
    return f"media-source://{DOMAIN}/{relative}"


def photo_time(photo_id: str) -> float | None:
    """The unix time a photo id starts with (``20261206-041502-123-...``), or None."""
    try:
        moment = dt.datetime.strptime(photo_id[:19], "%Y%m%d-%H%M%S-%f").replace(tzinfo=dt.UTC)
    except ValueError:
        return None
    return moment.timestamp()


def check_photo(payload: bytes, cameras: frozenset[str]) -> Photo:
    """The photo in ``payload`` if it is whole and really an image of one of ``cameras``.

    Raises ProtocolError naming the problem: a bad header, size or checksum (Photo.parse),
    an unknown camera, or bytes that do not decode as a JPEG image.
    """
    photo = Photo.parse(payload)
    if photo.meta.camera not in cameras:
        raise ProtocolError(f"camera {photo.meta.camera!r} is not one this node announced")
    try:
        with Image.open(io.BytesIO(photo.jpeg)) as image:
            if image.format != "JPEG":
                raise ProtocolError(f"photo is a {image.format} image, not a JPEG")
            if image.width * image.height > _MAX_PIXELS:
                raise ProtocolError(f"photo of {image.width}x{image.height} pixels is too large")
            image.load()  # decodes every scan: a truncated or corrupt JPEG fails here
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError, SyntaxError, ValueError) as err:
        if isinstance(err, ProtocolError):
            raise
        raise ProtocolError(f"photo does not decode as an image: {err}") from None
    return photo


class PhotoStore:
    """The integration's folder under the media folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def camera_dir(self, node_id: str, camera: str) -> Path:
        return self.root / node_id / PHOTOS / camera

    def timelapse_dir(self, node_id: str) -> Path:
        return self.root / node_id / TIMELAPSES

    def write(self, node_id: str, photo: Photo) -> StoredPhoto:
        """Write ``photo`` (already checked) atomically: a temporary name, then a rename."""
        folder = self.camera_dir(node_id, photo.meta.camera)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{photo.meta.id}{_SUFFIX}"
        temporary = folder / f".{photo.meta.id}.tmp"
        temporary.write_bytes(photo.jpeg)
        os.replace(temporary, path)
        return StoredPhoto(node_id, photo.meta.camera, photo.meta.id, photo.meta.ts, path)

    def photos(self, node_id: str, camera: str) -> list[StoredPhoto]:
        """A camera's photos, oldest first."""
        folder = self.camera_dir(node_id, camera)
        try:
            names = sorted(name for name in os.listdir(folder) if name.endswith(_SUFFIX))
        except FileNotFoundError:
            return []
        found = []
        for name in names:
            photo_id = name.removesuffix(_SUFFIX)
            if (ts := photo_time(photo_id)) is not None:
                found.append(StoredPhoto(node_id, camera, photo_id, ts, folder / name))
        return found

    def latest(self, node_id: str, camera: str) -> StoredPhoto | None:
        photos = self.photos(node_id, camera)
        return photos[-1] if photos else None

    def find(self, node_id: str, photo_id: str) -> StoredPhoto | None:
        """A photo of any of the node's cameras by its id (a watering report names photos by id)."""
        cameras = self.root / node_id / PHOTOS
        for folder in sorted(cameras.iterdir()) if cameras.is_dir() else []:
            path = folder / f"{photo_id}{_SUFFIX}"
            if path.is_file() and (ts := photo_time(photo_id)) is not None:
                return StoredPhoto(node_id, folder.name, photo_id, ts, path)
        return None

    def prune(self, node_id: str, camera: str, keep_count: int, keep_days: float, now: float) -> int:
        """Delete the camera's photos beyond the newest ``keep_count`` or older than ``keep_days``."""
        photos = self.photos(node_id, camera)
        cutoff = now - keep_days * 86400
        excess = len(photos) - keep_count
        doomed = [photo for index, photo in enumerate(photos) if index < excess or photo.ts < cutoff]
        for photo in doomed:
            photo.path.unlink(missing_ok=True)
        return len(doomed)

    def read(self, path: Path) -> bytes:
        return path.read_bytes()
