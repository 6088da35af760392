"""The pretrained VGG16s and VGG19s doodle knows: where each comes from, what it is
called, the checks its publisher gives, how a file is checked against them, and
which one ``--weights auto`` prefers when several are on the machine."""
from __future__ import annotations

import dataclasses
import hashlib
from typing import Optional

from doodle.errors import InputError
from doodle.weights.layout import PathLike


@dataclasses.dataclass(frozen=True)
class Source:
    """A pretrained VGG16 or VGG19 that ``doodle weights download NAME`` can fetch
    (or, in :data:`OTHER_FILES`, one that doodle only uses where another library put it).

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
    arch: str = "vgg19"  # the network the file holds: "vgg16" or "vgg19"
    # The library whose cache may already hold the file ``url`` names, where
    # doodle.weights.discover looks for it: "torch" (torch hub's checkpoints, under
    # the URL's file name), "keras" (keras.utils.get_file's models/, likewise) or
    # "huggingface" (the hub cache's snapshot of the URL's repository and file).
    kept_by: Optional[str] = None


# The two origins every source goes back to.
_VGG = "VGG by Simonyan & Zisserman (CC BY 4.0)"
_CAFFE_VGG19 = "VGG19 by Simonyan & Zisserman (CC BY 4.0)"


def _torchvision(arch: str) -> str:
    return f"torchvision's {arch.upper()} ImageNet weights (BSD-3-Clause code; ImageNet terms may apply)"


_TORCHVISION_VGG19 = _torchvision("vgg19")
_KERAS_APPS = "https://storage.googleapis.com/tensorflow/keras-applications"

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
        kept_by="keras",
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
        kept_by="huggingface",
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
        kept_by="torch",
    ),
    # VGG16, the same three publishers: after every VGG19 in the catalog, but which
    # network --weights auto prefers is AUTO_ORDER's to say, not this order's.
    Source(
        name="keras-vgg16",
        url=f"{_KERAS_APPS}/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        filename="vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        format="keras-h5",
        convention="caffe",
        approx_mb=56,
        licence=f"{_VGG}, converted by the Keras team",
        # keras.applications.vgg16 passes this md5 as file_hash to get_file.
        md5="6d6bbae143d832006294945121d1f1fc",
        note="needs h5py: pip install 'doodle[h5]'",
        arch="vgg16",
        kept_by="keras",
    ),
    Source(
        name="timm-vgg16",
        url="https://huggingface.co/timm/vgg16.tv_in1k/resolve/main/model.safetensors",
        filename="vgg16.tv_in1k-conv.safetensors",
        format="safetensors",
        convention="torchvision",
        approx_mb=56,
        licence=f"{_torchvision('vgg16')}, via timm",
        ranged=True,
        note="only the conv tensors are fetched (HTTP Range); whole-file checksum cannot apply",
        arch="vgg16",
        kept_by="huggingface",
    ),
    Source(
        name="torchvision-vgg16",
        url="https://download.pytorch.org/models/vgg16-397923af.pth",
        filename="vgg16-397923af.pth",
        format="torch",
        convention="torchvision",
        approx_mb=528,
        licence=_torchvision("vgg16"),
        # As vgg19-dcbb9e9d.pth: torch hub checks the name's sha256 prefix.
        sha256_prefix="397923af",
        arch="vgg16",
        kept_by="torch",
    ),
)

# Files doodle does not download (their classifier layers make them ~7x the conv
# layers' size) but uses where Keras already put them: keras.applications'
# include_top=True weights, with the md5s keras.applications passes to get_file.
OTHER_FILES: tuple[Source, ...] = (
    Source(
        name="keras-top",
        url=f"{_KERAS_APPS}/vgg19/vgg19_weights_tf_dim_ordering_tf_kernels.h5",
        filename="vgg19_weights_tf_dim_ordering_tf_kernels.h5",
        format="keras-h5",
        convention="caffe",
        approx_mb=549,
        licence=f"{_CAFFE_VGG19}, converted by the Keras team",
        md5="cbe5617147190e668d6c5d5026f83318",
        note="with the classifier layers, which doodle ignores; needs h5py",
        kept_by="keras",
    ),
    Source(
        name="keras-vgg16-top",
        url=f"{_KERAS_APPS}/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels.h5",
        filename="vgg16_weights_tf_dim_ordering_tf_kernels.h5",
        format="keras-h5",
        convention="caffe",
        approx_mb=528,
        licence=f"{_VGG}, converted by the Keras team",
        md5="64373286793e3c8b2b4e3219cbf3544b",
        note="with the classifier layers, which doodle ignores; needs h5py",
        arch="vgg16",
        kept_by="keras",
    ),
)

# Which file --weights auto takes when several are on the machine, best first. A
# file falls in the first group here it matches: "doodle" matches a file in
# doodle's own cache folder, "vgg19" and "vgg16" a file of that network (found in
# another library's cache). Within a group, networks go in the order their names
# have here, then known files in SOURCES' order (the reference's own weights first;
# OTHER_FILES after them). Which of VGG16 and VGG19 paints better is a measurement's
# to decide: swapping the two names here is the whole change.
AUTO_ORDER: tuple[str, ...] = ("doodle", "vgg19", "vgg16")


def sources() -> tuple[Source, ...]:
    """The known sources, in catalog order (read at call time, so tests can patch)."""
    return SOURCES


def known_files() -> tuple[Source, ...]:
    """Every file doodle recognises: the sources, then :data:`OTHER_FILES`."""
    return SOURCES + OTHER_FILES


def auto_rank(arch: Optional[str], index: int, in_doodle_cache: bool) -> tuple[int, int, int]:
    """Sort key of a file for ``--weights auto`` (smaller first; see :data:`AUTO_ORDER`).

    ``arch``: its network (None when unknown, e.g. an imported file: after the known
    networks); ``index``: its position in :func:`known_files` (files doodle does not
    know go after all of them).
    """
    groups = AUTO_ORDER
    archs = [g for g in groups if g != "doodle"]
    group = next((i for i, g in enumerate(groups) if g == arch or (g == "doodle" and in_doodle_cache)), len(groups))
    return group, archs.index(arch) if arch in archs else len(archs), index


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
