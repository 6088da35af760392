"""What a hostile user or machine can do to the command line (issue 15): every case
ends with one line on stderr and the documented exit code, never a traceback, a
false success or a lost file.

In-process where the CLI's own code is the subject (``cli.entry`` with a patched
``sys.argv``); a real process only where the operating system is (pipes, signals).
"""
import sys

import imageio.v3 as iio
import numpy as np
import pytest

from doodle import cli

from images import write_inputs


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = write_inputs(tmp_path_factory.mktemp("inputs"))
    (d / "text.png").write_text("not an image\n")
    bad = iio.imread(d / "doodle_sem.png").copy()
    bad[:4] = (0, 255, 0)  # a colour the style map lacks
    iio.imwrite(d / "green_sem.png", bad)
    return d


def entry(monkeypatch, capsys, *args):
    """``doodle ARGS`` through the console entry point: (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["doodle", *map(str, args)])
    with pytest.raises(SystemExit) as exit_:
        cli.entry()
    out, err = capsys.readouterr()
    code = exit_.value.code
    return (0 if code is None else code), out, err


def one_line(err, fragment=""):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("doodle: error: "), err
    assert fragment in lines[0], err
    assert "Traceback" not in err


# --- exit codes through the entry point -----------------------------------------


def test_check_exit_codes_reach_the_shell(files, monkeypatch, capsys):
    code, out, _ = entry(monkeypatch, capsys, "check", files / "style_sem.png", files / "doodle_sem.png")
    assert code == 0 and "compatible" in out
    code, out, _ = entry(monkeypatch, capsys, "check", files / "style_sem.png", files / "green_sem.png")
    assert code == 1 and "#00ff00" in out
    code, _, err = entry(monkeypatch, capsys, "check", files / "style_sem.png", files / "text.png")
    assert code == 2
    one_line(err, "not a readable image")


def test_segment_of_a_text_file_exits_2(files, monkeypatch, capsys, tmp_path):
    code, _, err = entry(monkeypatch, capsys, "segment", files / "text.png", "-o", tmp_path / "m.png")
    assert code == 2
    one_line(err, "not a readable image")
    assert not (tmp_path / "m.png").exists()
