"""Draws the integration's brand icon: a water drop with a leaf, on a transparent square.

    python -m devtools.brand_icon   # writes custom_components/hydro_fleet/brand/icon.png and icon@2x.png

HACS and Home Assistant 2026.3+ read a custom integration's icon from brand/ inside it.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

BRAND = Path(__file__).parents[1] / "custom_components" / "hydro_fleet" / "brand"
WATER = (3, 155, 229, 255)
LEAF = (67, 160, 71, 255)


def draw(size: int) -> Image.Image:
    # Drawn at 4x and scaled down, for smooth edges without an anti-aliasing library.
    big = size * 4
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    u = big / 32
    # The drop: a circle with a triangle on top.
    pen.ellipse((6 * u, 11 * u, 26 * u, 31 * u), fill=WATER)
    pen.polygon([(16 * u, 1 * u), (7.3 * u, 17 * u), (24.7 * u, 17 * u)], fill=WATER)
    # The leaf: an ellipse turned 45 degrees about the drop's centre, with a white vein.
    leaf = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    ImageDraw.Draw(leaf).ellipse((12.5 * u, 16 * u, 19.5 * u, 28 * u), fill=LEAF)
    image.alpha_composite(leaf.rotate(-45, center=(16 * u, 22 * u), resample=Image.Resampling.BICUBIC))
    pen.line((13.2 * u, 24.8 * u, 18.8 * u, 19.2 * u), fill=(255, 255, 255, 255), width=max(1, int(u * 0.8)))
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    BRAND.mkdir(parents=True, exist_ok=True)
    draw(256).save(BRAND / "icon.png", optimize=True)
    draw(512).save(BRAND / "icon@2x.png", optimize=True)


if __name__ == "__main__":
    main()
