"""From what the user typed to an Extractor: a path, a known source's name, "auto"
(the first cached pretrained file, else the built-in network) or "builtin"."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from doodle.cache import cache_dir
from doodle.errors import InputError
from doodle.weights.builtin import builtin_extractor
from doodle.weights.catalog import Source, file_digests, find_source, get_source
from doodle.weights.layout import PathLike, network_of
from doodle.weights.reading import Loaded, read_weights
from doodle.weights.store import cached_path, find_cached

if TYPE_CHECKING:  # imported lazily: `doodle weights list` should not pay for jax
    from doodle.extractor import Extractor


def to_extractor(loaded: Loaded, name: str) -> "Extractor":
    """Wrap read weights as an Extractor (parameters as jax arrays)."""
    import jax

    from doodle import vgg
    from doodle.extractor import with_defaults
    from doodle.options import PRETRAINED

    # device_put, not jnp.asarray: no small program per array shape at start-up.
    params = jax.device_put({conv: dict(layer) for conv, layer in loaded.params.items()})
    return with_defaults(params, loaded.preprocess, name, PRETRAINED, pretrained=True, arch=vgg.arch_of(loaded.params))


def load_file(
    path: PathLike, *, convention: Optional[str] = None, partial: bool = False, name: Optional[str] = None
) -> "Extractor":
    """An Extractor from a weight file of any supported format (see :func:`read_weights`)."""
    path = Path(path)
    return to_extractor(read_weights(path, convention=convention, partial=partial), name or path.name)


def resolve_path(spec: PathLike, cache: Optional[PathLike] = None) -> tuple[Path, Optional[Source]]:
    """The file ``spec`` names: an existing path, or a known source's cached file."""
    path = Path(spec).expanduser()
    if path.is_file():
        return path, find_source(path.name)
    src = find_source(str(spec))
    if src is None:
        if os.sep in str(spec) or path.suffix:
            raise InputError(f"weights file {str(spec)!r} not found", "check the path.")
        get_source(str(spec))  # raises "unknown weights", listing the known names
    cached = cached_path(src, cache if cache is not None else cache_dir())  # type: ignore[arg-type]
    if not cached.is_file():
        raise InputError(f"weights {src.name!r} are not downloaded", f"run: doodle weights download {src.name}")
    return cached, src


def load(spec: PathLike, cache: Optional[PathLike] = None, *, convention: Optional[str] = None,
         partial: bool = False) -> "Extractor":
    """An Extractor from a path or a known source name (looked up in ``cache``)."""
    path, src = resolve_path(spec, cache)
    if convention is None and src is not None:
        convention = src.convention
    return load_file(path, convention=convention, partial=partial, name=src.name if src else path.name)


def resolve(spec: str, cache: Optional[PathLike] = None, last: str = "5_4") -> "Extractor":
    """What ``doodle paint --weights SPEC`` means: "builtin", "auto" (the first cached
    pretrained file, else built-in), a known source name, or a path. ``last``: how
    deep to build the built-in network (see :func:`builtin_extractor`)."""
    if spec == "builtin":
        return builtin_extractor(last, cache)
    if spec == "auto":
        found = find_cached(cache if cache is not None else cache_dir())
        if found is None:
            return builtin_extractor(last, cache)
        return load(found, cache)
    return load(spec, cache)


def weights_file(spec: str, cache: Optional[PathLike] = None) -> Optional[Path]:
    """The file :func:`resolve` reads for ``spec`` (for a painting's provenance); None
    for the built-in network ("builtin", or "auto" with no pretrained file cached)."""
    if spec == "builtin":
        return None
    if spec == "auto":
        return find_cached(cache if cache is not None else cache_dir())
    return resolve_path(spec, cache)[0]


def info(spec: PathLike, cache: Optional[PathLike] = None) -> dict[str, Any]:
    """What a weight file (path or known source name) holds.

    Returns ``{"path", "source", "format", "convention", "preprocess", "layers",
    "network", "dtype", "size", "sha256"}``; ``layers`` are names such as ``"1_1"``,
    ``network`` says which VGG they are (``"VGG16, 13 conv layers"``).
    """
    path, src = resolve_path(spec, cache)
    loaded = read_weights(path, convention=src.convention if src else None, partial=True)
    sha256, _ = file_digests(path)
    record = loaded.metadata or {}
    return {
        "path": str(path),
        "source": src.name if src else record.get("source"),
        "format": loaded.format,
        "convention": loaded.convention,
        "preprocess": dataclasses.asdict(loaded.preprocess),
        "layers": [conv[len("conv"):] for conv in loaded.params],
        "network": network_of(tuple(loaded.params)),
        "dtype": loaded.dtype,
        "size": path.stat().st_size,
        "sha256": sha256,
    }
