"""The bridge's photo parts on their own: the bounded JPEG, the photo buffer's budget, the drawn plant."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from hydro_fleet_protocol import Photo, PhotoReason
from pi_bridge.camera_capture import bounded_jpeg
from pi_bridge.photo_buffer import PhotoBuffer
from pi_bridge.plant_picture import draw_plant, growth


def test_a_jpeg_over_its_byte_limit_gets_a_lower_quality_then_a_smaller_size():
    noise = Image.effect_noise((1600, 1200), 60).convert("RGB")  # noise: the hardest thing to compress
    jpeg, shown = bounded_jpeg(noise, 1280, 960, 90, 60_000)
    assert len(jpeg) <= 60_000
    image = Image.open(io.BytesIO(jpeg))
    assert image.format == "JPEG" and image.size == shown.size
    assert image.width < 1280  # quality alone could not get there: it was scaled down too
    roomy, kept = bounded_jpeg(noise, 1280, 960, 90, 1_000_000)
    assert kept.size == (1280, 960) and len(roomy) > len(jpeg)


def _photo(ts: float, size: int = 10_000) -> Photo:
    return Photo.build("plant", ts, PhotoReason.INTERVAL, b"\xff\xd8\xff" + bytes(size))


def test_the_photo_buffer_drops_the_oldest_past_its_budget_and_counts_them(tmp_path: Path):
    dropped: list[int] = []
    buffer = PhotoBuffer(tmp_path / "photos", 35_000, dropped.append)
    for index in range(5):
        assert buffer.put(_photo(1_800_000_000 + index))
    assert len(buffer) == 3 and buffer.used <= 35_000
    assert buffer.dropped == 2 and sum(dropped) == 2
    name, payload = buffer.oldest()  # type: ignore[misc]
    assert Photo.parse(payload).meta.ts == 1_800_000_002
    buffer.delete(name)
    assert len(buffer) == 2
    # A restart finds what is left, and throws away a write a crash cut short.
    (tmp_path / "photos" / "half.photo.tmp").write_bytes(b"cut")
    again = PhotoBuffer(tmp_path / "photos", 35_000)
    assert len(again) == 2 and not list((tmp_path / "photos").glob("*.tmp"))


def test_the_drawn_plant_grows_and_wilts():
    assert growth(0) < 0.1 < growth(20) < 0.9 < growth(45)
    young = draw_plant(320, 240, seed="pi-1", moisture=60, age_days=2, ts=0)
    grown = draw_plant(320, 240, seed="pi-1", moisture=60, age_days=40, ts=0)
    dry = draw_plant(320, 240, seed="pi-1", moisture=10, age_days=40, ts=0)

    def green(image: Image.Image) -> int:
        return sum(1 for r, g, b in image.getdata() if g > r + 30 and g > b + 30)

    assert green(grown) > 3 * green(young)  # more and bigger leaves
    assert green(dry) < green(grown)  # dry leaves turn yellow
