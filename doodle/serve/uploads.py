"""What the page sends, read with bounds: bytes, then pixels, then the same checked
decoder the command line reads files with (:func:`doodle.io.imaging.decode_image`).

Images travel as base64 data inside JSON (``data:image/png;base64,…`` or bare
base64), so no form parser is needed. Every refusal is an
:class:`~doodle.errors.InputError` whose text the page shows as it is.
"""
from __future__ import annotations

import base64
import binascii
import io
import json
from typing import Any, Optional

import numpy as np

from doodle.io import imaging, maps
from doodle.errors import InputError

MAX_BODY = 24 * 1024 * 1024  # bytes of one request's body (a few images as base64)
MAX_PIXELS = 4096 * 4096  # of one image, read from its header before it is decoded
MAX_SIDE = 8192


class TooLarge(InputError):
    """A body or an image over the bounds (HTTP 413)."""


def parse_json(body: bytes) -> dict:
    """The request's JSON object; InputError for anything else."""
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError("the request is not JSON.", "Reload the page.") from None
    if not isinstance(value, dict):
        raise InputError("the request is not a JSON object.", "Reload the page.")
    return value


def image_bytes(text: Any, what: str) -> bytes:
    """The bytes of a base64 image (a data URL or bare base64)."""
    if not isinstance(text, str) or not text:
        raise InputError(f"the {what} is missing.", f"Choose a {what} file.")
    if text.startswith("data:"):
        text = text.partition(",")[2]
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"the {what} did not arrive whole (bad base64).", "Send it again.") from None


def _dimensions(data: bytes, what: str) -> Optional[tuple[int, int]]:
    """(width, height) from the image's header, None where Pillow cannot read it."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Image.DecompressionBombError:  # Pillow's own bound, far above ours
        raise TooLarge(f"the {what} has more pixels than this server takes ({MAX_PIXELS // 1_000_000} "
                       "megapixels).", "Scale it down first.") from None
    except Exception:  # not Pillow's: decode_image gives the one message for it
        return None


def read_image(text: Any, what: str) -> np.ndarray:
    """A base64 image -> (H, W, 3) uint8, refused when over :data:`MAX_PIXELS` or
    unreadable (truncated, not an image), with one line saying which."""
    data = image_bytes(text, what)
    size = _dimensions(data, what)
    if size is not None and (size[0] * size[1] > MAX_PIXELS or max(size) > MAX_SIDE):
        raise TooLarge(f"the {what} is {size[0]}×{size[1]} pixels, more than this server takes "
                       f"({MAX_PIXELS // 1_000_000} megapixels, {MAX_SIDE} px a side).", "Scale it down first.")
    return imaging.decode_image(data, f"the {what}")


def check_doodle(doodle: np.ndarray, style_map: np.ndarray) -> None:
    """InputError unless every colour of the doodle is one of the style map's
    (:func:`doodle.io.maps.check`, as ``doodle check`` does), naming the foreign ones."""
    report = maps.check(style_map, doodle)
    if report.missing:
        named = ", ".join(f"{m.colour} ({100 * m.fraction:.1f}%)" for m in report.missing[:4])
        raise InputError(f"the doodle has colours the style's map lacks: {named}.",
                         "Draw with the legend's colours only, or pick the style the doodle was drawn for.")


def optional_int(value: Any, what: str, low: int, high: int) -> Optional[int]:
    """A whole number in [low, high], or None for null / ""."""
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InputError(f"the {what} {str(value)[:20]!r} is not a whole number.") from None
    if not low <= number <= high:
        raise InputError(f"the {what} must be between {low} and {high}, not {number}.")
    return number
