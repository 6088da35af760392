"""What the paintings of one process share: extractors, and the styles' network
passes (a :class:`doodle.core.memo.StyleMemo`)."""
from __future__ import annotations

from typing import Any, Callable, Hashable

from doodle.core.memo import StyleMemo

__all__ = ["Shared", "StyleMemo"]


class Shared:
    """One process's shared state for a batch: an extractor per weights and layers
    (``extractor``: a fixed one to use for every job instead), a :class:`StyleMemo`,
    and the compiled programs of at most ``program_sizes`` paintings' sizes."""

    def __init__(self, extractor: Any = None, memo_size: int = 32, program_sizes: int = 4) -> None:
        self.fixed = extractor
        self.extractors: dict[Hashable, Any] = {}
        self.memo = StyleMemo(memo_size)
        self.program_sizes = program_sizes
        self.sizes: set[Hashable] = set()

    def programs_for(self, sizes: Hashable) -> bool:
        """Say that a painting of ``sizes`` (its output's and styles' sizes) comes next.

        JAX keeps every program it compiled, each specialised to its sizes; on a CPU
        one painting's set holds a few hundred MiB (bench/RESULTS.md, 2026-12-01, the wall-time heading),
        so a worker painting many different sizes would grow without end. Paintings of
        sizes already seen reuse their programs; a new size when ``program_sizes``
        others are kept drops them all first (``jax.clear_caches``). True when it did.
        """
        if sizes in self.sizes:
            return False
        dropped = len(self.sizes) >= self.program_sizes
        if dropped:
            import jax

            jax.clear_caches()
            self.sizes.clear()
        self.sizes.add(sizes)
        return dropped

    def extractor(self, options: Any, notice: Callable[[str], None] = lambda s: None) -> Any:
        """The extractor ``doodle paint`` would load for ``options``, loaded once."""
        from doodle.run import api

        if self.fixed is not None:
            return self.fixed
        painting = options.painting
        key = (painting.weights, painting.style_layers, painting.content_layers)
        if key not in self.extractors:
            self.extractors[key] = api.resolve_extractor(options, notice)
        return self.extractors[key]

