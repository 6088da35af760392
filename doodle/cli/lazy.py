"""A click group whose subcommands are imported when one is run, not with the group.

The subcommand modules import numpy, imageio and (``paint``, ``plan``, ``weights``,
``batch``) JAX, which take seconds; ``doodle --help`` or ``doodle styles`` must not pay
for all of them. Each command is named in a table with the module that defines it
and its short help, so that the top-level help lists every command without
importing any (click's "lazy group" pattern).
"""
from __future__ import annotations

import importlib
from typing import NamedTuple, Optional, Sequence

import click


class Lazy(NamedTuple):
    """A subcommand not imported yet: where it is, and its line in ``doodle --help``."""

    name: str
    module: str
    attribute: str
    short_help: str  # the command's own short help (click's, before cutting to width)


class LazyGroup(click.Group):
    """A group of :class:`Lazy` subcommands, besides any added the usual way."""

    def __init__(self, *args, lazy: Sequence[Lazy] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = {c.name: c for c in lazy}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(self.lazy))

    def get_command(self, ctx: Optional[click.Context], cmd_name: str) -> Optional[click.Command]:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            entry = self.lazy[cmd_name]
            command = getattr(importlib.import_module(entry.module), entry.attribute)
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands' section of the help, from the table: it imports nothing."""
        rows = []
        for name in self.list_commands(ctx):
            if name in self.commands:
                if not self.commands[name].hidden:
                    rows.append((name, self.commands[name].get_short_help_str(10**6)))
            else:
                rows.append((name, self.lazy[name].short_help))
        if rows:
            # As click's own: three times the default spacing, each help cut to the rest.
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(name, click.utils.make_default_short_help(text, limit))
                                    for name, text in rows])
