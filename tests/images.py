"""Tiny synthetic inputs written by the tests themselves."""
import numpy as np

RED, BLUE = (255, 0, 0), (0, 0, 255)


def two_textures(size=48, seed=0):
    """A style of two textures side by side and its two-colour map.

    Left: warm horizontal stripes (label red); right: cool dots (label blue).
    Returns (style (H, W, 3) uint8, map (H, W, 3) uint8).
    """
    rng = np.random.default_rng(seed)
    h = w = size
    style = np.zeros((h, w, 3), np.float32)
    y, x = np.mgrid[0:h, 0:w]
    warm = np.stack([200 + 40 * np.sin(y * 1.3), 90 + 40 * np.sin(y * 1.3), 40 + 0 * y], -1)
    cool = np.stack([30 + 0 * x, 80 + 60 * ((x % 4 < 2) & (y % 4 < 2)), 200 + 40 * np.cos(x * 0.9)], -1)
    left = x < w // 2
    style[left] = warm[left]
    style[~left] = cool[~left]
    style += rng.normal(0, 8, style.shape)
    sem = np.zeros((h, w, 3), np.uint8)
    sem[left] = RED
    sem[~left] = BLUE
    return np.clip(style, 0, 255).astype(np.uint8), sem


def swapped_doodle(size=48):
    """A doodle whose left half is blue and right half red: the style's layout swapped."""
    sem = np.zeros((size, size, 3), np.uint8)
    sem[:, : size // 2] = BLUE
    sem[:, size // 2:] = RED
    return sem


def write_inputs(folder, doodle=None):
    """Write the two-texture style (40 px), its map beside it, and a doodle map into
    ``folder`` as style.png, style_sem.png and doodle_sem.png (default doodle: the
    32 px :func:`swapped_doodle`). Returns ``folder``."""
    import imageio.v3 as iio

    style, sem = two_textures(40)
    iio.imwrite(folder / "style.png", style)
    iio.imwrite(folder / "style_sem.png", sem)
    iio.imwrite(folder / "doodle_sem.png", swapped_doodle(32) if doodle is None else doodle)
    return folder


def flat_and_stripes(size=48, seed=0):
    """A style of two equally common, clearly different textures and no map: a flat
    beige (left half) and dark green diagonal stripes (right half).

    The flat half is what nearest-neighbour patch losses collapse onto from a light
    start (the smoothest patch matches everything), the stripes from a dark one.
    Returns (style (H, W, 3) uint8, beige mean (3,), green mean (3,)).
    """
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    flat = np.stack([215 + 0 * x, 200 + 0 * x, 170 + 0 * x], -1) + rng.normal(0, 3, (size, size, 3))
    stripes = np.where(((x + y) // 3) % 2 == 0, 1.0, 0.0)[..., None] * np.array([40, 120, 50]) + np.array([10, 50, 20])
    style = np.clip(np.where((x < size // 2)[..., None], flat, stripes), 0, 255).astype(np.uint8)
    half = size // 2
    return style, style[:, :half].reshape(-1, 3).mean(0), style[:, half:].reshape(-1, 3).mean(0)


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, body) of each chunk of a PNG."""
    import struct

    chunks, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at:at + 4])
        chunks.append((data[at + 4:at + 8], data[at + 8:at + 8 + length]))
        at += 12 + length
    return chunks
