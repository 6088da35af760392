"""PyTorch checkpoints (``torch.save`` of a state dict), read without torch.

Three layouts, one per era of torch.save: zip (torch >= 1.6), the stream of
pickles before it (torchvision's 2017 files) and the early-2017 tar. Each finds the
object pickle and the storages' bytes in its own way; what the pickle holds is
rebuilt by :mod:`doodle.weights.pytorch_pickle`. Keys are torchvision's
(``features.0.weight`` …), ``W`` (out, in, kh, kw) cross-correlation.
"""
from __future__ import annotations

import functools
import io
import os
import struct
import tarfile
import zipfile
from pathlib import Path
from typing import Any, BinaryIO, Collection, Iterator, Optional, Sequence

import numpy as np

from doodle.errors import InputError
from doodle.weights.layout import PathLike
from doodle.weights.pytorch_pickle import (
    StorageRef, TarKey, TorchType, materialize_all, state_dict, storage_from_pid, storage_key,
    tensor_ref, torch_globals, wanted_only,
)
from doodle.weights.raw import corrupt, itemsize
from doodle.weights.unpickle import Refused, refusal, unpickle

# Written first by torch.save's pre-1.6 ("legacy") format.
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_HEAD = b"\x80\x02\x8a\x0a" + LEGACY_MAGIC.to_bytes(10, "little")

# The largest member a checkpoint's zip may declare: VGG's largest tensor (fc6,
# 102,760,448 float32 values, 411 MB) with room to spare. zipfile inflates a member
# up to its declared size only, so this bounds what a zip bomb can make us allocate.
ZIP_MAX_MEMBER = 768 * 2**20
_ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}


def is_tar(head: bytes) -> bool:
    """Whether a file's first 512 bytes are a tar header (torch.save's early-2017 layout)."""
    return len(head) >= 262 and head[257:262] == b"ustar"


def data_pkls(names: Sequence[str]) -> list[str]:
    """The object pickles among a zip's member names: one in a checkpoint."""
    return [n for n in names if n == "data.pkl" or n.endswith("/data.pkl")]


def read_torch(path: PathLike, wanted: Optional[Collection[str]] = None) -> dict[str, np.ndarray]:
    """Tensors of a PyTorch checkpoint (``torch.save`` of a state dict) as numpy arrays.

    All three layouts are read without torch: zip (torch >= 1.6), the stream of
    pickles before it (torchvision's 2017 files), and the early-2017 tar.
    ``wanted``: names to materialise (None: all); others are skipped.
    """
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(512)
    if head[:4] == b"PK\x03\x04":
        return _read_zip(path, wanted)
    if head[: len(LEGACY_HEAD)] == LEGACY_HEAD:
        return _read_legacy(path, wanted)
    if is_tar(head):
        return _read_tar(path, wanted)
    raise InputError(f"{path.name} is not a PyTorch checkpoint")


# ---------------------------------------------------------------------------------
# zip (torch >= 1.6)
# ---------------------------------------------------------------------------------


def _read_zip(path: Path, wanted: Optional[Collection[str]]) -> dict[str, np.ndarray]:
    """torch.save's zip layout: ``<root>/data.pkl`` + ``<root>/data/<key>`` storages."""
    what = path.name
    try:
        with zipfile.ZipFile(path) as zf:
            _check_zip_members(zf, what)
            names = zf.namelist()
            pkls = data_pkls(names)
            if len(pkls) != 1:
                raise InputError(f"{what} is a zip file but not a PyTorch checkpoint (no single data.pkl)")
            root = pkls[0][: -len("data.pkl")]
            big_endian = False
            if root + "byteorder" in names:
                big_endian = zf.read(root + "byteorder").strip() == b"big"
            storages: dict[str, tuple[Optional[str], int]] = {}
            with zf.open(pkls[0]) as f:
                obj = unpickle(
                    io.BytesIO(f.read()), torch_globals(), what,
                    persistent_load=lambda pid: storage_from_pid(pid, storages),
                )
            state = wanted_only(state_dict(obj, what), wanted)

            def storage_bytes(name: str, key: str) -> bytes:
                entry = f"{root}data/{key}"
                if entry not in names:
                    raise InputError(f"{what} lacks the data of tensor {name} ({entry})", "the file is corrupt.")
                return zf.read(entry)

            return materialize_all(state, storage_bytes, big_endian)
    except InputError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, KeyError, RuntimeError,
            NotImplementedError) as exc:
        raise corrupt(what, exc) from None


def _check_zip_members(zf: zipfile.ZipFile, what: str) -> None:
    """InputError for a member doodle will not read: encrypted, compressed with a
    method zipfile lacks, or declaring more bytes than any VGG tensor needs."""
    for member in zf.infolist():
        if member.flag_bits & 0x1:
            raise InputError(f"{what} is password-protected ({member.filename}).",
                             "Use an unencrypted checkpoint, as torch.save writes.")
        if member.compress_type not in _ZIP_METHODS:
            raise InputError(f"{what} uses zip compression method {member.compress_type} "
                             f"({member.filename}), which doodle cannot read.",
                             "Use the checkpoint as torch.save wrote it (stored, uncompressed).")
        if member.file_size > ZIP_MAX_MEMBER:
            raise InputError(f"{what}: {member.filename} declares {member.file_size:,} bytes, more than any "
                             f"VGG tensor needs ({ZIP_MAX_MEMBER:,}).", "The file is not a VGG16 or VGG19 checkpoint.")


# ---------------------------------------------------------------------------------
# legacy stream of pickles (torch < 1.6)
# ---------------------------------------------------------------------------------


def _read_legacy(path: Path, wanted: Optional[Collection[str]]) -> dict[str, np.ndarray]:
    """torch.save's pre-1.6 layout: magic, protocol and sys_info pickles, the object
    pickle, a pickle of storage keys, then per key an int64 element count and the raw
    elements."""
    what = path.name
    with open(path, "rb") as f:
        if unpickle(f, {}, what) != LEGACY_MAGIC:
            raise InputError(f"{what} is not a PyTorch checkpoint")
        unpickle(f, {}, what)  # protocol version
        sys_info = unpickle(f, {}, what)
        big_endian = isinstance(sys_info, dict) and sys_info.get("little_endian") is False
        storages: dict[str, tuple[Optional[str], int]] = {}
        obj = unpickle(f, torch_globals(), what, persistent_load=lambda pid: storage_from_pid(pid, storages))
        keys = unpickle(f, {}, what)
        if not isinstance(keys, list) or not all(isinstance(k, (str, bytes)) for k in keys):
            raise InputError(f"{what} is corrupt (bad storage key list)")
        state = wanted_only(state_dict(obj, what), wanted)
        needed = {ref.storage.key for ref in state.values()}
        blobs = _legacy_storages(f, keys, storages, needed, big_endian, what)

    def storage_bytes(name: str, key: str) -> bytes:
        if key not in blobs:
            raise InputError(f"{what} lacks the data of tensor {name}", "the file is corrupt.")
        return blobs[key]

    return materialize_all(state, storage_bytes, big_endian)


def _legacy_storages(
    f: BinaryIO, keys: list, storages: dict[str, tuple[Optional[str], int]], needed: Collection[str],
    big_endian: bool, what: str,
) -> dict[str, bytes]:
    """The bytes of the ``needed`` storages, which follow the key list in its order;
    storages not needed are skipped with seek."""
    size = os.fstat(f.fileno()).st_size
    blobs: dict[str, bytes] = {}
    for key in keys:
        key = key.decode("latin1") if isinstance(key, bytes) else key
        head = f.read(8)
        if len(head) < 8 or key not in storages:
            raise InputError(f"{what} is corrupt or truncated (storage {key})", "download it again.")
        numel = struct.unpack("<q" if not big_endian else ">q", head)[0]
        dtype = storages[key][0] or "u1"
        nbytes = numel * itemsize(dtype)
        if numel < 0 or f.tell() + nbytes > size:
            raise InputError(f"{what} is truncated (storage {key})", "download it again.")
        if key in needed:
            blobs[key] = f.read(nbytes)
        else:
            f.seek(nbytes, os.SEEK_CUR)
    return blobs


# ---------------------------------------------------------------------------------
# tar (torch < 0.1.10, early 2017)
# ---------------------------------------------------------------------------------

# A tensor's layout in the "tensors" member: storage key, offset, size, stride.
_Layout = tuple[str, int, tuple[int, ...], tuple[int, ...]]
# Where a storage's elements are in the "storages" member: dtype, position, count.
_Place = tuple[str, int, int]


def _read_tar(path: Path, wanted: Optional[Collection[str]]) -> dict[str, np.ndarray]:
    """torch.save's tar layout (torch < 0.1.10, early 2017): members ``pickle`` (the
    object; tensors as persistent keys), ``tensors`` (per tensor: key, storage key,
    type, then int32 ndim, 4 pad bytes, int64 sizes, strides and offset) and
    ``storages`` (per storage: key, location, type, then int64 element count and the
    elements; then a pickled list of views (key, root key, offset, size))."""
    what = path.name
    allowed = torch_globals()
    try:
        with tarfile.open(path, mode="r:") as tar:
            # The small members are read whole: the unpickler then checks lengths
            # against what is there instead of allocating what a corrupt file claims.
            with _tar_member(tar, "pickle", what) as f:
                obj = unpickle(io.BytesIO(f.read()), allowed, what, persistent_load=_tar_pid)
            with _tar_member(tar, "tensors", what) as f:
                layouts = _tar_layouts(io.BytesIO(f.read()), allowed, what)
            with _tar_member(tar, "storages", what) as f:
                places, views = _tar_storages(f, allowed, what)
                resolve = functools.partial(_tar_tensor, layouts, views, places, what)
                state = wanted_only(state_dict(obj, what, resolve), wanted)

                def storage_bytes(_name: str, key: str) -> bytes:
                    dtype, position, numel = places[key]
                    f.seek(position)
                    return _read_exact(f, numel * itemsize(dtype), what)

                return materialize_all(state, storage_bytes)
    except InputError:
        raise
    except Refused as exc:
        raise refusal(what, exc) from None
    except (tarfile.TarError, OSError, EOFError, ValueError, KeyError, struct.error) as exc:
        raise corrupt(what, exc) from None


def _tar_member(tar: tarfile.TarFile, name: str, what: str) -> BinaryIO:
    f = tar.extractfile(name)
    if f is None:
        raise InputError(f"{what} lacks its {name!r} entry", "the file is corrupt.")
    return f  # type: ignore[return-value]


def _tar_pid(pid: Any) -> TarKey:
    """Persistent ids of the tar layout's object pickle: a tensor's key. (Tuples name
    module classes of whole pickled models: refused.)"""
    if isinstance(pid, tuple):
        raise Refused("a pickled module (save model.state_dict() instead)")
    return TarKey(storage_key(pid))


def _read_exact(f: BinaryIO, n: int, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise InputError(f"{what} is truncated", "download it again.")
    return data


def _tar_records(f: BinaryIO, allowed: dict, what: str, kind: str) -> Iterator[tuple]:
    """The records of the ``tensors`` or ``storages`` member: a pickled count, then
    per record a pickled triple followed by binary data, which the caller reads
    before it asks for the next record."""
    count = unpickle(f, {}, what)
    if not isinstance(count, int) or count < 0:
        raise InputError(f"{what} is corrupt ({kind} count)")
    for _ in range(count):
        record = unpickle(f, allowed, what)
        if not isinstance(record, tuple) or len(record) != 3:
            raise InputError(f"{what} is corrupt ({kind} record)")
        yield record


def _tar_layouts(f: BinaryIO, allowed: dict, what: str) -> dict[str, _Layout]:
    """Each tensor's layout, by tensor key, from the ``tensors`` member."""
    layouts: dict[str, _Layout] = {}
    for record in _tar_records(f, allowed, what, "tensor"):
        (ndim,) = struct.unpack("<i", _read_exact(f, 4, what))
        _read_exact(f, 4, what)  # ndim was once written as 8 bytes
        if not 0 <= ndim <= 16:
            raise InputError(f"{what} is corrupt (a tensor of {ndim} dimensions)")
        size = struct.unpack(f"<{ndim}q", _read_exact(f, 8 * ndim, what))
        stride = struct.unpack(f"<{ndim}q", _read_exact(f, 8 * ndim, what))
        (offset,) = struct.unpack("<q", _read_exact(f, 8, what))
        layouts[storage_key(record[0])] = (storage_key(record[1]), offset, size, stride)
    return layouts


def _tar_storages(f: BinaryIO, allowed: dict, what: str) -> tuple[dict[str, _Place], dict[str, tuple[str, int]]]:
    """(where each storage's elements are, each view's (root key, offset)), from the
    ``storages`` member; the elements are skipped, to be read only if wanted."""
    places: dict[str, _Place] = {}
    for record in _tar_records(f, allowed, what, "storage"):
        if not isinstance(record[2], TorchType):
            raise InputError(f"{what} is corrupt (storage record)")
        dtype = record[2].dtype or "u1"
        (numel,) = struct.unpack("<q", _read_exact(f, 8, what))
        if numel < 0:
            raise InputError(f"{what} is corrupt (storage size)")
        places[storage_key(record[0])] = (dtype, f.tell(), numel)
        f.seek(numel * itemsize(dtype), os.SEEK_CUR)
    views = {}
    for view in unpickle(f, {}, what) or ():
        if not isinstance(view, (tuple, list)) or len(view) != 4 or not isinstance(view[2], int):
            raise InputError(f"{what} is corrupt (storage view)")
        views[storage_key(view[0])] = (storage_key(view[1]), view[2])
    return places, views


def _tar_tensor(
    layouts: dict[str, _Layout], views: dict[str, tuple[str, int]], places: dict[str, _Place], what: str,
    value: Any,
) -> Any:
    """The TensorRef a :class:`TarKey` in the object stands for (other values as they are)."""
    if not isinstance(value, TarKey) or value.key not in layouts:
        return value
    key, offset, size, stride = layouts[value.key]
    root, view_offset = views.get(key, (key, 0))
    if root not in places:
        raise InputError(f"{what} lacks storage {root}", "the file is corrupt.")
    dtype = places[root][0]
    try:
        return tensor_ref(StorageRef(root, dtype, view_offset), offset, size, stride, dtype)
    except Refused as exc:
        raise refusal(what, exc) from None
