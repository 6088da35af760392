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
        return f"{self.message} {self.hint}".strip()


class InputError(DoodleError):
    """Bad input or usage: a missing file, a bad map, an unknown layer… (exit 2)."""

    exit_code = 2


class DivergenceError(DoodleError):
    """The optimisation produced NaN or infinity (exit 1); carries the last good image.

    ``image`` is (H, W, 3) float32 in [0, 255], or None if there never was one.
    """

    exit_code = 1

    def __init__(self, message: str, hint: str = "", image: Any = None) -> None:
        super().__init__(message, hint)
        self.image = image
