"""Weight files in the cache folder (:func:`doodle.io.cache.cache_dir`): where a known
source is kept once downloaded, what an imported file is called, which cached file
``--weights auto`` takes."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from doodle.weights.catalog import Source, auto_rank, sources
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


def cached_files(cache: PathLike) -> list[tuple[Path, Optional[Source]]]:
    """The pretrained files in ``cache``, best first for ``--weights auto``: known
    sources (by :func:`~doodle.weights.catalog.auto_rank`, i.e. network, then catalog
    order), then imported files (``*-conv.safetensors``) by name. Each with its
    source, None for an imported file."""
    cache = Path(cache)
    ranked = sorted(enumerate(sources()), key=lambda item: auto_rank(item[1].arch, item[0], True))
    found: list[tuple[Path, Optional[Source]]] = [
        (cached_path(src, cache), src) for _, src in ranked if cached_path(src, cache).is_file()]
    if cache.is_dir():
        known = {path.name for path, _ in found}
        found += [(p, None) for p in sorted(cache.glob(f"*{IMPORTED_SUFFIX}")) if p.is_file() and p.name not in known]
    return found


def find_cached(cache: PathLike) -> Optional[Path]:
    """The first of :func:`cached_files` (the file ``--weights auto`` takes when
    doodle's own cache holds one); None if there is none."""
    found = cached_files(cache)
    return found[0][0] if found else None
