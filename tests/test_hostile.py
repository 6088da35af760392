"""What a hostile user or machine can do to the command line (issue 15): every case
ends with one line on stderr and the documented exit code, never a traceback, a
false success or a lost file.

In-process where the CLI's own code is the subject (``cli.entry`` with a patched
``sys.argv``); a real process only where the operating system is (pipes, signals).
"""
import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from doodle import cli

from console import entry
from images import write_inputs


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = write_inputs(tmp_path_factory.mktemp("inputs"))
    (d / "text.png").write_text("not an image\n")
    bad = iio.imread(d / "doodle_sem.png").copy()
    bad[:4] = (0, 255, 0)  # a colour the style map lacks
    iio.imwrite(d / "green_sem.png", bad)
    return d




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
    from doodle.plan.options import Options, validate

    validate(Options())
    with pytest.raises(OptionError, match="option semantic_weight must be a finite number") as e:
        validate(Options.of(semantic_weight=float("nan")))
    assert e.value.field == "semantic_weight"
    assert str(e.value.as_flag()).startswith("--semantic-weight must be a finite number")
    with pytest.raises(OptionError, match="output_size"):
        validate(Options.of(output_size=(0, 10)))
    with pytest.raises(OptionError, match="iterations must be a whole number"):
        validate(Options.of(iterations=2.5))
    with pytest.raises(OptionError, match="release_memory must be one of auto, on, off") as e:
        validate(Options.of(release_memory="sometimes"))
    assert str(e.value.as_flag()).startswith("--release-memory must be one of")
    with pytest.raises(OptionError, match="finish must be one of auto, quilt, none"):
        validate(Options.of(finish="polish"))
    with pytest.raises(OptionError, match="quilt cannot wrap a `seamless` tile"):
        validate(Options.of(finish="quilt", seamless=True))
    validate(Options.of(finish="none", seamless=True))


# --- output paths, checked before painting ----------------------------------------


def refused_before_painting(files, tmp_path, monkeypatch, capsys, fragment, *extra):
    """Run ``paint`` with ``extra`` and assert one line, exit 2, and no painting."""
    from doodle.run import api

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


# --- errors at write time -------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent

# A `doodle` process whose painter is a stand-in (an image of noise at once): these
# tests are about what happens around painting, so they need no JAX compilation.
FAKE_PAINTER = """
import sys
import numpy as np
from doodle.run import api

class Fake:
    name = "fake"

def paint_problem(problem, options, *, callback=None, **kw):
    return np.random.default_rng(0).integers(0, 256, (*problem.size, 3), dtype=np.uint8)

api.paint_problem = paint_problem
api.resolve_extractor = lambda options, notice=None: Fake()
sys.argv[0] = "doodle"
from doodle.__main__ import main
main()
"""


def fake_process(files, tmp_path, *args, **popen):
    env = dict(os.environ, JAX_PLATFORMS="cpu", DOODLE_CACHE=str(tmp_path / "cache"), PYTHONPATH=str(ROOT))
    popen = {"stdout": subprocess.PIPE, **popen}
    return subprocess.Popen([sys.executable, "-c", FAKE_PAINTER, *map(str, paint_args(files, tmp_path, *args))],
                            cwd=tmp_path, env=env, stderr=subprocess.PIPE, **popen)


def finished(proc):
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err.decode()


def fake_painter(monkeypatch, image=None):
    """The painter replaced in-process: one progress event, then ``image`` (or noise)."""
    from doodle.run import api
    from doodle.core.synthesis import Progress

    def paint_problem(problem, options, *, callback=None, **kw):
        h, w = problem.size
        result = np.full((h, w, 3), 99, np.uint8) if image is None else image
        callback(Progress("iteration", 1, 1, 1, 1, (h, w), loss=1.0, image=result.astype(np.float32)))
        return result

    class Fake:
        name = "fake"

    monkeypatch.setattr(api, "paint_problem", paint_problem)
    monkeypatch.setattr(api, "resolve_extractor", lambda options, notice=None: Fake())


def test_disk_full_at_the_end_keeps_the_old_output(files, tmp_path, monkeypatch, capsys):
    from doodle.io import imaging

    fake_painter(monkeypatch)
    (tmp_path / "o.png").write_bytes(b"previous painting")

    def full(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(imaging.os, "replace", full)
    code, _, err = entry(monkeypatch, capsys, *paint_args(files, tmp_path))
    assert code == 1
    one_line(err, "No space left on device")
    assert (tmp_path / "o.png").read_bytes() == b"previous painting"
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file is removed


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_log_json_on_a_full_disk_exits_1_and_keeps_the_image(files, tmp_path, monkeypatch, capsys):
    fake_painter(monkeypatch)
    code, _, err = entry(monkeypatch, capsys, *paint_args(files, tmp_path, "--log-json", "/dev/full"))
    assert code == 1
    one_line(err, "cannot write --log-json '/dev/full': No space left on device")
    assert iio.imread(tmp_path / "o.png")[0, 0].tolist() == [99, 99, 99]


@pytest.mark.slow
def test_png_to_a_pipe_closed_early_is_one_line_exit_1(files, tmp_path):
    proc = fake_process(files, tmp_path, "--output-size", "256x256", "-o", "-")
    proc.stdout.close()  # `doodle … -o - | true`: the reader is gone before the PNG is written
    code, _, err = finished(proc)
    assert code == 1, err
    one_line(err, "cannot write the PNG to stdout: Broken pipe")


@pytest.mark.slow
def test_png_to_a_closed_stdout_is_refused(files, tmp_path):
    proc = fake_process(files, tmp_path, "-o", "-", stdout=None,
                        preexec_fn=lambda: os.close(1))  # `doodle … -o - >&-`
    code, _, err = finished(proc)
    assert code == 2, err
    one_line(err, "stdout is closed")


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs RLIMIT_FSIZE")
def test_file_too_large_is_one_line_exit_1(files, tmp_path):
    import resource

    proc = fake_process(files, tmp_path, "--output-size", "64x64",
                        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000)))  # ulimit -f
    code, _, err = finished(proc)
    assert code == 1, err
    one_line(err, "File too large")
    assert not (tmp_path / "o.png").exists() and not list(tmp_path.glob(".*.tmp"))


# --- signals --------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals")
@pytest.mark.parametrize("signum,expected", [(getattr(signal, "SIGTERM", 15), 143), (getattr(signal, "SIGHUP", 1), 129)])
def test_sigterm_and_sighup_save_the_image_like_ctrl_c(files, tmp_path, monkeypatch, capsys, signum, expected):
    import json
    import time

    from doodle.run import api
    from doodle.core.synthesis import Progress

    def paint_problem(problem, options, *, callback=None, **kw):
        image = np.full((*problem.size, 3), 77.0, np.float32)
        callback(Progress("iteration", 1, 1, 1, 100, problem.size, loss=1.0, image=image))
        os.kill(os.getpid(), signum)  # what `timeout` or a batch scheduler sends
        time.sleep(5)  # Python runs the handler at once; never reached
        raise AssertionError("the signal did not stop the painting")

    class Fake:
        name = "fake"

    monkeypatch.setattr(api, "paint_problem", paint_problem)
    monkeypatch.setattr(api, "resolve_extractor", lambda options, notice=None: Fake())
    class Unhandled(Exception):
        pass

    def unhandled(*args):  # what the signal would do if doodle did not handle it (not kill pytest)
        raise Unhandled

    before = signal.signal(signum, unhandled)
    log = tmp_path / "run.jsonl"
    try:
        code, _, err = entry(monkeypatch, capsys, *paint_args(files, tmp_path, "--log-json", log))
        assert signal.getsignal(signum) is unhandled  # the handlers are the painting's only
    finally:
        signal.signal(signum, before)
    assert code == expected, err
    assert f"terminated by {signal.Signals(signum).name}; the current image was saved" in err
    assert "Traceback" not in err
    assert iio.imread(tmp_path / "o.png")[0, 0].tolist() == [77, 77, 77]
    assert json.loads(log.read_text().splitlines()[-1])["exit_status"] == expected


@pytest.mark.slow
def test_ctrl_c_while_importing_jax_is_one_line_exit_130(files, tmp_path):
    # A stand-in `jax` that is interrupted as it is imported, as a Ctrl-C in the
    # first second of a run would interrupt the real one.
    (tmp_path / "fake" / "jax").mkdir(parents=True)
    (tmp_path / "fake" / "jax" / "__init__.py").write_text("raise KeyboardInterrupt\n")
    env = dict(os.environ, PYTHONPATH=f"{tmp_path / 'fake'}{os.pathsep}{ROOT}", DOODLE_CACHE=str(tmp_path / "c"))
    # `doodle check` needs no JAX: a check with the stand-in jax on the path still succeeds.
    for args in (paint_args(files, tmp_path),):
        proc = subprocess.run([sys.executable, "-m", "doodle", *map(str, args)], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 130, proc.stderr
        assert proc.stderr == "doodle: interrupted\n"


# --- hostile input files ----------------------------------------------------------


def test_cmyk_jpeg_reads_as_its_rgb_colours(tmp_path):
    from PIL import Image

    from doodle.io import imaging

    sky = np.zeros((16, 16, 3), np.uint8)
    sky[:] = (0x4A, 0xA8, 0xFF)
    sky[8:] = (0x30, 0x80, 0x20)  # and a green field
    Image.fromarray(sky).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    assert Image.open(tmp_path / "cmyk.jpg").mode == "CMYK"
    got = imaging.read_image(tmp_path / "cmyk.jpg").astype(int)
    assert got.shape == (16, 16, 3)
    assert np.abs(got[2:6] - sky[2:6]).max() <= 8  # JPEG's tolerance, away from the edge
    assert np.abs(got[10:14] - sky[10:14]).max() <= 8


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_as_an_image_is_refused_at_once(files, tmp_path):
    fifo = tmp_path / "doodle_sem.png"
    os.mkfifo(fifo)
    env = dict(os.environ, PYTHONPATH=str(ROOT), DOODLE_CACHE=str(tmp_path / "c"))
    for args in (["check", files / "style_sem.png", fifo],
                 ["paint", "--style", files / "style.png", "--map", fifo, "-o", tmp_path / "o.png"]):
        proc = subprocess.run([sys.executable, "-m", "doodle", *map(str, args)], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)  # it hung forever before
        assert proc.returncode == 2, proc.stderr
        one_line(proc.stderr, "is not a regular file")


@pytest.mark.parametrize("name", ["a" * 300 + ".png", "nul\0.png"])
def test_impossible_input_names_are_one_line(files, tmp_path, monkeypatch, capsys, name):
    code, _, err = entry(monkeypatch, capsys, "paint", "--style", name, "--map", files / "doodle_sem.png",
                         "-o", tmp_path / "o.png")
    assert code == 2, err
    one_line(err)


# --- message shape and hostile weight files ------------------------------------------


def test_message_and_hint_join_as_sentences():
    from doodle.errors import DoodleError, error_line

    assert str(DoodleError("which weight files never need", "only arrays are read.")) == \
        "which weight files never need. only arrays are read."
    assert str(DoodleError("done.", "next")) == "done. next"
    assert error_line(DoodleError("two\nlines", "and a hint")) == "doodle: error: two lines. and a hint"


def _zip_with(tmp_path, flags=0, method=None):
    """A torch-like zip (archive/data.pkl) with its headers' flags or method patched."""
    import zipfile

    path = tmp_path / "vgg19.pth"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
        zf.writestr("archive/version", "3\n")
    data = bytearray(path.read_bytes())
    for signature, at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # local and central headers
        i = data.find(signature)
        while i >= 0:
            data[i + at:i + at + 2] = (int.from_bytes(data[i + at:i + at + 2], "little") | flags).to_bytes(2, "little")
            if method is not None:
                data[i + at + 2:i + at + 4] = method.to_bytes(2, "little")
            i = data.find(signature, i + 4)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("make,fragment", [
    (lambda t: _zip_with(t, flags=0x1), "password-protected"),
    (lambda t: _zip_with(t, method=99), "compression method 99"),
    (lambda t: _safetensors_nested(t), "corrupt safetensors header"),
])
def test_hostile_weight_files_are_one_line_exit_2(tmp_path, monkeypatch, capsys, make, fragment):
    path = make(tmp_path)
    code, out, err = entry(monkeypatch, capsys, "weights", "info", path)
    assert code == 2, err
    one_line(err, fragment)
    assert out == ""


def _safetensors_nested(tmp_path):
    header = b"{\"a\":" + b"[" * 100_000 + b"]" * 100_000 + b"}"
    path = tmp_path / "deep.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header)
    return path


def test_weights_errors_are_one_line(tmp_path, monkeypatch, capsys):
    code, _, err = entry(monkeypatch, capsys, "weights", "info", tmp_path / "missing.pth")
    assert code == 2
    one_line(err)
