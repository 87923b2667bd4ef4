#!/usr/bin/env python3
"""The seed's own render flow with Pillow, as a benchmark reference.

Renders N designs the way storage-layer.md's "Image Rendering" section does (Image.new 600x600,
ImageDraw.text centred in DejaVu Sans Bold, PNG compress_level 6, thumbnail 200x200 LANCZOS)
and, with --store, writes preview.png and thumbnail.png under OUT/designs/<uuid>/ as the seed's
local storage does. Prints one JSON line: {"n", "seconds", "preview_bytes", "thumbnail_bytes"}.

The seed draws at a fixed 48 px. Ours draws text as large as fits (issue 9.8: up to 200 px,
word-wrapped inside a 40 px margin), which puts several times the ink on the canvas; so that
both flows make the same picture, this one fits the same way (--fit, the default): measure
once at 48 px, predict the size, wrap words greedily, shrink on a miss, sizes on the same 5 %
ladder (fonts cached per size, as Pango caches its glyphs). --fixed gives the seed's 48 px.
"""
import argparse, io, json, math, os, time, uuid
from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
COLORS = ["#FF0000", "#0055AA", "#FFFFFF", "#222222", "#33CC66"]

MAX_SIZE, MARGIN, BOX = 200, 40, 520
_fonts = {}

def font_at(size):
    if size not in _fonts:
        _fonts[size] = ImageFont.truetype(FONT, size)
    return _fonts[size]

def quantize(size):
    step = math.log(1.05)
    return max(1, math.floor(size)) if size <= 20 else math.floor(math.exp(step * math.floor(math.log(size) / step + 1e-9)))

def wrap(text, font):
    lines, line = [], ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if not line or font.getlength(candidate) <= BOX:
            line = candidate
        else:
            lines.append(line)
            line = word
    lines.append(line)
    return "\n".join(lines)

def fit(text, draw):
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font_at(48))
    w, h = right - left, bottom - top
    unwrapped = min(BOX / w, BOX / h)
    a = w * h / BOX
    wrapped = max(unwrapped, (-h + math.sqrt(h * h + 4 * a * BOX)) / (2 * a))
    size = min(MAX_SIZE, quantize(48 * wrapped))
    while True:
        font = font_at(size)
        lines = wrap(text, font)
        left, top, right, bottom = draw.multiline_textbbox((0, 0), lines, font=font, align="center")
        if (right - left <= BOX and bottom - top <= BOX) or size <= 8:
            return lines, font
        size = quantize(size * min(1 - 1e-6, math.sqrt(BOX / (bottom - top)), BOX / (right - left)))

def render(text, color, font):
    image = Image.new("RGB", (600, 600), color=color)
    draw = ImageDraw.Draw(image)
    if font is None:
        text, font = fit(text, draw)
    left, top, right, bottom = draw.multiline_textbbox((0, 0), text, font=font, align="center")
    x = (600 - (right - left)) / 2 - left
    y = (600 - (bottom - top)) / 2 - top
    r, g, b = Image.new("RGB", (1, 1), color).getpixel((0, 0))
    fill = "#000000" if (0.299 * r + 0.587 * g + 0.114 * b) > 150 else "#FFFFFF"
    draw.multiline_text((x, y), text, fill=fill, font=font, align="center")
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
    p.add_argument("--fixed", action="store_true", help="the seed's fixed 48 px instead of fitting")
    a = p.parse_args()
    font = ImageFont.truetype(FONT, 48) if a.fixed else None
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
