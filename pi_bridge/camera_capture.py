"""Take one photo and print it: the camera's child process (``python -m pi_bridge.camera_capture``).

The bridge starts this for each photo (camera.py), so Pillow, libcamera and V4L2 buffers
never live in the long-running bridge: its memory between photos stays what it was
without a camera, and a camera driver that hangs or crashes takes only this process
with it. The request (JSON on stdin) names the frame source and the bounds; the answer
(stdout) is one JSON line ``{"width": .., "height": ..}`` then the JPEG. On failure the
exit status is non-zero and the last line of stderr says why.

Frame sources, nothing hand-written below the frame:
- ``picamera2``: a Raspberry Pi camera module through libcamera's Picamera2 (what
  Raspberry Pi OS ships as ``python3-picamera2``).
- ``usb``: a UVC webcam through linuxpy's V4L2 capture, MJPEG frames.
- ``simulated``: the drawn plant of plant_picture.py.
"""

from __future__ import annotations

import io
import json
import sys
from typing import Any

from PIL import Image

# A webcam's first frames come before its auto exposure settles; these are thrown away.
_USB_WARMUP_FRAMES = 5
_PICAMERA_SETTLE_SECONDS = 1.0
_MIN_QUALITY = 40


def frame_picamera2(width: int, height: int) -> Image.Image:
    import time

    from picamera2 import Picamera2

    camera = Picamera2()
    try:
        camera.configure(camera.create_still_configuration(main={"size": (width, height), "format": "RGB888"}))
        camera.start()
        time.sleep(_PICAMERA_SETTLE_SECONDS)  # auto exposure and white balance
        image: Image.Image = camera.capture_image("main")
        return image.convert("RGB")
    finally:
        camera.close()


def frame_usb(device: str, width: int, height: int) -> Image.Image:
    from linuxpy.video.device import Device, VideoCapture

    with Device(device) as camera:
        capture = VideoCapture(camera)
        capture.set_format(width, height, "MJPG")
        with capture:
            for index, frame in enumerate(capture):
                if index >= _USB_WARMUP_FRAMES:
                    data = bytes(frame)
                    break
            else:  # pragma: no cover - a capture stream does not end by itself
                raise RuntimeError("the webcam stopped sending frames")
    image = Image.open(io.BytesIO(data))
    image.load()
    return image.convert("RGB")


def frame_simulated(width: int, height: int, plant: dict[str, Any]) -> Image.Image:
    from .plant_picture import draw_plant

    return draw_plant(
        width,
        height,
        seed=str(plant["seed"]),
        moisture=float(plant["moisture"]),
        age_days=float(plant["age_days"]),
        ts=float(plant["ts"]),
    )


def bounded_jpeg(
    image: Image.Image, width: int, height: int, quality: int, max_bytes: int
) -> tuple[bytes, Image.Image]:
    """``image`` as a JPEG within ``width`` x ``height`` and ``max_bytes``: lower quality first, then smaller."""
    image = image.copy()
    image.thumbnail((width, height))
    while True:
        for q in range(quality, _MIN_QUALITY - 1, -10):
            out = io.BytesIO()
            image.save(out, "JPEG", quality=q, optimize=True)
            if out.tell() <= max_bytes:
                return out.getvalue(), image
        if image.width < 64:
            raise RuntimeError(f"cannot fit a JPEG into {max_bytes} bytes")
        image = image.resize((image.width * 3 // 4, image.height * 3 // 4))


def capture(request: dict[str, Any]) -> tuple[bytes, int, int]:
    width, height = int(request["width"]), int(request["height"])
    source = request["source"]
    if source == "simulated":
        image = frame_simulated(width, height, request["plant"])
    elif source == "picamera2":
        image = frame_picamera2(width, height)
    elif source == "usb":
        image = frame_usb(str(request["device"]), width, height)
    else:
        raise ValueError(f"unknown camera source {source!r}")
    jpeg, shown = bounded_jpeg(image, width, height, int(request["quality"]), int(request["max_bytes"]))
    return jpeg, shown.width, shown.height


def main() -> int:
    request = json.loads(sys.stdin.buffer.read())
    try:
        jpeg, width, height = capture(request)
    except Exception as err:  # whatever the driver raises is the camera's failure, reported to the bridge
        print(f"{type(err).__name__}: {err}", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(json.dumps({"width": width, "height": height}).encode() + b"\n" + jpeg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
