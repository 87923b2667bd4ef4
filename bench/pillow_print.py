#!/usr/bin/env python3
"""The baseline for print.png (issue #12): Pillow drawing the same text at the t-shirt's print
size, 3600x4800 RGBA on a transparent background, and saving a PNG (compress_level 6, as ours),
with 300 DPI recorded. The lines, font file and size are given (our layout's), so both draw the
same picture. Prints one JSON line: {"n", "seconds", "bytes"}.
"""
import argparse, io, json, time
from PIL import Image, ImageDraw, ImageFont

parser = argparse.ArgumentParser()
parser.add_argument("--n", type=int, default=5)
parser.add_argument("--font", required=True)
parser.add_argument("--size", type=int, required=True)
parser.add_argument("--lines", required=True, help="the lines, joined with \\n")
parser.add_argument("--width", type=int, default=3600)
parser.add_argument("--height", type=int, default=4800)
args = parser.parse_args()

font = ImageFont.truetype(args.font, args.size)

def render():
    image = Image.new("RGBA", (args.width, args.height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.multiline_text((args.width / 2, args.height / 2), args.lines, font=font, fill=(255, 215, 0, 255), anchor="mm", align="center")
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=6, dpi=(300, 300))
    return out.getvalue()

render()
size = 0
start = time.perf_counter()
for _ in range(args.n):
    size = len(render())
seconds = time.perf_counter() - start
print(json.dumps({"n": args.n, "seconds": seconds, "bytes": size}))
