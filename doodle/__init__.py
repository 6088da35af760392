"""doodle: turn two-bit doodles into paintings.

Semantic Style Transfer (Champandard 2016) on neural patches (Li & Wand 2016), in JAX.

    from doodle import paint, Options
    image = paint("Monet.jpg", map="coastline_sem.png", options=Options.of(iterations=50))
"""
from doodle.errors import DivergenceError, DoodleError, InputError
from doodle.plan.options import Options

__all__ = ["paint", "paint_many", "Options", "Progress", "Extractor", "builtin", "DoodleError", "InputError",
           "DivergenceError"]
__version__ = "0.1.0"

# Imported on first use (PEP 562), not with the package: they import JAX, which takes
# seconds, and the command line must be able to answer --help, report a bad option,
# or catch a Ctrl-C during that import before it happens.
_LAZY = {"paint": "doodle.run.api", "paint_many": "doodle.batch", "Progress": "doodle.core.synthesis",
         "Extractor": "doodle.core.extractor", "builtin": "doodle.core.extractor"}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'doodle' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value
