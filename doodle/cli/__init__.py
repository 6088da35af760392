"""The ``doodle`` command line (click only: parsing, printing, exit codes).

One module per subcommand (``paint``, ``plan``, ``styles``, ``maps``: check and
segment, ``weights``, ``info``, ``batch``, ``serve``); their flags come from
:mod:`doodle.cli.options`, their error lines and exit codes from :mod:`doodle.cli.errors`.
"""
from __future__ import annotations

import importlib

import click

from doodle.cli import errors


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="doodle", message="doodle %(version)s")
def main() -> None:
    """Turn two-bit doodles into paintings (semantic style transfer)."""


def entry() -> None:
    """Console-script entry (``doodle``, ``python -m doodle``): :func:`errors.run`."""
    errors.run(main)


# Every subcommand, as (module, click command in it). A command defined in another
# module joins with one line here.
COMMANDS = (
    ("doodle.cli.paint", "paint"),
    ("doodle.cli.plan", "plan_command"),
    ("doodle.cli.styles", "styles_command"),
    ("doodle.cli.maps", "check_command"),
    ("doodle.cli.maps", "segment_command"),
    ("doodle.cli.weights", "weights"),
    ("doodle.cli.info", "info_command"),
    ("doodle.cli.batch", "batch"),
    ("doodle.cli.serve", "serve_command"),
)
for _module, _name in COMMANDS:
    main.add_command(getattr(importlib.import_module(_module), _name))
