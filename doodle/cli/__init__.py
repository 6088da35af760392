"""The ``doodle`` command line (click only: parsing, printing, exit codes).

One module per subcommand (``paint``, ``plan``, ``styles``, ``maps``: check and
segment, ``weights``, ``info``, ``batch``, ``serve``); their flags come from
:mod:`doodle.cli.options`, their error lines and exit codes from :mod:`doodle.cli.errors`.
A subcommand's module is imported only when that command runs (:mod:`doodle.cli.lazy`),
so that ``doodle --help``, ``styles``, ``check`` and ``info`` start without JAX.
"""
from __future__ import annotations

import click

from doodle.cli import errors
from doodle.cli.lazy import Lazy, LazyGroup

# Every subcommand, one line each: (name, module, click command in it, its short help
# for `doodle --help`, which must not import the module; a test checks it is the
# command's own).
COMMANDS = (
    Lazy("paint", "doodle.cli.paint", "paint", "Paint a doodle, or a photo, in the style of a painting."),
    Lazy("plan", "doodle.cli.plan", "plan_command", "Show the plan of a painting: per phase its size, memory and seconds."),
    Lazy("styles", "doodle.cli.styles", "styles_command", "List the style packs with their colour legends."),
    Lazy("check", "doodle.cli.maps", "check_command", "Check that DOODLE_MAP only uses colours of STYLE_MAP."),
    Lazy("segment", "doodle.cli.maps", "segment_command", "Draw a semantic map for STYLE automatically (k-means on colour and position)."),
    Lazy("weights", "doodle.cli.weights", "weights", "Pretrained VGG16 and VGG19 weights: list, download, import, inspect."),
    Lazy("info", "doodle.cli.info", "info_command", "How PAINTING was made (its provenance), and the command that repaints it."),
    Lazy("batch", "doodle.cli.batch", "batch", "Paint many doodles: a JSON Lines file of jobs, or a glob of doodles in one style."),
    Lazy("serve", "doodle.cli.serve", "serve_command", "Draw doodles in the browser in a style's colours, and watch them paint."),
)


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="doodle", message="doodle %(version)s")
def main() -> None:
    """Turn two-bit doodles into paintings (semantic style transfer)."""


def command(name: str) -> click.Command:
    """The subcommand ``name``, imported if it was not yet (KeyError if there is none)."""
    found = main.get_command(None, name)  # type: ignore[arg-type]  # the group needs no context
    if found is None:
        raise KeyError(name)
    return found


def entry() -> None:
    """Console-script entry (``doodle``, ``python -m doodle``): :func:`errors.run`."""
    errors.run(main)
