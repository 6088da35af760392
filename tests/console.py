"""Running the console entry point inside a test, as a user's shell would."""
import sys

import pytest

from doodle import cli


def entry(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    """``doodle ARGS`` through the console entry point: (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["doodle", *map(str, args)])
    with pytest.raises(SystemExit) as exit_:
        cli.entry()
    out, err = capsys.readouterr()
    code = exit_.value.code
    return (0 if code is None else code), out, err
