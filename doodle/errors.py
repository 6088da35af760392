"""Exceptions that reach the user as one clean line (the CLI maps them to exit codes)."""
from __future__ import annotations

from typing import Any


class DoodleError(Exception):
    """Base class: ``message`` says what is wrong, ``hint`` how to fix it."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        message, hint = self.message.strip(), self.hint.strip()
        if message and hint and message[-1] not in ".!?:;":
            message += "."  # "WHAT. HOW TO FIX.", whatever punctuation the parts came with
        return one_line(f"{message} {hint}")


def one_line(text: str) -> str:
    """``text`` with its line breaks (an OS or library message may hold some) as spaces."""
    return " ".join(text.split())


def error_line(error: object) -> str:
    """The one line every command prints for an error: ``doodle: error: WHAT. HOW TO FIX.``"""
    return f"doodle: error: {one_line(str(error))}"


class InputError(DoodleError):
    """Bad input or usage: a missing file, a bad map, an unknown layer… (exit 2)."""

    exit_code = 2


class OptionError(InputError):
    """An :class:`~doodle.plan.options.Options` field whose value cannot work (exit 2).

    The message names the field (``semantic_weight``), as a library user knows it;
    :meth:`as_flag` names the command-line flag instead (``--semantic-weight``).
    """

    def __init__(self, field: str, problem: str, hint: str = "") -> None:
        super().__init__(f"option {field} {problem}", hint)
        self.field = field
        self.problem = problem

    def as_flag(self) -> InputError:
        """The same error worded for the command line."""
        return InputError(f"--{self.field.replace('_', '-')} {self.problem}", self.hint)


class WriteError(DoodleError):
    """A file could not be written at the end: disk full, file too large, a closed
    pipe (exit 1). ``path`` is what was being written ("-": stdout)."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "", path: str = "") -> None:
        super().__init__(message, hint)
        self.path = path


class DivergenceError(DoodleError):
    """The optimisation produced NaN or infinity (exit 1); carries the last good image.

    ``image`` is (H, W, 3) float32 in [0, 255], or None if there never was one.
    """

    exit_code = 1

    def __init__(self, message: str, hint: str = "", image: Any = None) -> None:
        super().__init__(message, hint)
        self.image = image
