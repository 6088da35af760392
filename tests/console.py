"""Running the console entry point inside a test, as a user's shell would."""
import signal
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


def default_sigint() -> None:
    """``preexec_fn`` for a child that Ctrl-C must reach: a shell running us in the
    background (CI may) starts children with SIGINT ignored, and Python then never
    raises KeyboardInterrupt; an interactive user's terminal gives the default."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt(proc, marker: bytes, timeout: float = 120) -> bytes:
    """Send SIGINT to ``proc`` as soon as a line of its stderr holds ``marker``; the
    rest of its stderr once it has ended (it is killed if it outlives ``timeout``)."""
    try:
        for line in proc.stderr:
            if marker in line:
                proc.send_signal(signal.SIGINT)
                break
        _, rest = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
    return rest
