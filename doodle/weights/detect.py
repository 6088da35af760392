"""Which format a weight file is in, told by its first bytes: names can lie."""
from __future__ import annotations

import zipfile
from pathlib import Path

from doodle.errors import InputError
from doodle.weights.layout import PathLike
from doodle.weights.onnx import is_onnx
from doodle.weights.pytorch import LEGACY_HEAD, data_pkls, is_tar

FORMATS = ("lasagne", "torch", "safetensors", "keras-h5", "npz", "onnx")


def detect_format(path: PathLike) -> str:
    """One of :data:`FORMATS`, from the file's first bytes (names can lie)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"weights file {str(path)!r} not found", "give a file path, or a name from: doodle weights list.")
    with open(path, "rb") as f:
        head = f.read(512)
    if not head:
        raise InputError(f"weights file {path.name} is empty", "download it again.")
    if is_tar(head):  # torch.save's early-2017 layout
        return "torch"
    if head[:3] == b"BZh":
        return "lasagne"
    if head[: len(LEGACY_HEAD)] == LEGACY_HEAD:
        return "torch"
    if head[:8] == b"\x89HDF\r\n\x1a\n":
        return "keras-h5"
    if head[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
        except (zipfile.BadZipFile, OSError) as exc:
            raise InputError(f"{path.name} is a corrupt or truncated zip file ({exc})", "download it again.") from None
        if data_pkls(names):
            return "torch"
        if names and all(n.endswith(".npy") for n in names):
            return "npz"
        raise InputError(f"{path.name} is a zip file of neither PyTorch nor numpy arrays")
    if head[:1] == b"\x80":  # a plain (uncompressed) pickle: neural-doodle's list
        return "lasagne"
    if len(head) >= 9 and head[8:9] == b"{":
        return "safetensors"
    if is_onnx(head, named_onnx=path.suffix.lower() == ".onnx"):  # the extension is a hint only
        return "onnx"
    raise InputError(
        f"cannot tell the format of {path.name}",
        "known formats: neural-doodle .pkl.bz2, PyTorch .pth, .safetensors, Keras .h5, .npz, .onnx.",
    )
