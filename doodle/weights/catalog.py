"""The pretrained VGG19s doodle knows: where each comes from, what it is called,
the checks its publisher gives, and how a file is checked against them."""
from __future__ import annotations

import dataclasses
import hashlib
from typing import Optional

from doodle.errors import InputError
from doodle.weights.layout import PathLike


@dataclasses.dataclass(frozen=True)
class Source:
    """A pretrained VGG19 that ``doodle weights download NAME`` can fetch.

    Checks are only those published by the upstream project; None means unknown,
    and the downloader then reports the sha256 it computed instead of verifying.
    """

    name: str  # what users type
    url: str
    filename: str  # name in the cache (ranged sources: the compact file)
    format: str  # "lasagne", "torch", "safetensors", "keras-h5"
    convention: str  # key of layout.CONVENTIONS
    approx_mb: int  # download size, for display
    licence: str  # one-line note; check upstream before redistributing
    size: Optional[int] = None  # exact bytes, when known
    sha256: Optional[str] = None  # full hex digest, when known
    sha256_prefix: Optional[str] = None  # torch hub's "name-<sha256 prefix>.pth" convention
    md5: Optional[str] = None  # Keras publishes md5s
    ranged: bool = False  # safetensors: fetch only the conv tensors with Range requests
    note: str = ""


# The two origins every source goes back to.
_CAFFE_VGG19 = "VGG19 by Simonyan & Zisserman (CC BY 4.0)"
_TORCHVISION_VGG19 = "torchvision's VGG19 ImageNet weights (BSD-3-Clause code; ImageNet terms may apply)"

SOURCES: tuple[Source, ...] = (
    # Preference order of find_cached(): the reference's own weights first.
    Source(
        name="neural-doodle",
        url="https://github.com/alexjc/neural-doodle/releases/download/v0.0/vgg19_conv.pkl.bz2",
        filename="vgg19_conv.pkl.bz2",
        format="lasagne",
        convention="caffe",
        approx_mb=80,
        licence=f"{_CAFFE_VGG19}, converted for Lasagne by alexjc/neural-doodle",
        note="the reference implementation's weights; no published checksum",
    ),
    Source(
        name="jcjohnson-caffe",
        url="https://web.eecs.umich.edu/~justincj/models/vgg19-d01eb7cb.pth",
        filename="vgg19-d01eb7cb.pth",
        format="torch",
        convention="caffe",
        approx_mb=548,
        licence=f"{_CAFFE_VGG19}, converted from Caffe by Justin Johnson",
        note="original Caffe weights in PyTorch layout (used by neural-style-pt); no published checksum",
    ),
    Source(
        name="keras",
        url=(
            "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
            "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
        ),
        filename="vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
        format="keras-h5",
        convention="caffe",
        approx_mb=80,
        licence=f"{_CAFFE_VGG19}, converted by the Keras team",
        # keras.applications.vgg19 passes this md5 as file_hash to get_file.
        md5="253f8cb515780f3b799900260a226db6",
        note="needs h5py: pip install 'doodle[h5]'",
    ),
    Source(
        name="timm",
        url="https://huggingface.co/timm/vgg19.tv_in1k/resolve/main/model.safetensors",
        filename="vgg19.tv_in1k-conv.safetensors",
        format="safetensors",
        convention="torchvision",
        approx_mb=80,
        licence=f"{_TORCHVISION_VGG19}, via timm",
        ranged=True,
        note="only the conv tensors are fetched (HTTP Range); whole-file checksum cannot apply",
    ),
    Source(
        name="torchvision",
        url="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
        filename="vgg19-dcbb9e9d.pth",
        format="torch",
        convention="torchvision",
        approx_mb=548,
        licence=_TORCHVISION_VGG19,
        size=574_673_361,
        # torchvision loads this with check_hash=True: the file name carries the
        # first 8 hex digits of its sha256 (torch hub convention).
        sha256_prefix="dcbb9e9d",
    ),
)


def sources() -> tuple[Source, ...]:
    """The known sources, in preference order (read at call time, so tests can patch)."""
    return SOURCES


def get_source(name: str) -> Source:
    """The known source called ``name`` (or whose file is called ``name``)."""
    for src in sources():
        if name in (src.name, src.filename):
            return src
    raise InputError(
        f"unknown weights {name!r}",
        f"known weights: {', '.join(s.name for s in sources())}; or give a file path.",
    )


def find_source(name: str) -> Optional[Source]:
    """The known source called ``name`` (or whose file is called ``name``), or None."""
    try:
        return get_source(name)
    except InputError:
        return None


def convention_from_name(name: str) -> Optional[str]:
    """The convention of a known file, from its name (torch hub names carry a hash)."""
    for src in sources():
        stem = src.filename.split(".")[0]
        if src.filename in name or (src.format == "torch" and stem in name):
            return src.convention
    return None


def file_digests(path: PathLike, chunk: int = 1 << 20) -> tuple[str, str]:
    """(sha256, md5) hex digests of a file."""
    sha, md5 = hashlib.sha256(), hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            sha.update(block)
            md5.update(block)
    return sha.hexdigest(), md5.hexdigest()


def verify(src: Source, size: int, sha256: str, md5: str) -> tuple[str, str]:
    """(what passed, problem or "") against the source's published checks."""
    passed = []
    if src.size is not None:
        if size != src.size:
            return "", f"size {size} bytes, expected {src.size}"
        passed.append("size")
    if src.sha256 is not None:
        if sha256 != src.sha256.lower():
            return "", f"sha256 {sha256}, expected {src.sha256}"
        passed.append("sha256")
    elif src.sha256_prefix is not None:
        if not sha256.startswith(src.sha256_prefix.lower()):
            return "", f"sha256 {sha256} does not start with {src.sha256_prefix}"
        passed.append("sha256 prefix")
    if src.md5 is not None:
        if md5 != src.md5.lower():
            return "", f"md5 {md5}, expected {src.md5}"
        passed.append("md5")
    return ", ".join(passed), ""
