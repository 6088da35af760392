"""SIGTERM and SIGHUP, while painting, end the run as Ctrl-C does."""
from __future__ import annotations

import contextlib
import signal
import threading


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP (batch schedulers, ``timeout``, a closed terminal), handled as
    Ctrl-C is: the current image is saved, and the exit status is 128 + the signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def signals_as_interrupts():
    """While painting, SIGTERM and SIGHUP raise :class:`Terminated` (once: a second
    one while the image is being saved is ignored, so the save completes).

    A signal already ignored (``nohup`` ignores SIGHUP) stays ignored. Python only
    lets the main thread set handlers; elsewhere (a GUI's worker) nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised = []

    def handler(signum: int, frame) -> None:
        if not raised:
            raised.append(signum)
            raise Terminated(signum)

    previous = {}
    for name in ("SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is not None and signal.getsignal(number) is not signal.SIG_IGN:
            previous[number] = signal.signal(number, handler)
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)
