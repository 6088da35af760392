"""doodle: turn two-bit doodles into paintings.

Semantic Style Transfer (Champandard 2016) on neural patches (Li & Wand 2016), in JAX.

    from doodle import paint, Options
    image = paint("Monet.jpg", map="coastline_sem.png", options=Options(iterations=50))
"""
from doodle.api import paint
from doodle.errors import DivergenceError, DoodleError, InputError
from doodle.extractor import Extractor, builtin
from doodle.options import Options
from doodle.synthesis import Progress

__all__ = ["paint", "Options", "Progress", "Extractor", "builtin", "DoodleError", "InputError", "DivergenceError"]
__version__ = "0.1.0"
