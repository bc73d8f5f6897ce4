"""Two days of plant photos for the demo, delivered through the bridge's own photo buffer.

Like devtools/history.py does for samples: before a simulated node starts, its photo
buffer (``<state_dir>/photos``) is filled with a photo every few hours of the last two
days, drawn by the same code as its live camera (``pi_bridge.plant_picture``), from a
plant "planted" when the first of them was taken and growing ``growth_speed`` simulated
days per real day. The bridge sends them when it starts, oldest first, as after an
outage; Home Assistant stores them, and the demo makes a time-lapse of them.
"""

from __future__ import annotations

from pathlib import Path
import time
from typing import Any

from hydro_fleet_protocol import Photo, PhotoReason
from pi_bridge.camera_capture import bounded_jpeg
from pi_bridge.photo_buffer import PhotoBuffer
from pi_bridge.plant_picture import draw_plant
from pi_bridge.simulation import PlantModel
from pi_bridge.store import write_json

WIDTH, HEIGHT = 640, 480
# Simulated days per real day in the demo: two real days of photos show three weeks of growth.
GROWTH_SPEED = 10.0


def queue_photos(node_id: str, state_dir: Path, hours: float = 48.0, every: float = 2.0) -> int:
    """Buffer a photo every ``every`` hours of the last ``hours``; returns how many."""
    end = time.time()
    start = end - hours * 3600.0
    write_json(state_dir / "plant.json", {"planted": start})
    plant = PlantModel(seed=node_id)
    buffer = PhotoBuffer(state_dir / "photos", 200_000_000)
    count, ts = 0, start
    while ts < end:
        # The pot dries out between waterings, as in devtools/history.py.
        plant.step(every * 3600.0, 300.0 if plant.moisture_pct < 30.0 else 0.0)
        age = (ts - start) / 86400.0 * GROWTH_SPEED
        image = draw_plant(WIDTH, HEIGHT, seed=node_id, moisture=plant.moisture_pct, age_days=age, ts=ts)
        jpeg, shown = bounded_jpeg(image, WIDTH, HEIGHT, 85, 200_000)
        buffer.put(Photo.build("plant", ts, PhotoReason.INTERVAL, jpeg, shown.width, shown.height))
        count += 1
        ts += every * 3600.0
    return count


def make_timelapses(hass: Any, nodes: list[str], expected: int, timeout: float = 600.0) -> list[str]:
    """Once ``expected`` photos of each node are in Home Assistant, make a time-lapse of each.

    ``hass`` is a running devtools.homeassistant.HomeAssistant; returns a line per node saying
    where the time-lapse is (Media > Hydro Fleet > <node> > timelapses).
    """
    media = Path(hass.config_dir) / "media" / "hydro_fleet"
    lines = []
    for node in nodes:
        folder = media / node / "photos" / "plant"
        hass.wait_for(
            lambda f=folder: f.is_dir() and len(list(f.glob("*.jpg"))) >= expected,
            timeout,
            f"{expected} photos of {node} in Home Assistant",
            interval=2.0,
        )
        entity = f"image.{node.replace('-', '_')}_plant_photo"
        response = hass.post(
            "/api/services/hydro_fleet/make_timelapse?return_response",
            {"entity_id": entity, "start": _iso(time.time() - 3 * 86400)},
        )
        made = response["service_response"][entity]
        lines.append(f"{node}: {made['frames']} frames, {made['media_content_id']}")
    return lines


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(ts))
