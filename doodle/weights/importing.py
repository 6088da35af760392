"""``doodle weights import``: any supported file -> a compact conv-only safetensors in
the cache folder, in doodle's layout, that ``--weights auto`` then finds."""
from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
from typing import Optional

from doodle.errors import DoodleError, InputError, WriteError
from doodle.weights.catalog import file_digests, find_source
from doodle.weights.layout import PathLike, export_tensors, metadata_for
from doodle.weights.reading import ASSUMED, read_weights
from doodle.weights.safetensors import write_safetensors
from doodle.weights.store import imported_name


def import_weights(
    path: PathLike, cache: PathLike, *, float16: bool = False, convention: Optional[str] = None,
    partial: bool = False,
) -> Path:
    """Convert any supported file to a compact conv-only safetensors in ``cache``.

    The result uses doodle's naming (``conv1_1.kernel`` HWIO) with the preprocessing,
    the original file name and its sha256 in the metadata; all 16 layers are
    required unless ``partial``. ``float16`` halves the size (the weights are used
    as float32).
    """
    path = Path(path)
    loaded = read_weights(path, convention=convention, partial=partial)
    sha256, _ = file_digests(path)
    src = find_source(path.name)
    label = loaded.convention.replace(ASSUMED, "")
    meta = metadata_for(
        loaded.preprocess, label, source=(src.name if src else path.name), source_sha256=sha256,
        source_format=loaded.format,
    )
    cache = Path(cache)
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot use the cache folder {str(cache)!r}: {e.strerror or e}.",
                         "Set DOODLE_CACHE, or give `cache_dir`, to a writable folder.") from None
    out = cache / imported_name(path)
    tmp = out.with_name(out.name + ".tmp")
    try:
        write_safetensors(tmp, export_tensors(loaded.params, float16=float16), meta)
        os.replace(tmp, out)
    except BaseException as e:  # a full disk, a read-only folder, Ctrl-C: no half-written .tmp stays
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(e, OSError):
            raise _cache_write_error(out, e) from None
        raise
    return out


# Errors that say the disk, not the folder the user chose, is the trouble (exit 1).
_DISK_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EIO, getattr(errno, "EDQUOT", errno.ENOSPC)}


def _cache_write_error(out: Path, e: OSError) -> DoodleError:
    """A full disk is a runtime failure (exit 1); a folder doodle may not write, bad input (exit 2)."""
    if e.errno in _DISK_ERRNOS:
        return WriteError(f"cannot write {str(out)!r}: {e.strerror or e}; nothing was imported.",
                          "Free some space, or import into another `cache_dir`.", path=str(out))
    return InputError(f"cannot write {str(out)!r}: {e.strerror or e}; nothing was imported.",
                      "Set DOODLE_CACHE, or give `cache_dir`, to a writable folder.")
