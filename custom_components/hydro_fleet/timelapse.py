"""Time-lapses: a camera's photos over a period as one animated WebP in the media folder.

Pillow builds it (animated WebP, lossy, looping). Frames are spread evenly over the
period's photos and scaled down before any is kept, so memory stays at ``max_frames``
small frames whatever the period holds. Runs in an executor thread.
"""

from __future__ import annotations

from dataclasses import dataclass
import datetime as dt
from pathlib import Path

from PIL import Image

from .photo_store import TIMELAPSES, PhotoStore, StoredPhoto, media_id
from .protocol import PhotoReason

_QUALITY = 75


@dataclass(frozen=True, slots=True)
class TimelapseRequest:
    """What the ``make_timelapse`` action asks for."""

    node_id: str
    camera: str
    start: float
    end: float
    frames_per_second: float = 8.0
    width: int = 640
    max_frames: int = 150
    include_watering: bool = False


@dataclass(frozen=True, slots=True)
class Timelapse:
    """The file made, and what went into it."""

    path: Path
    media_id: str
    frames: int
    first: float
    last: float


class NoPhotos(Exception):
    """The period holds fewer than two photos of the camera."""


def pick_frames(photos: list[StoredPhoto], max_frames: int) -> list[StoredPhoto]:
    """At most ``max_frames`` photos spread evenly over ``photos`` (first and last included)."""
    if len(photos) <= max_frames:
        return photos
    step = (len(photos) - 1) / (max_frames - 1)
    return [photos[round(index * step)] for index in range(max_frames)]


def make_timelapse(store: PhotoStore, request: TimelapseRequest) -> Timelapse:
    """Build the time-lapse file; raises NoPhotos if there is nothing to animate."""
    photos = [
        photo
        for photo in store.photos(request.node_id, request.camera)
        if request.start <= photo.ts <= request.end
        and (request.include_watering or photo.id.endswith(str(PhotoReason.INTERVAL)))
    ]
    chosen = pick_frames(photos, request.max_frames)
    frames = []
    for photo in chosen:
        try:
            with Image.open(photo.path) as image:
                image.draft("RGB", (request.width, request.width))  # JPEG: decode at a reduced scale
                frame = image.convert("RGB")
        except OSError:  # pruned meanwhile
            continue
        if frame.width != request.width:
            frame = frame.resize((request.width, round(frame.height * request.width / frame.width)))
        frames.append(frame)
    if len(frames) < 2:
        raise NoPhotos(f"{len(frames)} photo(s) of {request.node_id}/{request.camera} in that period")
    folder = store.timelapse_dir(request.node_id)
    folder.mkdir(parents=True, exist_ok=True)
    first = dt.datetime.fromtimestamp(chosen[0].ts, dt.UTC)
    last = dt.datetime.fromtimestamp(chosen[-1].ts, dt.UTC)
    name = f"{request.camera}_{first:%Y%m%d-%H%M}_{last:%Y%m%d-%H%M}.webp"
    path = folder / name
    temporary = folder / f".{name}.tmp"
    frames[0].save(
        temporary,
        "WEBP",
        save_all=True,
        append_images=frames[1:],
        duration=round(1000 / request.frames_per_second),
        loop=0,
        quality=_QUALITY,
    )
    temporary.replace(path)
    return Timelapse(
        path=path,
        media_id=media_id(f"{request.node_id}/{TIMELAPSES}/{name}"),
        frames=len(frames),
        first=chosen[0].ts,
        last=chosen[-1].ts,
    )
