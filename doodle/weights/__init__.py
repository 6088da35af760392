"""Pretrained VGG16 and VGG19 weights: where they come from, how to read them, where they live.

Every reader turns a weight file into the same thing: numpy parameters
``{"conv1_1": {"kernel": (3, 3, Cin, Cout) float32 HWIO, "bias": (Cout,) float32}, …}``
for cross-correlation (``flax.linen.Conv``), plus the :class:`~doodle.core.vgg.Preprocess`
the weights were trained with. :func:`load` wraps them in an
:class:`~doodle.core.extractor.Extractor`.

Formats, one module each, and what each one's arrays mean:

* :mod:`~doodle.weights.lasagne`: neural-doodle's ``vgg19_conv.pkl.bz2``, a bz2
  pickle of ``[W, b, W, b, …]`` for conv1_1…conv5_4, ``W`` (out, in, 3, 3) as Lasagne
  stores it. Caffe convention.
* :mod:`~doodle.weights.pytorch`: PyTorch ``.pth`` (zip, pre-1.6 stream and early-2017
  tar layouts), torchvision key names (``features.0.weight`` …), ``W`` (out, in, kh,
  kw) cross-correlation.
* :mod:`~doodle.weights.safetensors`: timm's naming (as torchvision) or doodle's own
  (``conv1_1.kernel`` HWIO, preprocessing in the header's ``__metadata__``).
* :mod:`~doodle.weights.keras`: Keras ``…_notop.h5`` (HWIO cross-correlation, Caffe
  convention), via optional h5py.
* :mod:`~doodle.weights.npz`: ``.npz`` in doodle's own layout.
* :mod:`~doodle.weights.onnx`: ``.onnx`` models holding a VGG conv chain (Conv OIHW
  cross-correlation; the input layout tells the convention), via optional onnx.

VGG16 and VGG19 are read from every format: the layers present say which.

Pickles (neural-doodle's file, PyTorch's) are read with restricted unpicklers
(:mod:`~doodle.weights.unpickle`): only the handful of globals that rebuild arrays
are allowed, everything else is refused before it runs. Nothing here imports torch.

The rest: :mod:`~doodle.weights.layout` (layer names, conventions, the conversions
formats share), :mod:`~doodle.weights.catalog` (the known sources and their
checksums), :mod:`~doodle.weights.detect` (format from content),
:mod:`~doodle.weights.reading` (any file to parameters),
:mod:`~doodle.weights.loading` (what ``--weights`` names, to an Extractor),
:mod:`~doodle.weights.store`, :mod:`~doodle.weights.downloads` and
:mod:`~doodle.weights.importing` (the weights in the cache folder, which
:mod:`doodle.io.cache` locates), :mod:`~doodle.weights.discover` (the files other
libraries' caches already hold, used where they are, and the one ``--weights auto``
takes).

This package re-exports the names other modules use, so ``from doodle import
weights; weights.load(…)`` is the way in.
"""
from doodle.io.cache import cache_dir, cache_problem
from doodle.weights.builtin import builtin_extractor
from doodle.weights.catalog import (
    AUTO_ORDER, OTHER_FILES, SOURCES, Source, auto_rank, convention_from_name, file_digests, get_source, known_files,
    sources,
)
from doodle.weights.detect import FORMATS, detect_format
from doodle.weights.discover import Found, find_all, hf_hub_cache, keras_models, torch_checkpoints
from doodle.weights.downloads import Downloaded, ProgressFn, download
from doodle.weights.importing import import_weights
from doodle.weights.keras import read_keras_h5
from doodle.weights.lasagne import params_from_lasagne, read_lasagne_pkl
from doodle.weights.layout import (
    CAFFE, CONV_NAMES, CONVENTIONS, DOODLE_KEYS, KERAS_GROUPS, META_KEY, METADATA_VERSION, NPZ_META_KEY,
    TORCH_INDICES, TORCH_KEYS, TORCHVISION, Params, PathLike, export_tensors, metadata_for, params_from_doodle,
    params_from_torch, validate,
)
from doodle.weights.loading import auto, info, load, load_file, resolve, resolve_path, to_extractor, weights_file
from doodle.weights.npz import read_npz
from doodle.weights.onnx import read_onnx
from doodle.weights.pytorch import read_torch
from doodle.weights.reading import Loaded, read_weights
from doodle.weights.safetensors import parse_safetensors_header, read_safetensors, write_safetensors
from doodle.weights.store import cached_files, cached_path, find_cached

__all__ = [
    "AUTO_ORDER", "OTHER_FILES", "Found", "auto", "auto_rank", "cached_files", "find_all", "hf_hub_cache",
    "keras_models", "known_files", "torch_checkpoints",
    "CAFFE", "CONV_NAMES", "CONVENTIONS", "DOODLE_KEYS", "FORMATS", "KERAS_GROUPS", "META_KEY", "METADATA_VERSION",
    "NPZ_META_KEY", "SOURCES", "TORCH_INDICES", "TORCH_KEYS", "TORCHVISION",
    "Downloaded", "Loaded", "Params", "PathLike", "ProgressFn", "Source",
    "builtin_extractor", "cache_dir", "cache_problem", "cached_path", "convention_from_name", "detect_format",
    "download", "export_tensors", "file_digests", "find_cached", "get_source", "import_weights", "info", "load",
    "load_file", "metadata_for", "params_from_doodle", "params_from_lasagne", "params_from_torch",
    "parse_safetensors_header", "read_keras_h5", "read_lasagne_pkl", "read_npz", "read_onnx", "read_safetensors",
    "read_torch",
    "read_weights", "resolve", "resolve_path", "sources", "to_extractor", "validate", "weights_file",
    "write_safetensors",
]
