"""The one place the command line turns an error into its line and exit code.

Every subcommand ends an error the same way: one line on stderr, ``doodle: error:
WHAT. HOW TO FIX.``, and the error's exit code. Exit codes: 0 done, 1 runtime failure
(divergence, out of memory, a full disk…), 2 bad input or usage, 130 interrupted,
143 / 129 terminated by SIGTERM / SIGHUP (``doodle paint`` saves the latest image).
"""
from __future__ import annotations

import functools
import re
import sys
from typing import Any, Callable, NoReturn, Optional, TypeVar

import click

from doodle.errors import DoodleError, error_line

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

F = TypeVar("F", bound=Callable[..., Any])


# The library's messages name what a user sets as a Python caller knows it, in
# backticks: an Options field (`output_size`), or an input of paint() (`style`,
# `map`). The command line says its flags instead, through this one table.
INPUT_FLAGS = {"style": "--style", "style_map": "--style-map", "content": "--content", "map": "--map",
               "output": "-o", "cache_dir": "--cache-dir"}
_NAMED = re.compile(r"`([a-z][a-z0-9_]*)((?: [^`]*)?)`")


def flag_words(text: str) -> str:
    """``text`` worded for the command line: each `field` or `field value` in
    backticks becomes ``--field-name value``; other backticked words stay as they are."""
    from doodle.plan.options import CONCERN_OF

    def flag(m: re.Match) -> str:
        name, rest = m.group(1), m.group(2)
        if name in INPUT_FLAGS:
            return INPUT_FLAGS[name] + rest
        if name in CONCERN_OF:
            return "--" + name.replace("_", "-") + rest
        return m.group(0)

    return _NAMED.sub(flag, text)


def print_error(error: object, reporter: Optional[Any] = None) -> str:
    """Print the one error line, worded for the command line (:func:`flag_words`),
    after ending a progress bar's line when a :class:`~doodle.run.reporting.Reporter`
    has one open; returns its text."""
    if reporter is not None:
        reporter.break_line()
    text = flag_words(str(error))
    click.echo(error_line(text), err=True)
    return text


def exit_with(error: DoodleError) -> NoReturn:
    """Print ``error``'s line and exit with its code (2 for bad input)."""
    print_error(error)
    sys.exit(error.exit_code)


def reports_errors(command: F) -> F:
    """A command's DoodleError ends it with :func:`exit_with`, not a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except DoodleError as e:
            exit_with(e)

    return wrapper  # type: ignore[return-value]


def run(group: click.Group) -> NoReturn:
    """Run the command line: click's usage errors become one line and exit code 2, a
    Ctrl-C outside a painting one line and 130."""
    try:
        code = group.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("doodle: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as e:
        print_error(e.format_message())
        sys.exit(EXIT_USAGE)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    # Without standalone mode click hands back the code a command gave ctx.exit()
    # (`check`: 1 for missing colours) instead of exiting with it; commands that
    # return normally give None.
    sys.exit(code if isinstance(code, int) else EXIT_OK)
