"""Weight files in the cache folder (:func:`doodle.cache.cache_dir`): where a known
source is kept once downloaded, what an imported file is called, which cached file
``--weights auto`` takes."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from doodle.weights.catalog import Source, sources
from doodle.weights.layout import PathLike

# Imported files are conv-only safetensors in doodle's layout, named "<stem>-conv".
IMPORTED_SUFFIX = "-conv.safetensors"


def cached_path(source: Source, cache: PathLike) -> Path:
    """Where ``source`` lives in ``cache`` once downloaded (it may not exist)."""
    return Path(cache) / source.filename


def imported_name(path: Path) -> str:
    """Cache file name of an imported file: ``vgg19-dcbb9e9d.pth`` -> ``vgg19-dcbb9e9d-conv.safetensors``."""
    name = path.name
    for suffix in (".pkl.bz2", ".pkl", ".pth", ".pt", ".bin", ".safetensors", ".h5", ".hdf5", ".npz", ".onnx"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    if name.endswith("-conv"):
        name = name[: -len("-conv")]
    return f"{name}{IMPORTED_SUFFIX}"


def find_cached(cache: PathLike) -> Optional[Path]:
    """The first pretrained file in ``cache``: known sources in :data:`SOURCES` order,
    then imported files (``*-conv.safetensors``) by name; None if there is none."""
    cache = Path(cache)
    for src in sources():
        path = cached_path(src, cache)
        if path.is_file():
            return path
    if cache.is_dir():
        imported = sorted(p for p in cache.glob(f"*{IMPORTED_SUFFIX}") if p.is_file())
        if imported:
            return imported[0]
    return None
