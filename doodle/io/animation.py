"""Animations written as bytes: frames of one size to a looping GIF or WebP, or an MP4.

Both of doodle's animations end here: a painting forming (``--animation`` of one
painting: :class:`doodle.run.reporting.Animation`) and a sequence's frames.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def encode(frames: Sequence[np.ndarray], suffix: str, durations: Sequence[int]) -> bytes:
    """(H, W, 3) uint8 frames of one size -> the bytes of an endlessly looping ".gif" or
    ".webp" showing frame i for ``durations[i]`` milliseconds, or of an ".mp4" at the
    first duration's frame rate (the imageio-ffmpeg package)."""
    import imageio.v3 as iio

    stack = np.stack([np.asarray(f, np.uint8) for f in frames])
    if suffix == ".mp4":
        return iio.imwrite("<bytes>", stack, extension=".mp4", fps=1000 / durations[0])
    # Pillow takes a list of durations only for several frames (one frame: a number).
    duration = list(durations) if len(frames) > 1 else durations[0]
    return iio.imwrite("<bytes>", stack, extension=suffix, plugin="pillow", duration=duration, loop=0)
