"""The page's quality presets, as phases and iterations.

"normal" paints with the options the server was started with (and the style pack's
recommendations for those left unset), as ``doodle paint`` would; "draft" is a quick
look (a phase fewer, a quarter of the iterations), "fine" a longer one (twice the
iterations).
"""
from __future__ import annotations

from doodle.errors import InputError
from doodle.plan.options import Options

QUALITIES = ("draft", "normal", "fine")


def apply(options: Options, quality: str) -> Options:
    """``options`` with the phases and iterations of ``quality``."""
    painting = options.painting
    if quality == "normal":
        return options
    if quality == "draft":
        return options.replace(phases=max(1, painting.phases - 1), iterations=max(5, painting.iterations // 4))
    if quality == "fine":
        return options.replace(iterations=painting.iterations * 2)
    raise InputError(f"unknown quality {str(quality)[:20]!r}.", f"Use one of {', '.join(QUALITIES)}.")
