#!/usr/bin/env python3
"""Draws the installed page's icons (assets/icons/app-*.png) from the logo's shapes:
an amber diamond with the two white bars of a pause sign. Run from the repository
root after changing the logo: `python3 packaging/icons.py` (needs Pillow)."""

from PIL import Image, ImageDraw

AMBER = (217, 119, 6, 255)  # the logo's #d97706
WHITE = (255, 255, 255, 255)
SCALE = 4  # drawn large, then reduced: smooth edges


def logo(draw, size, centre, radius):
    """The logo in a square of 24 units whose diamond reaches `radius` from `centre`."""
    unit = radius / 10.0  # the diamond spans 2..22 of 24 units: 10 units from the middle
    cx, cy = centre
    draw.polygon(
        [(cx, cy - radius), (cx + radius, cy), (cx, cy + radius), (cx - radius, cy)],
        fill=AMBER,
    )
    width = 2.2 * unit
    for x in (-2.5, 2.5):
        left = cx + x * unit - width / 2
        top, bottom = cy - 3.5 * unit, cy + 3.5 * unit
        draw.rounded_rectangle(
            [left, top - width / 2, left + width, bottom + width / 2],
            radius=width / 2,
            fill=WHITE,
        )


def icon(size, maskable):
    big = size * SCALE
    if maskable:
        # Full bleed; the logo stays inside the safe zone (a circle of 80 %).
        image = Image.new("RGBA", (big, big), (28, 29, 31, 255))
        radius = big * 0.36
    else:
        image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
        radius = big * 10 / 24 * 1.15
    logo(ImageDraw.Draw(image), big, (big / 2, big / 2), radius)
    return image.resize((size, size), Image.LANCZOS)


if __name__ == "__main__":
    for size in (192, 512):
        icon(size, False).save(f"assets/icons/app-{size}.png", optimize=True)
    icon(512, True).save("assets/icons/app-maskable-512.png", optimize=True)
