"""Image and semantic-map I/O: the only module of the engine that touches files.

Images come back as (H, W, 3) uint8 RGB whatever their mode on disk (RGB, RGBA,
L, LA, palette, 16-bit), so maps drawn in different editors compare equal (the
reference crashed on an RGB style map with an RGBA doodle, neural-doodle#11).
"""
from __future__ import annotations

import errno
import io
import os
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Optional

from doodle.errors import InputError, WriteError

if TYPE_CHECKING:
    import numpy as np

# numpy and imageio are imported where an image is decoded or encoded, not with the
# module: `doodle info` reads a painting's bytes and text through here and needs neither.

# Formats we write, by extension; imageio picks the plugin.
WRITABLE = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".gif")


def to_rgb8(array: np.ndarray) -> np.ndarray:
    """Any decoded image array -> (H, W, 3) uint8 RGB.

    L and LA are repeated to three channels; alpha is dropped (a map's colours are
    its meaning, transparency is not); 16-bit and float images are rescaled.
    """
    import numpy as np

    a = np.asarray(array)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3:
        raise ValueError(f"expected an image, got an array of shape {a.shape}")
    if a.dtype == np.uint16:
        a = (a.astype(np.float32) / 257.0).round()
    elif a.dtype.kind == "f":
        scale = 255.0 if a.max(initial=0.0) <= 1.0 else 1.0
        a = a.astype(np.float32) * scale
    elif a.dtype == bool:
        a = a.astype(np.float32) * 255.0
    channels = a.shape[2]
    if channels in (1, 2):
        a = np.repeat(a[..., :1], 3, axis=2)
    elif channels >= 3:
        a = a[..., :3]
    return np.clip(a, 0, 255).astype(np.uint8)


def to_uint8(image) -> np.ndarray:
    """(H, W, 3) float in [0, 255] (numpy or device array) -> uint8, rounded."""
    import numpy as np

    return np.clip(np.asarray(image, np.float32), 0, 255).round().astype(np.uint8)


def read_image(path: str | os.PathLike, what: str = "image") -> np.ndarray:
    """Read ``path`` as (H, W, 3) uint8 RGB; InputError naming the file otherwise."""
    return decode_image(read_file(path, what), f"{what} {str(path)!r}")


def read_file(path: str | os.PathLike, what: str = "image") -> bytes:
    """The bytes of the regular file ``path``; InputError naming it otherwise."""
    p = Path(path)
    _check_name(p, what)
    kind = _kind(p, what)
    if kind == "missing":
        raise InputError(f"{what} {str(p)!r} does not exist.", "Check the path.")
    if kind == "folder":
        raise InputError(f"{what} {str(p)!r} is a folder, not an image.", "Give an image file.")
    if kind == "other":  # reading a named pipe blocks until a writer comes, maybe forever
        raise InputError(f"{what} {str(p)!r} is not a regular file (a pipe or a device).",
                         "Save the image to a file and give that.")
    try:
        return p.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read {what} {str(p)!r}: {e.strerror}.") from None


def decode_image(data: bytes, name: str = "image") -> np.ndarray:
    """Decode image bytes to (H, W, 3) uint8 RGB, with palette images expanded."""
    import imageio.v3 as iio

    try:
        array = _decode_cmyk(data)
        if array is None:
            array = iio.imread(io.BytesIO(data), index=0, mode=None)
    except Exception:  # imageio raises many types for bad data; all mean the same here.
        raise InputError(
            f"{name} is not a readable image (corrupt or unsupported format).",
            "Use a PNG, JPEG, WebP or TIFF file.",
        ) from None
    try:
        return to_rgb8(array)
    except ValueError as e:
        raise InputError(f"{name}: {e}.") from None


def _decode_cmyk(data: bytes) -> "np.ndarray | None":
    """A CMYK image (a print-ready JPEG or TIFF) as (H, W, 3) uint8 RGB; None for
    any other image.

    imageio hands CMYK over as four channels, which :func:`to_rgb8` would read as
    R, G, B (a sky #4aa8ff became #b55700). Pillow converts: through the embedded ICC
    profile to sRGB where there is one and littleCMS is available, else with its plain
    formula (exact for the ink Pillow itself writes, approximate for a press profile).
    """
    import numpy as np
    from PIL import Image

    try:
        image = Image.open(io.BytesIO(data))  # reads the header only
    except Exception:  # not Pillow's to read: imageio may have another plugin
        return None
    with image:
        if image.mode != "CMYK":
            return None
        image.load()
        profile = image.info.get("icc_profile")
        if profile:
            try:
                from PIL import ImageCms

                rgb = ImageCms.profileToProfile(image, ImageCms.ImageCmsProfile(io.BytesIO(profile)),
                                                ImageCms.createProfile("sRGB"), outputMode="RGB")
                if rgb is not None:
                    return np.asarray(rgb)
            except Exception:  # no littleCMS, or a broken profile: the plain formula below
                pass
        return np.asarray(image.convert("RGB"))


def semantic_path(image_path: str | os.PathLike, ext: str) -> Path:
    """Where the reference looks for an image's map: ``Monet.jpg`` -> ``Monet_sem.png``."""
    p = Path(image_path)
    return p.with_name(p.stem + ext)


def encode_image(image: np.ndarray, suffix: str, text: Optional[Mapping[str, str]] = None) -> bytes:
    """(H, W, 3) uint8 -> encoded bytes in the format of ``suffix`` (".png", ".jpg", …),
    carrying the ``text`` fields where the format has room (:mod:`doodle.io.image_text`).

    Always Pillow: left to choose, imageio picks its bundled legacy tifffile for
    ".tif", which fails writing to memory under numpy 2 (``ndarray.tostring``).
    """
    import imageio.v3 as iio

    from doodle.io import image_text

    kwargs = {"quality": 95} if suffix.lower() in (".jpg", ".jpeg", ".webp") else {}
    kwargs.update(image_text.save_arguments(suffix, text or {}))
    return iio.imwrite("<bytes>", image, extension=suffix.lower(), plugin="pillow", **kwargs)


def check_writable(path: str | os.PathLike, what: str = "output") -> None:
    """InputError if ``path`` cannot be written as an image, before any work is done.

    Checked the way :func:`write_bytes` will write: a temporary file beside the
    target is created and removed, so a missing or read-only folder, /proc or /sys,
    or a name too long for the file system is found now, not after the painting.
    """
    import numpy as np

    p = Path(path)
    _check_name(p, what)
    if p.suffix.lower() not in WRITABLE:
        raise InputError(
            f"cannot tell the image format of {what} {str(p)!r}.",
            f"End the name with one of {', '.join(WRITABLE)}.",
        )
    try:
        # A 2×2 trial: a Pillow built without WebP (say) fails here, before the
        # painting, not after an hour of work.
        encode_image(np.zeros((2, 2, 3), np.uint8), p.suffix)
    except Exception as e:  # Pillow raises KeyError, OSError, ValueError… for the same problem
        raise InputError(
            f"cannot write {p.suffix.lstrip('.').upper()} images here ({type(e).__name__}: {e}).",
            "Use .png, or install Pillow with support for this format.",
        ) from None
    kind = _kind(p, what)
    if kind == "folder":
        raise InputError(f"{what} {str(p)!r} is a folder.", "Give a file name, e.g. painting.png.")
    if kind == "other":  # a device, a pipe: the rename would replace it, not write into it
        raise InputError(f"{what} {str(p)!r} is not a regular file.", "Give a file name, e.g. painting.png.")
    parent = p.parent if str(p.parent) else Path(".")
    if _kind(parent, what) != "folder":
        raise InputError(f"{what} folder {str(parent)!r} does not exist.", "Create it first.")
    if kind == "file" and not os.access(p, os.W_OK):
        raise InputError(f"{what} {str(p)!r} is not writable.", "Choose another path.")
    _probe_file(parent, p.name, what, p)


def check_folder(path: str | os.PathLike, what: str) -> None:
    """InputError unless ``path`` is a folder files can be written into, or one that
    can be created (its nearest existing ancestor is a writable folder)."""
    p = Path(path)
    _check_name(p, what)
    kind = _kind(p, what)
    if kind == "folder":
        _probe_file(p, "probe", what, p)
        return
    if kind != "missing":
        raise InputError(f"{what} {str(p)!r} is a file, not a folder.", "Give a folder's name.")
    ancestor = p.parent
    while _kind(ancestor, what) == "missing" and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if _kind(ancestor, what) != "folder":
        raise InputError(f"{what} {str(p)!r} cannot be created: {str(ancestor)!r} is not a folder.",
                         "Give a folder's name.")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".doodle-", dir=ancestor))
    except OSError as e:
        raise InputError(f"{what} {str(p)!r} cannot be created in {str(ancestor)!r}: {e.strerror}.",
                         "Choose another folder.") from None


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name one existing file (symbolic and hard links included)."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):  # either missing, or not a valid name
        return False


def overwritten(target: str | os.PathLike, sources: Any) -> Optional[str | os.PathLike]:
    """The first of ``sources`` (paths; other values, such as arrays or pack names, are
    passed over) that writing ``target`` would overwrite: the same existing file,
    links included; None when there is none. Every entry point refuses that output."""
    for source in sources:
        if isinstance(source, (str, os.PathLike)) and same_file(target, source):
            return source
    return None


def _check_name(p: Path, what: str) -> None:
    if "\0" in str(p):
        raise InputError(f"{what} {str(p)!r} contains a NUL character.", "Choose another name.")


def _kind(p: Path, what: str) -> str:
    """"missing", "folder", "file" (regular) or "other" (device, pipe, socket)."""
    try:
        mode = os.stat(p).st_mode
    except FileNotFoundError:
        return "missing"
    except OSError as e:
        if e.errno == errno.ENOTDIR:
            return "missing"
        raise InputError(f"cannot use {what} {str(p)!r}: {e.strerror}.", "Choose another path.") from None
    return "folder" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "other"


def _probe_file(folder: Path, name: str, what: str, target: Path) -> None:
    """Create and remove the temporary file :func:`write_bytes` would create."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    except OSError as e:
        raise InputError(f"cannot write {what} {str(target)!r}: {e.strerror}.", "Choose another path.") from None
    os.close(fd)
    os.unlink(tmp)


def write_image(path: str | os.PathLike, image: np.ndarray, text: Optional[Mapping[str, str]] = None) -> None:
    """Write (H, W, 3) uint8 atomically (with ``text`` fields, see :func:`encode_image`):
    a temporary file beside ``path``, then rename.

    A reader (a Makefile, an image viewer) never sees a half-written file, and an
    interrupted write leaves the previous file intact.
    """
    p = Path(path)
    write_bytes(p, encode_image(image, p.suffix, text))


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`write_image`); WriteError
    (exit 1) when the system refuses, with no temporary file left behind."""
    p = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent if str(p.parent) else ".")
    except OSError as e:
        raise _write_error(p, e) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            # mkstemp makes the file 0600; an output is an ordinary file (0644 under
            # the usual umask), readable by the web server or the colleague it is for.
            if hasattr(os, "fchmod"):  # POSIX; Windows has no modes to fix
                os.fchmod(f.fileno(), 0o666 & ~_umask())
        os.replace(tmp, p)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):  # disk full, quota, file too large: the previous file is kept
            raise _write_error(p, e) from None
        raise


def _write_error(p: Path, e: OSError) -> WriteError:
    return WriteError(f"cannot write {str(p)!r}: {e.strerror or e}.", "Free some space, or write somewhere else.",
                      path=str(p))


def _umask() -> int:
    """The process's umask (reading it means setting it: restore at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
