"""Named text fields inside image files: how each format carries them.

- PNG: one ``tEXt`` chunk per field (key: the field's name), so a reader sees each
  field on its own and a field can be dropped without touching the others.
- JPEG, WebP, TIFF: one Exif ``ImageDescription`` (tag 270) holding every field as
  a JSON object; these formats have one free-text slot, not named ones.
- GIF: the same JSON object in the comment extension.
- BMP: none; nothing is written.

Writing goes through imageio's Pillow plugin, which hands these keyword arguments to
Pillow's ``Image.save``: imageio has no text-field API of its own (its ``text=`` is
silently ignored), so the chunk and Exif objects are Pillow's.
Text is ASCII (callers encode JSON with ``ensure_ascii``): tEXt is Latin-1.
"""
from __future__ import annotations

import io
import json
from typing import Any, Mapping

IMAGE_DESCRIPTION = 270  # the Exif / TIFF tag
EXIF_FORMATS = (".jpg", ".jpeg", ".webp", ".tif", ".tiff")


def save_arguments(suffix: str, fields: Mapping[str, str]) -> dict[str, Any]:
    """The Pillow ``save`` keyword arguments that embed ``fields`` in a ``suffix`` image
    ({} for none, or for a format without a text field)."""
    from PIL import Image, PngImagePlugin

    suffix = suffix.lower()
    if not fields:
        return {}
    if suffix == ".png":
        info = PngImagePlugin.PngInfo()
        for key, text in fields.items():
            info.add_text(key, text)
        return {"pnginfo": info}
    blob = json.dumps(dict(fields), ensure_ascii=True, sort_keys=True)
    if suffix in EXIF_FORMATS:
        exif = Image.Exif()
        exif[IMAGE_DESCRIPTION] = blob
        return {"exif": exif.tobytes()}
    if suffix == ".gif":
        return {"comment": blob}
    return {}


def read_fields(data: bytes) -> dict[str, str]:
    """The text fields of an image's bytes ({} when it has none). ValueError when the
    bytes are no image Pillow can open."""
    from PIL import Image

    try:
        image = Image.open(io.BytesIO(data))  # the header and text chunks before the pixels
    except Exception as e:  # Pillow raises UnidentifiedImageError, OSError, SyntaxError…
        raise ValueError(str(e)) from None
    with image:
        if image.format == "PNG":
            image.load()  # text chunks after the pixels are read only now
            return {str(k): str(v) for k, v in getattr(image, "text", {}).items()}
        blob = image.info.get("comment")
        if blob is None:
            try:
                blob = image.getexif().get(IMAGE_DESCRIPTION)
            except Exception:  # a broken Exif block: no fields
                blob = None
    if isinstance(blob, bytes):
        blob = blob.decode("latin-1")
    try:
        fields = json.loads(blob) if blob else {}
    except ValueError:  # someone else's description or comment
        return {}
    return {str(k): str(v) for k, v in fields.items()} if isinstance(fields, dict) else {}
