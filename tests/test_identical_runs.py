"""The same run writes the same bytes (the provenance record holds no seconds), and a
PNG on stdout arrives whole or the exit is 1."""
import fcntl
import filecmp
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from doodle import cli

from images import write_inputs

ROOT = Path(__file__).resolve().parent.parent
# A 32×32 painting: one phase of two evaluations with the built-in extractor.
QUICK = ["--iterations", "2", "--phases", "1", "--random-seed", "9", "--weights", "builtin", "--no-compile-cache",
         "-q"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return write_inputs(tmp_path_factory.mktemp("inputs"))


def paint(inputs, output, *more):
    result = CliRunner().invoke(cli.main, ["paint", "--style", str(inputs / "style.png"), "--map",
                                           str(inputs / "doodle_sem.png"), "-o", str(output), *QUICK, *more],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_two_runs_write_identical_files(inputs, tmp_path):
    paint(inputs, tmp_path / "a.png")
    paint(inputs, tmp_path / "b.png")
    assert b"doodle" in (tmp_path / "a.png").read_bytes()  # the record is there…
    assert filecmp.cmp(tmp_path / "a.png", tmp_path / "b.png", shallow=False)  # …and the same


def test_two_runs_to_stdout_write_identical_bytes(inputs, tmp_path):
    first, again = paint(inputs, "-").stdout_bytes, paint(inputs, "-").stdout_bytes
    assert first.startswith(b"\x89PNG") and first == again
    paint(inputs, tmp_path / "file.png")
    assert (tmp_path / "file.png").read_bytes() == first  # the file is what stdout gets


def test_batch_jobs_of_the_same_inputs_and_seed_write_identical_files(inputs, tmp_path):
    job = {"style": str(inputs / "style.png"), "map": str(inputs / "doodle_sem.png"), "random_seed": 9,
           "iterations": 2, "phases": 1, "weights": "builtin"}
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("".join(json.dumps(dict(job, output=str(tmp_path / name))) + "\n" for name in ("a.png", "b.png")))
    result = CliRunner().invoke(cli.main, ["batch", str(jobs), "--no-compile-cache", "-q"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert filecmp.cmp(tmp_path / "a.png", tmp_path / "b.png", shallow=False)


def test_a_sequence_painted_twice_writes_identical_frames(inputs, tmp_path):
    import imageio.v3 as iio

    from images import swapped_doodle

    frames = tmp_path / "maps"
    frames.mkdir()
    doodle = swapped_doodle(32)
    iio.imwrite(frames / "f1_sem.png", doodle)
    iio.imwrite(frames / "f2_sem.png", doodle[:, ::-1])
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        result = CliRunner().invoke(cli.main, ["paint", "--style", str(inputs / "style.png"), "--map",
                                               str(frames / "f*_sem.png"), "-o", str(tmp_path / run / "{stem}.png"),
                                               *QUICK], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert len(names) == 2
    for name in names:
        assert filecmp.cmp(tmp_path / "a" / name, tmp_path / "b" / name, shallow=False), name


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(fcntl, "F_SETPIPE_SZ"), reason="needs a pipe whose size can be set (Linux)")
@pytest.mark.parametrize("unbuffered", ["", "1"])  # "1": stdout's binary layer is the raw file (python -u)
def test_a_reader_that_leaves_early_makes_the_exit_1(inputs, unbuffered):
    read, write = os.pipe()
    # A small pipe and a painting larger than it: the PNG cannot all be sitting in the
    # pipe's buffer when the reader leaves, so doodle must see that it went.
    fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, 4096)
    env = dict(os.environ, PYTHONUNBUFFERED=unbuffered)
    proc = subprocess.Popen([sys.executable, "-m", "doodle", "paint", "--style", str(inputs / "style.png"),
                             "--map", str(inputs / "doodle_sem.png"), "--output-size", "64x64", *QUICK, "-o", "-"],
                            cwd=ROOT, stdout=write, stderr=subprocess.PIPE, env=env)
    os.close(write)
    try:
        assert os.read(read, 10) == b"\x89PNG\r\n\x1a\n\x00\x00"
    finally:
        os.close(read)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 1, stderr
    lines = stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("doodle: error: cannot write the PNG to stdout"), stderr
    assert "Traceback" not in stderr.decode()


def test_stdout_gets_every_byte_of_short_writes(monkeypatch):
    # A stream that takes at most 7 bytes a call, as a raw file may: nothing is lost.
    from doodle.cli import outputs

    taken = bytearray()

    class Short:
        def write(self, data):
            taken.extend(bytes(data[:7]))
            return min(len(data), 7)

        def flush(self):
            pass

        def fileno(self):
            raise OSError("no descriptor")

    class Text:
        buffer = Short()

        def flush(self):
            pass

    monkeypatch.setattr(sys, "stdout", Text())
    outputs.write_stdout(bytes(range(256)) * 3)
    assert bytes(taken) == bytes(range(256)) * 3
