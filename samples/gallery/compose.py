"""Side-by-side gallery images: inputs | painting, as small JPEGs (quality 85).

    python3 samples/gallery/compose.py [--height N] OUT.jpg INPUT.png [INPUT.png ...] PAINTING.png

Every image is scaled to the first one's height (or N px) and laid side by side with
a 4 px white gap. Only Pillow, no doodle import: the gallery shows what the CLI wrote.
"""
import sys

from PIL import Image

GAP = 4


def main(out: str, *paths: str, height: int = 0) -> None:
    images = [Image.open(p).convert("RGB") for p in paths]
    h = height or images[0].height
    images = [im if im.height == h else im.resize((round(im.width * h / im.height), h), Image.LANCZOS)
              for im in images]
    sheet = Image.new("RGB", (sum(im.width for im in images) + GAP * (len(images) - 1), h), "white")
    x = 0
    for im in images:
        sheet.paste(im, (x, 0))
        x += im.width + GAP
    sheet.save(out, quality=85, optimize=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--height"]:
        main(*args[2:], height=int(args[1]))
    else:
        main(*args)
