"""A tile repeated 2×2, to show whether it repeats without a seam (``--seamless``).

    python3 samples/gallery/tile.py TILE.png OUT.png

Only Pillow, no doodle import: the gallery shows what the CLI wrote.
"""
import sys

from PIL import Image


def main(tile: str, out: str) -> None:
    im = Image.open(tile).convert("RGB")
    sheet = Image.new("RGB", (2 * im.width, 2 * im.height))
    for y in (0, im.height):
        for x in (0, im.width):
            sheet.paste(im, (x, y))
    sheet.save(out, optimize=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
