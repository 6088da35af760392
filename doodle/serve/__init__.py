"""``doodle serve``: draw a doodle in the browser in a style's colours, and watch it paint.

One process, one painter: a local web page (plain HTML, CSS and JS shipped as package
data, nothing fetched from elsewhere) lists the style packs and uploaded styles with
their legends, lets the user draw with hard-edged tools in exactly the legend's
colours, and sends the doodle to be painted; progress comes back as server-sent
events, the painting as a PNG carrying its provenance record.

Built on Starlette and uvicorn (the optional extra ``doodle[serve]``). Not Gradio:
its sketchpad draws anti-aliased strokes in free colours, which a doodle cannot use
(every edge would bring in-between colours that match no region), and it cannot be
held to a fixed palette with hard edges; a page of our own draws discs, rectangles
and fills straight into ImageData, and needs nothing from the internet.

The modules: :mod:`.styles` (the styles offered), :mod:`.uploads` (bounded, checked
reading of what the page sends), :mod:`.jobs` (the queue and the one painting
thread), :mod:`.guard` (Host and Origin checks), :mod:`.app` (the routes).
"""
from __future__ import annotations

INSTALL = "pip install 'doodle[serve]'"


def missing() -> str | None:
    """The name of the first package ``doodle serve`` needs that is not installed, or None."""
    import importlib.util

    for name in ("starlette", "uvicorn"):
        if importlib.util.find_spec(name) is None:
            return name
    return None
