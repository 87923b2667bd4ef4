#!/usr/bin/env python3
"""The seed's own render flow with Pillow, as a benchmark reference.

Renders N designs the way storage-layer.md's "Image Rendering" section does (Image.new 600x600,
ImageDraw.text centred in DejaVu Sans Bold 48, PNG compress_level 6, thumbnail 200x200 LANCZOS)
and, with --store, writes preview.png and thumbnail.png under OUT/designs/<uuid>/ as the seed's
local storage does. Prints one JSON line: {"n", "seconds", "preview_bytes", "thumbnail_bytes"}.
"""
import argparse, io, json, os, time, uuid
from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
COLORS = ["#FF0000", "#0055AA", "#FFFFFF", "#222222", "#33CC66"]

def render(text, color, font):
    image = Image.new("RGB", (600, 600), color=color)
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    x = (600 - (right - left)) / 2 - left
    y = (600 - (bottom - top)) / 2 - top
    r, g, b = Image.new("RGB", (1, 1), color).getpixel((0, 0))
    fill = "#000000" if (0.299 * r + 0.587 * g + 0.114 * b) > 150 else "#FFFFFF"
    draw.text((x, y), text, fill=fill, font=font)
    preview = io.BytesIO()
    image.save(preview, format="PNG", compress_level=6)
    image.thumbnail((200, 200), Image.Resampling.LANCZOS)
    thumb = io.BytesIO()
    image.save(thumb, format="PNG", compress_level=6)
    return preview.getvalue(), thumb.getvalue()

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--store", metavar="OUT")
    a = p.parse_args()
    font = ImageFont.truetype(FONT, 48)
    render("warm up", "#FF0000", font)
    pb = tb = 0
    start = time.perf_counter()
    for i in range(a.n):
        preview, thumb = render(f"Custom Text {i}", COLORS[i % len(COLORS)], font)
        pb += len(preview); tb += len(thumb)
        if a.store:
            folder = os.path.join(a.store, "designs", str(uuid.uuid4()))
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, "preview.png"), "wb") as f:
                f.write(preview)
            with open(os.path.join(folder, "thumbnail.png"), "wb") as f:
                f.write(thumb)
    seconds = time.perf_counter() - start
    print(json.dumps({"n": a.n, "seconds": seconds, "preview_bytes": pb / a.n, "thumbnail_bytes": tb / a.n}))

main()
