"""From what the user typed to an Extractor: a path, a known source's name, "auto"
(the best pretrained file on the machine, else the built-in network) or "builtin"."""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from doodle.io.cache import cache_dir
from doodle.errors import InputError
from doodle.weights.builtin import builtin_extractor
from doodle.weights import discover
from doodle.weights.catalog import Source, file_digests, find_source, get_source
from doodle.weights import packaged
from doodle.weights.discover import Found
from doodle.weights.layout import PathLike, network_of
from doodle.weights.reading import Loaded, read_weights
from doodle.weights.store import cached_path

if TYPE_CHECKING:  # imported lazily: `doodle weights list` should not pay for jax
    from doodle.core.extractor import Extractor


def to_extractor(loaded: Loaded, name: str, means: tuple[float, ...] = ()) -> "Extractor":
    """Wrap read weights as an Extractor (parameters as jax arrays). ``means``: their
    calibration means from an earlier load (:func:`doodle.core.extractor.pin`), if known."""
    from doodle.core import vgg
    from doodle.core.extractor import BUILTIN_ACTIVATION, Extractor, pin

    # Every layer pinned to the built-in network's mean activation: the loss weights
    # then mean the same with these weights as with the built-in ones.
    params, means = pin(loaded.params, loaded.preprocess, BUILTIN_ACTIVATION, means)
    return Extractor(params, loaded.preprocess, name, pretrained=True, calibration=means,
                     arch=vgg.arch_of(loaded.params))


def _means_file(path: Path, loaded: Loaded, cache: Optional[PathLike]) -> Path:
    """Where a file's calibration means are kept: named after what they depend on (the
    file's bytes, its convention, the layers read, this JAX build and platform)."""
    import hashlib

    import jax

    key = hashlib.sha256(repr((discover.sha256_of(path, cache), loaded.preprocess, tuple(loaded.params),
                               jax.__version__, jax.default_backend())).encode()).hexdigest()[:32]
    return Path(cache if cache is not None else cache_dir()) / "pinned" / f"{key}.json"


def _pinned(path: Path, loaded: Loaded, name: str, cache: Optional[PathLike]) -> "Extractor":
    """:func:`to_extractor`, the calibration pass (~0.7 s of every start-up) skipped
    when an earlier load kept its means; a missing, unreadable or short file means
    calibrating again, and a read-only cache only costs that."""
    where: Optional[Path] = None
    try:
        where = _means_file(path, loaded, cache)
        means = tuple(float(v) for v in json.loads(where.read_text()))
    except FileNotFoundError:
        means = ()
    except Exception:  # noqa: BLE001 - an unusable cache only costs the calibration pass
        where, means = None, ()
    ext = to_extractor(loaded, name, means if len(means) == len(loaded.params) else ())
    if where is not None and tuple(ext.calibration) != means:
        with contextlib.suppress(OSError):
            where.parent.mkdir(parents=True, exist_ok=True)
            tmp = where.with_suffix(".tmp")
            tmp.write_text(json.dumps(list(ext.calibration)))
            os.replace(tmp, where)
    return ext


def load_file(
    path: PathLike, *, convention: Optional[str] = None, partial: bool = False, name: Optional[str] = None
) -> "Extractor":
    """An Extractor from a weight file of any supported format (see :func:`read_weights`)."""
    path = Path(path)
    if path.resolve() == packaged.FILE.resolve():  # the shipped VGG16 holds its first nine layers only
        partial, name = True, name or packaged.NAME
    return _pinned(path, read_weights(path, convention=convention, partial=partial), name or path.name, None)


def resolve_path(spec: PathLike, cache: Optional[PathLike] = None) -> tuple[Path, Optional[Source]]:
    """The file ``spec`` names: an existing path, or a known source's file: in
    doodle's cache, else where another library keeps it (checked, not copied)."""
    path = Path(spec).expanduser()
    if path.is_file():
        return path, discover.source_of(path)
    src = find_source(str(spec))
    if src is None:
        if os.sep in str(spec) or path.suffix:
            raise InputError(f"weights file {str(spec)!r} not found", "check the path.")
        get_source(str(spec))  # raises "unknown weights", listing the known names
    assert src is not None
    cached = cached_path(src, cache if cache is not None else cache_dir())
    if cached.is_file():
        return cached, src
    copies = discover.copies_of(src, cache)
    if copies and copies[0].usable:
        return copies[0].path, src
    if copies:
        raise InputError(f"weights {src.name!r} found at {copies[0].path} fail their check: {copies[0].detail}",
                         f"delete that file, or run: doodle weights download {src.name}")
    raise InputError(f"weights {src.name!r} are not downloaded", f"run: doodle weights download {src.name}")


def load(spec: PathLike, cache: Optional[PathLike] = None, *, convention: Optional[str] = None,
         partial: bool = False) -> "Extractor":
    """An Extractor from a path or a known source name (looked up in ``cache``, then
    in other libraries' caches)."""
    path, src = resolve_path(spec, cache)
    if convention is None and src is not None:
        convention = src.convention
    return load_file(path, convention=convention, partial=partial, name=src.name if src else path.name)


def auto(cache: Optional[PathLike] = None, notice: Callable[[str], None] = lambda s: None) -> Optional[Found]:
    """The file ``--weights auto`` takes (see :func:`doodle.weights.discover.choose`);
    None for the built-in network. ``notice`` hears of a file hashed for the first time."""
    return discover.choose(cache, notice=notice)


# What a run says when "auto" finds no pretrained file, not even the shipped one (an
# install that left the package data out).
BUILTIN_NOTICE = ("using the built-in random VGG19 (no pretrained weights shipped, cached or found); for full "
                  "quality: doodle weights download torchvision-vgg16")


def resolve(spec: str, cache: Optional[PathLike] = None, last: str = "5_4",
            notice: Callable[[str], None] = lambda s: None) -> "Extractor":
    """What ``doodle paint --weights SPEC`` means: "builtin", "auto" (the best
    pretrained file on the machine, else the shipped VGG16, else built-in), "packaged"
    (the shipped VGG16), a known source name, or a path.
    ``last``: how deep to build the built-in network (see :func:`builtin_extractor`).
    ``notice`` hears, for "auto", which weights it took and where they were found."""
    if spec == "builtin":
        return builtin_extractor(last, cache)
    if spec == "auto":
        found = auto(cache, notice)
        if found is not None:
            notice(f"weights: {found.describe()}")
            return load_file(found.path, convention=found.convention, name=found.name)
        spec = packaged.NAME
    if spec == packaged.NAME:
        shipped = packaged.packaged_file()
        if shipped is None:
            notice(BUILTIN_NOTICE)
            return builtin_extractor(last, cache)
        return load_file(shipped)  # read as the partial file it is, named packaged.NAME
    return load(spec, cache)


def weights_file(spec: str, cache: Optional[PathLike] = None) -> Optional[Path]:
    """The file :func:`resolve` reads for ``spec`` (for a painting's provenance); None
    for the built-in network ("builtin", or "auto" with no pretrained file found)."""
    if spec == "builtin":
        return None
    if spec == "auto":
        found = auto(cache)
        if found is not None:
            return found.path
        spec = packaged.NAME
    if spec == packaged.NAME:
        return packaged.packaged_file()
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
