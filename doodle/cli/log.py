"""``--log-json`` for the command line: a log that outlives a full disk or a reader
that left, and its summary line at the end of every run."""
from __future__ import annotations

from typing import Optional

from doodle.cli.outputs import silence_stdout
from doodle.errors import InputError, WriteError
from doodle.run.reporting import JsonLog, Reporter, RunInfo


class GuardedLog(JsonLog):
    """``--log-json`` that survives its disk filling up or its reader leaving: the
    first failed write is kept in ``failed`` and later ones are skipped, so the
    painting goes on and is saved; the run then ends with exit 1 saying so."""

    failed: Optional[OSError] = None

    def write(self, record) -> None:
        if self.failed is not None:
            return
        try:
            super().write(record)
        except (OSError, ValueError) as e:  # ValueError: written after the stream closed
            self.failed = e
            if not self.owned:
                silence_stdout()

    def close(self) -> None:
        try:
            super().close()
        except OSError as e:  # the last buffered bytes did not fit either
            self.failed = self.failed or e


def open_log(target: str) -> JsonLog:
    """The log ``--log-json target`` names ("-": stdout); InputError when it cannot be opened."""
    try:
        return GuardedLog.open(target)
    except OSError as e:
        raise InputError(f"cannot write --log-json {target!r}: {e.strerror}.",
                         "Check that its folder exists and is writable.") from None


def log_error(target: str, e: Exception) -> WriteError:
    """The error of a log that lost lines (the painting itself was saved)."""
    reason = getattr(e, "strerror", None) or str(e)
    return WriteError(f"cannot write --log-json {target!r}: {reason}; the log is incomplete.",
                      "Free some space, or log somewhere else.", path=target)


def finish_log(reporter: Reporter, info: RunInfo, code: int, error: Optional[str]) -> None:
    """Write the summary line and close the log (if there is one)."""
    from doodle import __version__
    from doodle.run import reporting

    if reporter.log is None:
        return
    reporter.log.write(reporting.summary_record(info, reporter.phases, code, error, version=__version__))
    reporter.log.close()
