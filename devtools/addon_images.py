"""Draw the add-on's icon.png (128x128) and logo.png (250x100) without any image library.

A water drop over a charging bolt, in two flat colours. Run from the repository root:
``python -m devtools.addon_images``.
"""

from __future__ import annotations

import math
from pathlib import Path
import struct
import zlib

BLUE = (3, 169, 244)
DARK = (1, 87, 155)
YELLOW = (255, 202, 40)
CLEAR = (0, 0, 0, 0)


def png(width: int, height: int, pixel) -> bytes:  # type: ignore[no-untyped-def]
    rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def in_drop(x: float, y: float, cx: float, cy: float, r: float) -> bool:
    """A drop: a circle of radius r at (cx, cy) with a point above it."""
    if math.hypot(x - cx, y - cy) <= r:
        return True
    top = cy - 2.1 * r
    if top <= y <= cy:
        half = r * (y - top) / (cy - top)
        return abs(x - cx) <= half
    return False


def in_bolt(x: float, y: float, cx: float, cy: float, s: float) -> bool:
    """A lightning bolt as two slanted parallelograms."""
    u, v = (x - cx) / s, (y - cy) / s
    upper = -1.0 <= v <= 0.1 and -0.05 - 0.45 * v - 0.35 <= u <= -0.05 - 0.45 * v + 0.1
    lower = -0.1 <= v <= 1.0 and 0.05 - 0.45 * v - 0.1 <= u <= 0.05 - 0.45 * v + 0.35
    return upper or lower


def icon(x: int, y: int) -> tuple[int, ...]:
    if in_bolt(x, y, 64, 80, 26):
        return (*YELLOW, 255)
    if in_drop(x, y, 64, 80, 40):
        return (*BLUE, 255)
    return CLEAR


def logo(x: int, y: int) -> tuple[int, ...]:
    if in_bolt(x, y, 50, 62, 20):
        return (*YELLOW, 255)
    if in_drop(x, y, 50, 62, 32):
        return (*BLUE, 255)
    # Three bars for "fleet", right of the drop.
    for i, height in enumerate((30, 50, 70)):
        left = 110 + i * 45
        if left <= x < left + 30 and 90 - height <= y < 90:
            return (*DARK, 255)
    return CLEAR


def main() -> None:
    out = Path("addon")
    (out / "icon.png").write_bytes(png(128, 128, icon))
    (out / "logo.png").write_bytes(png(250, 100, logo))


if __name__ == "__main__":
    main()
