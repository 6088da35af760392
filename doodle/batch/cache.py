"""What the paintings of one process share: extractors, and the styles' network
passes (a :class:`doodle.memo.StyleMemo`)."""
from __future__ import annotations

from typing import Any, Callable, Hashable

from doodle.memo import StyleMemo

__all__ = ["Shared", "StyleMemo"]


class Shared:
    """One process's shared state for a batch: an extractor per weights and layers
    (``extractor``: a fixed one to use for every job instead), and a :class:`StyleMemo`."""

    def __init__(self, extractor: Any = None, memo_size: int = 32) -> None:
        self.fixed = extractor
        self.extractors: dict[Hashable, Any] = {}
        self.memo = StyleMemo(memo_size)

    def extractor(self, options: Any, notice: Callable[[str], None] = lambda s: None) -> Any:
        """The extractor ``doodle paint`` would load for ``options``, loaded once."""
        from doodle import api

        if self.fixed is not None:
            return self.fixed
        painting = options.painting
        key = (painting.weights, painting.style_layers, painting.content_layers)
        if key not in self.extractors:
            self.extractors[key] = api.resolve_extractor(options, notice)
        return self.extractors[key]

