"""``--simulate``'s camera: a drawn plant whose look follows the simulated pot.

The plant grows over (simulated) days: the stem gets taller and puts out more leaves,
on a logistic curve that levels off after about six weeks. Dry soil is pale and the
leaves droop and yellow; wet soil is dark and the leaves stand up green. Every node's
plant is a little different (seeded by the node id). Pillow draws it; this module is
only imported in the capture child process (camera_capture.py), never by the bridge.
"""

from __future__ import annotations

import datetime as dt
import math
import random

from PIL import Image, ImageDraw, ImageFilter


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    t = min(1.0, max(0.0, t))
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def growth(age_days: float) -> float:
    """0 (a seedling) .. 1 (grown), logistic around day 20."""
    return 1.0 / (1.0 + math.exp(-(age_days - 20.0) / 5.0))


def draw_plant(width: int, height: int, *, seed: str, moisture: float, age_days: float, ts: float) -> Image.Image:
    """One frame: pot, soil, stem and leaves, with the time printed in a corner."""
    rng = random.Random(seed)
    wet = min(1.0, max(0.0, (moisture - 15.0) / 50.0))  # 15 % looks bone dry, 65 % soaked
    size = growth(max(0.0, age_days))
    image = Image.new("RGB", (width, height), (0, 0, 0))
    draw = ImageDraw.Draw(image)
    # Wall and table, lit a little differently per node.
    wall = _mix((226, 221, 206), (190, 205, 220), rng.random())
    for y in range(height):
        draw.line([(0, y), (width, y)], fill=_mix(wall, (150, 150, 140), y / height * 0.6))
    table_y = int(height * 0.82)
    draw.rectangle([0, table_y, width, height], fill=(120, 92, 64))
    # The pot.
    cx = width // 2 + int((rng.random() - 0.5) * width * 0.1)
    pot_w, pot_h = int(width * 0.28), int(height * 0.22)
    pot_top = table_y - pot_h
    half, foot = pot_w // 2, pot_w // 3
    pot = [(cx - half, pot_top), (cx + half, pot_top), (cx + foot, table_y), (cx - foot, table_y)]
    draw.polygon(pot, fill=(176, 86, 52))
    draw.rectangle([cx - pot_w // 2 - 6, pot_top - 14, cx + pot_w // 2 + 6, pot_top], fill=(190, 98, 60))
    soil = _mix((170, 140, 100), (62, 42, 28), wet)
    draw.ellipse([cx - pot_w // 2, pot_top - 24, cx + pot_w // 2, pot_top + 6], fill=soil)
    # Stem and leaves.
    stem_h = int(height * (0.06 + 0.5 * size))
    droop = (1.0 - wet) * 0.9  # radians the leaves hang down when dry
    leaf_colour = _mix((176, 170, 60), (46, 140, 52), wet)
    top = pot_top - 10 - stem_h
    draw.line([(cx, pot_top - 10), (cx, top)], fill=(70, 120, 50), width=max(3, int(width * 0.008 * (0.5 + size))))
    leaves = 2 + int(10 * size)
    for index in range(leaves):
        along = (index + 1) / (leaves + 1)
        y = pot_top - 10 - int(stem_h * along)
        side = -1 if index % 2 else 1
        length = width * (0.05 + 0.12 * size) * (1.1 - along * 0.5) * (0.85 + 0.3 * rng.random())
        angle = -0.5 + droop + rng.uniform(-0.15, 0.15)  # up from horizontal when wet
        tip = (cx + side * length * math.cos(angle), y + length * math.sin(angle))
        mid = ((cx + tip[0]) / 2, (y + tip[1]) / 2)
        half = length * 0.22
        normal = (-math.sin(angle) * half, math.cos(angle) * half * side)
        draw.polygon(
            [(cx, y), (mid[0] + normal[0], mid[1] - normal[1]), tip, (mid[0] - normal[0], mid[1] + normal[1])],
            fill=_mix(leaf_colour, (30, 100, 40), rng.random() * 0.3),
        )
    # A photo is never perfectly sharp, and the camera's sensor adds a little noise.
    image = image.filter(ImageFilter.GaussianBlur(radius=max(0.6, width / 1200)))
    noise = Image.effect_noise((width, height), 12).convert("RGB")
    image = Image.blend(image, noise, 0.05)
    stamp = dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    label = f"{seed}  day {age_days:.1f}  moisture {moisture:.0f} %  {stamp}"
    ImageDraw.Draw(image).text((12, 10), label, fill=(40, 40, 40))
    return image
