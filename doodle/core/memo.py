"""Remembering the styles' network passes between paintings that share a style.

:class:`StyleMemo` is the ``memo`` of :func:`doodle.core.phase.prepare_phase`: each style's
pass through the network at a phase's size (its features, normalised patches and
pooled map, from which the patch banks are cut) is computed once and handed to every
later painting, frame or tile with the same style. It is keyed by what the pass is a
function of: the style's and its map's bytes (not their file names), the size, the
layers, the semantic weight, the network's weights and the device, so a hit returns
exactly what the pass would compute. Compiled programs need no cache of ours: JAX
keeps one per shape in the process.

Used by a batch (:mod:`doodle.batch`), a frame sequence (:mod:`doodle.run.sequence`) and
a phase painted in tiles (:mod:`doodle.core.synthesis`).
"""
from __future__ import annotations

import collections
import hashlib
from typing import Any, Callable, Hashable

import numpy as np


def array_key(array: Any) -> tuple:
    """(shape, dtype, sha1 of the bytes) of an array: equal exactly when the arrays are."""
    a = np.ascontiguousarray(np.asarray(array))
    return a.shape, a.dtype.str, hashlib.sha1(a.view(np.uint8).reshape(-1)).hexdigest()


class StyleMemo:
    """``memo(fn, *args)``: ``fn(*args)``, remembered by the arguments' values.

    Arrays are keyed by their bytes (:func:`array_key`), mappings (a network's
    parameters) by identity, anything else by value; the default device is part of
    the key. The ``size`` most recently used results are kept.
    """

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self.entries: collections.OrderedDict[Hashable, tuple[Any, tuple]] = collections.OrderedDict()
        self.hits = self.misses = 0

    def __call__(self, fn: Callable, *args: Any) -> Any:
        import jax

        key = (fn, str(jax.config.jax_default_device), tuple(_key(a) for a in args))
        if key in self.entries:
            self.entries.move_to_end(key)
            self.hits += 1
            return self.entries[key][0]
        self.misses += 1
        value = fn(*args)
        # The mappings keyed by identity are kept alive with the entry, so that no
        # other object can take their id while it is remembered.
        self.entries[key] = (value, tuple(a for a in args if isinstance(a, dict)))
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)
        return value


def _key(value: Any) -> Hashable:
    if value is None or isinstance(value, (str, int, float, bool, tuple)):
        return value
    if isinstance(value, dict):
        return ("id", id(value))
    if isinstance(value, np.ndarray) or hasattr(value, "__array__"):
        return ("array",) + array_key(value)
    return value  # a hashable static argument (the network's preprocessing)
