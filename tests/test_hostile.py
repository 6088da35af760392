"""What a hostile user or machine can do to the command line (issue 15): every case
ends with one line on stderr and the documented exit code, never a traceback, a
false success or a lost file.

In-process where the CLI's own code is the subject (``cli.entry`` with a patched
``sys.argv``); a real process only where the operating system is (pipes, signals).
"""
import os
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


# --- option values -------------------------------------------------------------


def paint_args(files, tmp_path, *extra):
    return ["paint", "--style", files / "style.png", "--map", files / "doodle_sem.png", "-o", tmp_path / "o.png",
            "--iterations", "1", "--phases", "1", "--no-compile-cache", "-q", *extra]


@pytest.mark.parametrize("flag,value,fragment", [
    ("--semantic-weight", "nan", "--semantic-weight must be a finite number"),
    ("--semantic-weight", "inf", "--semantic-weight must be a finite number"),
    ("--variety", "nan", "--variety must be a finite number"),
    ("--variety", "-inf", "--variety must be a finite number"),
    ("--style-weight", "1e300", "--style-weight must be between 0 and 1e+06"),
    ("--content-weight", "-1", "--content-weight must be between"),
    ("--occurrence", "nan", "--occurrence"),
    ("--distribution-weight", "inf", "--distribution-weight"),
    ("--color-weight", "nan", "--color-weight"),
    ("--smoothness", "inf", "--smoothness"),
    ("--stall-tolerance", "nan", "--stall-tolerance"),
    ("--seed-range", "nan:200", "--seed-range"),
    ("--random-seed", str(2**64), "--random-seed must be at most 4294967295"),
    ("--random-seed", "-1", "--random-seed must be at least 0"),
    ("--output-size", "99999x99999", "at most 16384 pixels a side"),
    ("--output-size", "1" + "0" * 20 + "x1" + "0" * 20, "at most 16384 pixels a side"),
    ("--phases", str(10**30), "--phases must be at most 16"),
    ("--iterations", str(10**30), "--iterations must be at most"),
    ("--slices", str(10**30), "--slices must be at most"),
    ("--print-every", "-1", "--print-every must be at least 0"),
    ("--semantic-ext", "/x.png", "--semantic-ext '/x.png'"),
    ("--semantic-ext", "", "--semantic-ext must be a non-empty suffix"),
])
def test_bad_numbers_are_refused_naming_the_flag(files, tmp_path, monkeypatch, capsys, flag, value, fragment):
    code, out, err = entry(monkeypatch, capsys, *paint_args(files, tmp_path, flag, value))
    assert code == 2, err
    one_line(err, fragment)
    assert out == "" and not (tmp_path / "o.png").exists()


def test_library_errors_name_the_field():
    from doodle.errors import OptionError
    from doodle.options import Options, validate

    validate(Options())
    with pytest.raises(OptionError, match="option semantic_weight must be a finite number") as e:
        validate(Options(semantic_weight=float("nan")))
    assert e.value.field == "semantic_weight"
    assert str(e.value.as_flag()).startswith("--semantic-weight must be a finite number")
    with pytest.raises(OptionError, match="output_size"):
        validate(Options(output_size=(0, 10)))
    with pytest.raises(OptionError, match="iterations must be a whole number"):
        validate(Options(iterations=2.5))


# --- output paths, checked before painting ----------------------------------------


def refused_before_painting(files, tmp_path, monkeypatch, capsys, fragment, *extra):
    """Run ``paint`` with ``extra`` and assert one line, exit 2, and no painting."""
    from doodle import api

    def never(*args, **kw):
        raise AssertionError("painting started")

    monkeypatch.setattr(api, "paint_problem", never)
    before = {p.name: p.read_bytes() for p in files.iterdir() if p.is_file()}
    code, _, err = entry(monkeypatch, capsys, *paint_args(files, tmp_path, *extra))
    assert code == 2, err
    one_line(err, fragment)
    assert {p.name: p.read_bytes() for p in files.iterdir() if p.is_file()} == before  # inputs untouched
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("make,flags,fragment", [
    (lambda t: (t / "dir.png").mkdir(), ["-o", "{t}/dir.png"], "is a folder"),
    (None, ["-o", "{t}/missing/o.png"], "does not exist"),
    (lambda t: (t / "file").write_text(""), ["-o", "{t}/file/o.png"], "does not exist"),
    (None, ["-o", "{t}/" + "a" * 300 + ".png"], "too long"),
    (None, ["-o", "{t}/" + "a" * 250 + ".png"], "too long"),  # fits, but not its temporary file's name
    (None, ["-o", "/dev/full"], "image format"),
    (lambda t: (t / "frames").write_text(""), ["--save-every", "1", "--frames-dir", "{t}/frames"], "is a file"),
    (lambda t: (t / "f").write_text(""), ["--save-every", "1", "--frames-dir", "{t}/f/sub"], "not a folder"),
    (lambda t: (t / "log").mkdir(), ["--log-json", "{t}/log"], "--log-json"),
    (None, ["--log-json", "{t}/no/such/run.jsonl"], "--log-json"),
    (None, ["-o", "{d}/style.png"], "is an input of this painting"),
    (None, ["-o", "{d}/style_sem.png"], "is an input of this painting"),  # found beside the style
    (None, ["-o", "{d}/doodle_sem.png"], "is an input of this painting"),
    (None, ["--log-json", "{d}/style.png"], "--log-json"),
    (None, ["--animation", "{d}/style_sem.png"], "--animation"),
])
def test_bad_output_paths_are_refused_before_painting(files, tmp_path, monkeypatch, capsys, make, flags, fragment):
    if make is not None:
        make(tmp_path)
    flags = [f.replace("{t}", str(tmp_path)).replace("{d}", str(files)) for f in flags]
    if "/dev/" in flags[-1] and sys.platform != "linux":
        pytest.skip("Linux devices")
    refused_before_painting(files, tmp_path, monkeypatch, capsys, fragment, *flags)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and /sys are Linux's")
@pytest.mark.parametrize("flags", [["-o", "/proc/x.png"], ["-o", "/sys/x.png"],
                                   ["--save-every", "1", "--frames-dir", "/proc/frames"],
                                   ["--log-json", "/proc/x.jsonl"]])
def test_outputs_under_proc_and_sys_are_refused(files, tmp_path, monkeypatch, capsys, flags):
    refused_before_painting(files, tmp_path, monkeypatch, capsys, flags[-1], *flags)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes anywhere")
def test_read_only_output_folder_is_refused(files, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        refused_before_painting(files, tmp_path, monkeypatch, capsys, "ro", "-o", str(folder / "o.png"))
    finally:
        folder.chmod(0o755)


def test_output_through_a_link_to_an_input_is_refused(files, tmp_path, monkeypatch, capsys):
    (tmp_path / "link.png").symlink_to(files / "style.png")
    refused_before_painting(files, tmp_path, monkeypatch, capsys, "is an input", "-o", str(tmp_path / "link.png"))


def test_segment_refuses_to_overwrite_its_image(files, tmp_path, monkeypatch, capsys):
    image = tmp_path / "s.png"
    image.write_bytes((files / "style.png").read_bytes())
    code, _, err = entry(monkeypatch, capsys, "segment", image, "-o", image, "--force")
    assert code == 2
    one_line(err, "is the image being segmented")
    assert image.read_bytes() == (files / "style.png").read_bytes()
