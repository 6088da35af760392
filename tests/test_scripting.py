"""doodle in shells, Makefiles and scripts: logs, --log-json, formats, --animation,
exit codes, reproducible bytes, the compilation cache, samples/Makefile, the API.

Every painting here is the same tiny case (a 40 px style, a 32 px doodle, two
iterations, one phase, style layer 1_1 only: the shallowest network compiles
fastest), so the in-process runs share one compilation; these tests are about the
plumbing around the painter, not the painting.
"""
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from click.testing import CliRunner

from doodle import cli
from doodle.run import reporting
from doodle.cli import runtime
from doodle.errors import DivergenceError
from doodle.plan.options import Options
from doodle.core.synthesis import Progress

from console import default_sigint, interrupt
from images import write_inputs

ROOT = Path(__file__).resolve().parent.parent
QUICK = ["--iterations", "2", "--phases", "1", "--random-seed", "1", "--weights", "builtin",
         "--style-layers", "1_1"]
IN_PROCESS = [*QUICK, "--no-compile-cache"]  # JAX's cache dir is process-wide: tests never set it here


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return write_inputs(tmp_path_factory.mktemp("inputs"))


def inputs(files):
    return ["--style", str(files / "style.png"), "--map", str(files / "doodle_sem.png")]


def run(*args):
    """In-process ``doodle paint``: (exit code, stdout, stderr)."""
    result = CliRunner().invoke(cli.main, ["paint", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def one_error_line(code, stderr, fragment, expected=2):
    assert code == expected, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("doodle: error:"), stderr
    assert fragment in lines[0], stderr


def read_log(text):
    records = [json.loads(line) for line in text.splitlines()]  # every line is one JSON object
    assert records and records[-1]["event"] == "summary"
    assert all(r["event"] == "iteration" for r in records[:-1])
    return records[:-1], records[-1]


# --- progress on stderr --------------------------------------------------------


def test_plain_log_lines_every_print_every(files, tmp_path):
    code, out, err = run(*inputs(files), "-o", str(tmp_path / "o.png"), *IN_PROCESS, "--print-every", "1")
    assert code == 0, err
    assert out == ""
    assert "\r" not in err and "\x1b" not in err  # not a terminal: no bar
    assert "iteration 1/2" in err and "iteration 2/2" in err
    assert "phase 1 done" in err

    code, out, err = run(*inputs(files), "-o", str(tmp_path / "o.png"), *IN_PROCESS, "--print-every", "0")
    assert code == 0, err
    assert "iteration 1/" not in err and "phase 1 done" in err


def test_quiet_prints_nothing(files, tmp_path):
    code, out, err = run(*inputs(files), "-o", str(tmp_path / "o.png"), *IN_PROCESS, "-q")
    assert (code, out, err) == (0, "", "")
    assert iio.imread(tmp_path / "o.png").shape == (32, 32, 3)


def events(phases=((16, 16), (32, 32)), iterations=4):
    """Progress events of a run (images are constant grey, of each phase's size)."""
    n = len(phases)
    for i, hw in enumerate(phases, 1):
        grey = np.full(hw + (3,), 40.0 * i, np.float32)
        base = dict(phase=i, phases=n, iterations=iterations, shape=hw)
        yield Progress("phase", iteration=0, image=grey, **base)
        for it in range(1, iterations + 1):
            yield Progress("iteration", iteration=it, loss=1000.0 / it, terms={"style 3_1": 900.0 / it},
                           seconds=2.0 + 0.5 * it, image=grey + it, **base)
        yield Progress("done", iteration=iterations, loss=250.0, seconds=4.0, image=grey + iterations, **base)


def test_progress_bar_on_a_terminal(tmp_path):
    stream = io.StringIO()
    reporter = reporting.Reporter(Options.of(print_every=1), stream=stream, tty=True)
    for p in events():
        reporter(p)
    reporter.notice("wrote o.png")
    text = stream.getvalue()
    lines = text.split("\n")
    assert [line.rsplit("\r", 1)[-1].split("  ")[0] for line in lines[:2]] == ["phase 1/2", "phase 2/2"]
    for line in lines[:2]:  # one line per phase, redrawn in place, ending complete
        last = line.rsplit("\r", 1)[-1]
        assert "4/4" in last and "loss 250" in last and "done in 0:04" in last, last
    assert "s/it" in text and "ETA" in text
    assert "0.50 s/it" in text  # steady rate: the first (compiling) evaluation is left out
    assert lines[2] == "doodle: wrote o.png"
    assert "iteration 1/4" not in text  # no plain lines on a terminal
    assert [p["phase"] for p in reporter.phases] == [1, 2] and reporter.phases[1]["completed"]

    quiet = io.StringIO()
    reporter = reporting.Reporter(Options(), stream=quiet, tty=True, quiet=True)
    for p in events():
        reporter(p)
    assert quiet.getvalue() == ""


def test_format_helpers():
    assert reporting.format_duration(7.4) == "0:07"
    assert reporting.format_duration(3723) == "1:02:03"
    assert reporting.format_duration(float("inf")) == "?:??"
    assert [reporting.should_log(i, 25, 10) for i in (1, 2, 10, 11, 20, 25)] == [True, False, True, False, True, True]
    assert not reporting.should_log(1, 25, 0)


# --- --log-json ----------------------------------------------------------------


def test_log_json_file(files, tmp_path):
    log = tmp_path / "run.jsonl"
    out = tmp_path / "o.png"
    code, _, err = run(*inputs(files), "-o", str(out), *IN_PROCESS, "-q", "--print-every", "1", "--log-json", str(log))
    assert code == 0, err
    iterations, summary = read_log(log.read_text())
    assert [(r["phase"], r["iteration"]) for r in iterations] == [(1, 1), (1, 2)]
    for r in iterations:
        assert isinstance(r["loss"], float) and r["loss"] > 0
        assert set(r["terms"]) == {"style 1_1", "distribution 1_1", "colour", "smoothness"}
        assert r["seconds"] >= 0
    assert summary["exit_status"] == 0 and summary["error"] is None
    assert summary["output"] == str(out)
    assert summary["inputs"]["style"] == str(files / "style.png")
    assert summary["inputs"]["style_map"] == str(files / "style_sem.png")  # found beside the style
    assert summary["inputs"]["map"] == str(files / "doodle_sem.png")
    assert summary["random_seed"] == 1 and summary["options"]["random_seed"] == 1
    assert summary["options"]["style_layers"] == ["1_1"] and summary["options"]["output_size"] == [32, 32]
    assert summary["extractor"] == "built-in"
    assert summary["device"].startswith("cpu")
    [phase] = summary["phases"]
    assert phase["completed"] and phase["iterations"] == 2 and phase["size"] == [32, 32]
    assert phase["loss"] == iterations[-1]["loss"]


def test_a_phase_stopped_early_is_said_and_logged(files, tmp_path):
    log = tmp_path / "run.jsonl"
    code, _, err = run(*inputs(files), "-o", str(tmp_path / "o.png"), *IN_PROCESS, "--iterations", "30",
                       "--stall-tolerance", "0.5", "--stall-window", "2", "--log-json", str(log))
    assert code == 0, err
    assert "doodle: phase 1 stopped after" in err
    _, summary = read_log(log.read_text())
    [phase] = summary["phases"]
    assert phase["iterations"] < 30 and "stopped after" in phase["stopped_early"]


@pytest.mark.parametrize("flags,fragment", [(["--stall-tolerance", "1.5"], "--stall-tolerance"),
                                            (["--stall-window", "0"], "--stall-window")])
def test_bad_stall_options_are_usage_errors(files, tmp_path, flags, fragment):
    code, _, err = run(*inputs(files), "-o", str(tmp_path / "o.png"), *IN_PROCESS, *flags)
    one_error_line(code, err, fragment)


def test_log_json_to_stdout(files, tmp_path):
    code, out, err = run(*inputs(files), "-o", str(tmp_path / "o.png"), *IN_PROCESS, "--log-json", "-")
    assert code == 0, err
    iterations, summary = read_log(out)  # stdout holds the log and nothing else
    assert len(iterations) == 2 and summary["exit_status"] == 0
    assert "doodle: wrote" in err  # messages stay on stderr


@pytest.mark.slow
def test_log_json_and_png_cannot_share_stdout():
    # A real process: the console entry point's one line and exit code.
    proc = subprocess.run([sys.executable, "-m", "doodle", "paint", "--style", "x.png", "-o", "-", "--log-json", "-"],
                          capture_output=True, text=True, cwd=ROOT)
    one_error_line(proc.returncode, proc.stderr, "both want stdout")
    assert proc.stdout == ""


def test_log_json_records_a_refused_run(files, tmp_path):
    log = tmp_path / "run.jsonl"
    code, _, err = run("--style", str(tmp_path / "missing.png"), "-o", str(tmp_path / "o.png"), *IN_PROCESS,
                       "--log-json", str(log))
    one_error_line(code, err, "does not exist")
    iterations, summary = read_log(log.read_text())
    assert iterations == [] and summary["exit_status"] == 2 and "does not exist" in summary["error"]


def test_log_json_unwritable_is_a_usage_error(files, tmp_path):
    code, _, err = run(*inputs(files), "-o", str(tmp_path / "o.png"), *IN_PROCESS,
                       "--log-json", str(tmp_path / "no" / "such" / "dir.jsonl"))
    one_error_line(code, err, "--log-json")


# --- output formats and --animation ------------------------------------------


def webp_supported():
    from PIL import features

    return features.check("webp")


@pytest.mark.parametrize("suffix,magic", [
    (".png", b"\x89PNG"),
    (".jpg", b"\xff\xd8\xff"),
    pytest.param(".webp", b"RIFF", marks=pytest.mark.skipif(not webp_supported(), reason="Pillow without WebP")),
    (".tiff", (b"II*\x00", b"MM\x00*")),
])
def test_output_formats(files, tmp_path, suffix, magic):
    from doodle.io import imaging

    out = tmp_path / f"o{suffix}"
    code, _, err = run(*inputs(files), "-o", str(out), *IN_PROCESS, "-q")
    assert code == 0, err
    assert out.read_bytes().startswith(magic)
    assert imaging.read_image(out).shape == (32, 32, 3)  # doodle reads back what it writes
    assert oct(out.stat().st_mode & 0o777) == oct(0o666 & ~imaging._umask())  # not mkstemp's 0600


def test_unsupported_format_is_refused_before_painting(files, tmp_path, monkeypatch):
    from doodle.io import imaging

    real = imaging.encode_image

    def no_webp(image, suffix):
        if suffix.lower() == ".webp":
            raise KeyError("WEBP")  # what Pillow raises without WebP support
        return real(image, suffix)

    monkeypatch.setattr(imaging, "encode_image", no_webp)
    code, _, err = run(*inputs(files), "-o", str(tmp_path / "o.webp"), *IN_PROCESS)
    one_error_line(code, err, "cannot write WEBP")


def test_animation_every_print_every(files, tmp_path):
    gif = tmp_path / "a.gif"
    code, _, err = run(*inputs(files), "-o", str(tmp_path / "o.png"), *IN_PROCESS, "-q", "--print-every", "1",
                       "--animation", str(gif))
    assert code == 0, err
    frames = iio.imread(gif, index=None)
    # Iterations 1 and 2, then the output, which quilting (--finish auto) made a frame of its own.
    assert frames.shape == (3, 32, 32, 3)
    out = iio.imread(tmp_path / "o.png")[..., :3].astype(int)
    off = [np.abs(frame.astype(int) - out).mean() for frame in frames]  # a GIF's palette is not exact
    assert off[-1] < off[-2], off
    code, _, err = run(*inputs(files), "-o", str(tmp_path / "p.png"), *IN_PROCESS, "-q", "--print-every", "1",
                       "--animation", str(gif), "--finish", "none")
    assert code == 0, err
    assert iio.imread(gif, index=None).shape == (2, 32, 32, 3)  # unquilted: iteration 2 is the output


def test_animation_from_saved_frames(files, tmp_path):
    gif, frames_dir = tmp_path / "a.gif", tmp_path / "frames"
    code, _, err = run(*inputs(files), "-o", str(tmp_path / "o.png"), *IN_PROCESS, "-q", "--print-every", "0",
                       "--save-every", "1", "--frames-dir", str(frames_dir), "--animation", str(gif))
    assert code == 0, err
    assert sorted(p.name for p in frames_dir.iterdir()) == ["o-p1-0001.png", "o-p1-0002.png"]
    assert iio.imread(gif, index=None).shape == (3, 32, 32, 3)  # and the quilted output


def test_animation_must_be_a_gif(files, tmp_path):
    code, _, err = run(*inputs(files), "-o", str(tmp_path / "o.png"), *IN_PROCESS, "--animation", "a.png")
    one_error_line(code, err, "must end in .gif")


def test_gif_frames_are_all_the_output_size():
    animation = reporting.Animation(every=2)
    reporter = reporting.Reporter(Options.of(print_every=2), stream=io.StringIO(), tty=False, animation=animation)
    for p in events(phases=((8, 12), (16, 24)), iterations=4):
        reporter(p)
    assert [f.shape for f in animation.frames] == [(8, 12, 3)] * 2 + [(16, 24, 3)] * 2
    animation.finish(reporting.to_uint8(reporter.last))  # already the last frame: not repeated
    frames = iio.imread(io.BytesIO(animation.encode((16, 24))), index=None)
    assert frames.shape == (4, 16, 24, 3)
    # Upsampling keeps flat colours flat and stays between the neighbours' values.
    assert np.array_equal(reporting.upsample(np.full((3, 5, 3), 77, np.uint8), (12, 20)), np.full((12, 20, 3), 77))
    ramp = reporting.upsample(np.array([[[0] * 3, [200] * 3]], np.uint8), (1, 8))[0, :, 0]
    assert ramp[0] == 0 and ramp[-1] == 200 and np.all(np.diff(ramp.astype(int)) >= 0)


# --- exit codes ----------------------------------------------------------------


def test_exit_codes_are_documented():
    help_text = CliRunner().invoke(cli.main, ["paint", "--help"]).output
    readme = (ROOT / "README.md").read_text()
    for text in (help_text, readme):
        flat = " ".join(text.split())
        for fragment in ("0 done", "1 runtime failure", "2 bad input or usage", "130 interrupted"):
            assert fragment in flat


def _fake_paint(fail):
    """An api.paint_problem that reports one evaluation, then fails with ``fail``."""
    def paint(problem, options, *, callback, **kw):
        image = np.full((32, 32, 3), 99.0, np.float32)
        callback(Progress("phase", 1, 1, 0, options.painting.iterations, (32, 32), image=image))
        callback(Progress("iteration", 1, 1, 1, options.painting.iterations, (32, 32), loss=5.0, image=image))
        if fail == "diverge":
            raise DivergenceError("the optimisation diverged.", image=image)
        raise KeyboardInterrupt
    return paint


@pytest.mark.parametrize("fail,expected", [("diverge", 1), ("interrupt", 130)])
def test_failures_keep_the_image_and_log_the_status(files, tmp_path, monkeypatch, fail, expected):
    from doodle.run import api

    monkeypatch.setattr(api, "paint_problem", _fake_paint(fail))
    out, gif, log = tmp_path / "o.png", tmp_path / "a.gif", tmp_path / "run.jsonl"
    code, _, err = run(*inputs(files), "-o", str(out), *IN_PROCESS, "--print-every", "1",
                       "--animation", str(gif), "--log-json", str(log))
    assert code == expected, err
    assert iio.imread(out)[0, 0].tolist() == [99, 99, 99]  # the image so far is saved
    assert iio.imread(gif, index=None).shape[1:] == (32, 32, 3)
    iterations, summary = read_log(log.read_text())
    assert len(iterations) == 1
    assert summary["exit_status"] == expected and summary["error"]
    assert summary["phases"][0]["completed"] is False


# --- real processes: stdout, reproducible bytes, the compilation cache, Ctrl-C ---


def doodle_process(files, cache, *args, **popen):
    env = dict(os.environ, JAX_PLATFORMS="cpu", DOODLE_CACHE=str(cache))
    env.pop("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", None)  # doodle's own setting
    return subprocess.Popen([sys.executable, "-m", "doodle", "paint", *inputs(files), *QUICK, *args],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)


@pytest.fixture(scope="module")
def processes(files, tmp_path_factory):
    """Three runs of one painting: with the cache (cold) and --no-compile-cache, side by
    side, then with the cache again (warm) writing the PNG to stdout."""
    d = tmp_path_factory.mktemp("processes")
    cold = doodle_process(files, d / "cache", "-q", "-o", str(d / "cold.png"))
    nocache = doodle_process(files, d / "nocache", "-q", "-o", str(d / "nocache.png"), "--no-compile-cache")
    results = {"cold": cold.communicate(timeout=300), "nocache": nocache.communicate(timeout=300)}
    codes = {"cold": cold.returncode, "nocache": nocache.returncode}
    warm = doodle_process(files, d / "cache", "-o", "-", "--log-json", str(d / "warm.jsonl"))
    results["warm"] = warm.communicate(timeout=300)
    codes["warm"] = warm.returncode
    for name, code in codes.items():
        assert code == 0, (name, results[name][1].decode())
    return d, results


@pytest.mark.slow
def test_png_on_stdout_and_nothing_else(processes):
    d, results = processes
    stdout, stderr = results["warm"]
    assert stdout.startswith(b"\x89PNG\r\n\x1a\n")
    assert iio.imread(io.BytesIO(stdout), extension=".png").shape == (32, 32, 3)
    # Nothing after the PNG's end: its last chunk is IEND and its CRC.
    assert stdout.endswith(b"IEND\xaeB`\x82")
    assert b"wrote PNG to stdout" in stderr
    _, summary = read_log((d / "warm.jsonl").read_text())
    assert summary["output"] == "-" and summary["exit_status"] == 0


@pytest.mark.slow
def test_quiet_process_prints_nothing(processes):
    _, results = processes
    assert results["cold"] == (b"", b"")


@pytest.mark.slow
def test_same_seed_same_bytes(processes):
    # Three processes (compiling, not caching, loading from the cache) agree to the
    # byte, the provenance record included (it holds no seconds).
    d, results = processes
    cold = (d / "cold.png").read_bytes()
    assert cold == (d / "nocache.png").read_bytes()
    assert cold == results["warm"][0]


@pytest.mark.slow
def test_compile_cache_fills_the_cache_dir(processes):
    d, _ = processes
    assert any((d / "cache" / "jax").iterdir())
    # --no-compile-cache writes no programs (the built-in calibration may still be kept).
    assert not (d / "nocache" / "jax").exists() or not any((d / "nocache" / "jax").rglob("*"))


def test_compile_cache_follows_doodle_cache(tmp_path, monkeypatch):
    import jax

    seen = {}
    monkeypatch.setattr(jax.config, "update", lambda name, value: seen.__setitem__(name, value))
    monkeypatch.setenv("DOODLE_CACHE", str(tmp_path / "c"))
    monkeypatch.delenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", raising=False)
    runtime.enable_compile_cache()
    assert seen["jax_compilation_cache_dir"] == str(tmp_path / "c" / "jax")
    assert seen["jax_persistent_cache_min_compile_time_secs"] == 0.0


@pytest.mark.slow
def test_ctrl_c_saves_the_image_and_exits_130(files, processes):
    d, _ = processes
    out, log = d / "interrupted.png", d / "interrupted.jsonl"
    # The warm cache: no compiling. Many iterations: it is still painting when interrupted.
    proc = doodle_process(files, d / "cache", "-o", str(out), "--iterations", "500", "--print-every", "1",
                          "--log-json", str(log), preexec_fn=default_sigint)
    rest = interrupt(proc, b"iteration 1/")
    assert proc.returncode == 130, rest.decode()
    assert b"interrupted" in rest
    assert iio.imread(out).shape == (32, 32, 3)
    _, summary = read_log(log.read_text())
    assert summary["exit_status"] == 130 and not summary["phases"][0]["completed"]


# --- samples/Makefile ----------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_makefile_paints_every_doodle(tmp_path):
    out = tmp_path / "out"
    packs = sorted(p.name.removesuffix("_doodle_sem.png") for p in (ROOT / "samples").glob("*_doodle_sem.png"))
    assert packs

    def planned(*extra):
        proc = subprocess.run(["make", "-n", "-C", str(ROOT / "samples"), f"OUT={out}", *extra],
                              capture_output=True, text=True, check=True)
        return [line for line in proc.stdout.splitlines() if " paint " in line]

    lines = planned("ITERATIONS=3", "DOODLE=doodle")
    assert sorted(line.split(" -o ")[1].split()[0] for line in lines) == [f"{out}/{p}.png" for p in packs]
    for pack, line in zip(packs, sorted(lines, key=lambda l: l.split(" -o ")[1])):
        assert line.startswith("doodle paint ")
        assert f"--style {pack} --map {pack}_doodle_sem.png" in line and "--iterations 3" in line

    # Up-to-date outputs (newer than their doodle and pack) are left alone.
    out.mkdir()
    for pack in packs[1:]:
        (out / f"{pack}.png").write_bytes(b"")
    assert [line.split(" -o ")[1].split()[0] for line in planned()] == [f"{out}/{packs[0]}.png"]


# --- the Python API ------------------------------------------------------------


def test_paint_twice_reuses_compilation(files, builtin_extractor):
    from doodle.run import api
    from doodle.core import patches, synthesis, vgg

    jitted = {f"{m.__name__}.{name}": fn for m in (synthesis, patches, vgg)
              for name, fn in vars(m).items() if callable(getattr(fn, "_cache_size", None))}
    if not jitted:
        pytest.skip("this JAX does not expose the jitted functions' cache sizes")
    style, style_map = iio.imread(files / "style.png"), files / "style_sem.png"
    options = Options.of(iterations=2, phases=1, random_seed=1, style_layers=("1_1",))
    first = api.paint(style, style_map=style_map, map=files / "doodle_sem.png", options=options,
                      extractor=builtin_extractor)
    sizes = {name: fn._cache_size() for name, fn in jitted.items()}
    second = api.paint(style, style_map=style_map, map=files / "doodle_sem.png", options=options,
                       extractor=builtin_extractor)
    assert {name: fn._cache_size() for name, fn in jitted.items()} == sizes  # nothing compiled again
    assert first.dtype == np.uint8 and first.shape == (32, 32, 3)
    assert np.array_equal(first, second)
