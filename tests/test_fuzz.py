"""Generated hostile inputs for the command line (issue 15's fuzz suite).

Every case is built from fixed seeds, so a failure reproduces. Each asserts the
automation contract: the exit code (2 bad input, 1 runtime failure, 0 valid), exactly
one line on stderr starting "doodle: " for a failure, no traceback anywhere, a
pre-existing output left byte-identical on failure, and no temporary file beside it.

Speed: the CLI runs in-process (``cli.entry`` with a patched ``sys.argv``), and the
painter is a stand-in that returns a flat image at once, since these cases are about
what happens before and after painting; nearly all of them fail while the inputs are
checked. A real process is used only where the process is the subject (the
environment it starts in).
"""
from __future__ import annotations

import bz2
import io
import os
import pickle
import shutil
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from doodle import cli

from console import entry
from images import write_inputs

ROOT = Path(__file__).resolve().parent.parent
PREVIOUS = b"previous painting, must survive every failure"


# --- the harness -----------------------------------------------------------------




def stand_in_painter(monkeypatch, extractor: bool = True) -> list:
    """Replace the painter (and, unless ``extractor`` is False, the weights) with
    stand-ins: a flat 16×16-or-whatever image at once. Returns the list of calls."""
    from doodle.run import api

    calls = []

    def paint_problem(problem, options, **kw):
        calls.append(problem.size)
        return np.full((*problem.size, 3), 99, np.uint8)

    class Fake:
        name = "fake"

    monkeypatch.setattr(api, "paint_problem", paint_problem)
    if extractor:
        monkeypatch.setattr(api, "resolve_extractor", lambda options, notice=None: Fake())
    return calls


def assert_contract(code: int, out: str, err: str, expected: int) -> None:
    assert code == expected, f"exit {code}, expected {expected}: {err}"
    assert "Traceback" not in out + err, err
    if expected != 0:
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("doodle: "), err


def assert_no_temporaries(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")], list(folder.iterdir())


def paint(files: Path, out_dir: Path, *extra, style=None, doodle=None) -> list:
    style = files / "style.png" if style is None else style
    args = ["paint", "--style", style, "-o", out_dir / "o.png", "--iterations", "2", "--phases", "1",
            "--no-compile-cache", "-q"]
    if doodle is not False:
        args += ["--map", files / "doodle_sem.png" if doodle is None else doodle]
    return [*args, *extra]


def run_paint(monkeypatch, capsys, out_dir: Path, args, expected: int, extractor: bool = True,
              painter: bool = True) -> str:
    """Run ``args`` (a paint) over a pre-existing output, with the stand-in painter
    (and extractor) unless ``painter`` (``extractor``) is False, and assert the
    contract. Returns stderr."""
    calls = stand_in_painter(monkeypatch, extractor) if painter else []
    target = out_dir / "o.png"
    target.write_bytes(PREVIOUS)
    code, out, err = entry(monkeypatch, capsys, *args)
    assert_contract(code, out, err, expected)
    if expected != 0:
        assert target.read_bytes() == PREVIOUS  # a failure never touches the old output
        assert not calls, "painting started for an input that should have been refused"
    else:
        assert iio.imread(target).shape[2] == 3
    assert_no_temporaries(out_dir)
    return err


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    return write_inputs(tmp_path_factory.mktemp("inputs"))


# --- malformed images ---------------------------------------------------------------


def _png_bytes(array: np.ndarray, **kw) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array, **kw).save(buf, format="PNG")
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def _png_declaring(width: int, height: int) -> bytes:
    """A valid PNG header declaring width × height RGB, with a tiny IDAT: a bomb's shape."""
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _jpeg_bytes(array: np.ndarray, mode: str = "RGB") -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).convert(mode).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def _doodle() -> np.ndarray:
    from images import swapped_doodle

    return swapped_doodle(32)


def _sixteen_bit(sem: np.ndarray) -> bytes:
    """A 16-bit-per-channel RGB PNG, written by hand (Pillow writes no 16-bit RGB)."""
    h, w, _ = sem.shape
    rows = (sem.astype(">u2") * 257).reshape(h, w * 3)
    raw = b"".join(b"\0" + row.tobytes() for row in rows)
    ihdr = w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([16, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")


# name -> a function making the file's bytes (fixed seeds): none of these is an image
BAD_IMAGES = {
    "zero-byte.png": lambda: b"",
    **{f"random-{i}.png": (lambda i=i: np.random.default_rng(i).bytes(64 + 97 * i)) for i in range(4)},
    **{f"random-{i}.jpg": (lambda i=i: np.random.default_rng(10 + i).bytes(200 * (i + 1))) for i in range(2)},
    **{f"truncated-{f}.png": (lambda f=f: _png_bytes(np.random.default_rng(1).integers(0, 256, (32, 32, 3), np.uint8))
                              [:int(f / 100 * 3200)]) for f in (5, 30, 60, 90)},
    **{f"truncated-{f}.jpg": (lambda f=f: (lambda b: b[:int(len(b) * f / 100)])(
        _jpeg_bytes(np.random.default_rng(2).integers(0, 256, (32, 32, 3), np.uint8)))) for f in (3, 40, 70)},
    "png-header-only.png": lambda: b"\x89PNG\r\n\x1a\n",
    "jpeg-soi-only.jpg": lambda: b"\xff\xd8\xff",
    "bomb-100000.png": lambda: _png_declaring(100_000, 100_000),
    "bomb-65535x1.png": lambda: _png_declaring(65_535, 1),
    "zero-width.png": lambda: _png_declaring(0, 10),
    "text.png": lambda: b"not an image at all\n",
    "html.jpg": lambda: b"<!doctype html><title>404</title>",
    "gzip.png": lambda: zlib.compress(b"\0" * 1000),
}

GOOD_IMAGES = {
    "png-named.jpg": lambda: _png_bytes(_doodle()),
    "jpeg-named.png": lambda: _jpeg_bytes(np.random.default_rng(3).integers(0, 256, (32, 32, 3), np.uint8)),
    "sixteen-bit.png": lambda: _sixteen_bit(_doodle()),
    "palette.png": lambda: _palette(_doodle()),
    "rgba.png": lambda: _png_bytes(np.dstack([_doodle(), np.full((32, 32), 255, np.uint8)])),
    "cmyk.jpg": lambda: _jpeg_bytes(_doodle(), "CMYK"),
}


def _palette(sem: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(sem).convert("P", palette=Image.Palette.ADAPTIVE, colors=2).save(buf, format="PNG")
    return buf.getvalue()


def _write(folder: Path, name: str, make) -> Path:
    path = folder / name
    path.write_bytes(make())
    return path


@pytest.mark.parametrize("name", sorted(BAD_IMAGES))
@pytest.mark.parametrize("role", ["map", "style", "check", "segment"])
def test_malformed_images_are_refused(files, tmp_path, monkeypatch, capsys, name, role):
    bad = _write(tmp_path, name, BAD_IMAGES[name])
    if role in ("check", "segment"):
        check_or_segment(files, tmp_path, monkeypatch, capsys, role, bad)
        return
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    args = (paint(files, out_dir, doodle=bad) if role == "map"
            else paint(files, out_dir, "--semantic-weight", "0", "--output-size", "16x16", style=bad, doodle=False))
    run_paint(monkeypatch, capsys, out_dir, args, 2)


def check_or_segment(files, tmp_path, monkeypatch, capsys, command: str, image: Path) -> None:
    """``doodle check STYLE_MAP IMAGE`` or ``doodle segment IMAGE -o MAP`` over an
    existing MAP: exit 2, one line, MAP untouched."""
    target = tmp_path / "m.png"
    target.write_bytes(PREVIOUS)
    args = (["check", files / "style_sem.png", image] if command == "check"
            else ["segment", image, "-o", target, "--force"])
    code, out, err = entry(monkeypatch, capsys, *args)
    assert_contract(code, out, err, 2)
    assert target.read_bytes() == PREVIOUS
    assert_no_temporaries(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
@pytest.mark.parametrize("role", ["map", "style", "check", "segment"])
def test_a_fifo_image_is_refused(files, tmp_path, monkeypatch, capsys, role):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)  # reading it would block for ever: it must be refused from its kind alone
    if role in ("check", "segment"):
        check_or_segment(files, tmp_path, monkeypatch, capsys, role, fifo)
        return
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    args = (paint(files, out_dir, doodle=fifo) if role == "map"
            else paint(files, out_dir, "--semantic-weight", "0", "--output-size", "16x16", style=fifo, doodle=False))
    run_paint(monkeypatch, capsys, out_dir, args, 2)


@pytest.mark.parametrize("name", sorted(GOOD_IMAGES))
def test_odd_but_valid_styles_paint(files, tmp_path, monkeypatch, capsys, name):
    style = _write(tmp_path, name, GOOD_IMAGES[name])
    args = paint(files, tmp_path, "--semantic-weight", "0", "--output-size", "16x16", style=style, doodle=False)
    run_paint(monkeypatch, capsys, tmp_path, args, 0)


@pytest.mark.parametrize("name", ["png-named.jpg", "sixteen-bit.png", "palette.png", "rgba.png"])
def test_odd_but_valid_doodles_paint(files, tmp_path, monkeypatch, capsys, name):
    # the doodle's colours are the style map's red and blue, in another encoding
    doodle = _write(tmp_path, name, GOOD_IMAGES[name])
    run_paint(monkeypatch, capsys, tmp_path, paint(files, tmp_path, doodle=doodle), 0)


@pytest.mark.parametrize("name", ["png-named.jpg", "sixteen-bit.png", "palette.png", "rgba.png"])
def test_odd_but_valid_doodles_check(files, tmp_path, monkeypatch, capsys, name):
    doodle = _write(tmp_path, name, GOOD_IMAGES[name])
    code, out, err = entry(monkeypatch, capsys, "check", files / "style_sem.png", doodle)
    assert_contract(code, out, err, 0)


@pytest.mark.parametrize("size", [(1, 1), (1, 40), (2, 2)])
def test_tiny_styles_are_one_line(files, tmp_path, monkeypatch, capsys, size):
    """A style too small for the deepest layer's patches cannot paint anything: exit 2,
    one line. The painter's own check says so, before any compilation: it runs for real."""
    style = tmp_path / "tiny.png"
    iio.imwrite(style, np.random.default_rng(4).integers(0, 256, (*size, 3), np.uint8))
    args = paint(files, tmp_path, "--semantic-weight", "0", "--output-size", "32x32", "--weights", "builtin",
                 style=style, doodle=False)
    run_paint(monkeypatch, capsys, tmp_path, args, 2, painter=False)


def test_a_one_pixel_doodle_is_one_line(files, tmp_path, monkeypatch, capsys):
    doodle = tmp_path / "one_sem.png"
    iio.imwrite(doodle, np.array([[[255, 0, 0]]], np.uint8))
    run_paint(monkeypatch, capsys, tmp_path, paint(files, tmp_path, "--weights", "builtin", doodle=doodle), 2,
              painter=False)


# --- malformed maps ----------------------------------------------------------------------


def _random_colours(n: int, seed: int, size: int = 32) -> np.ndarray:
    rng = np.random.default_rng(seed)
    palette = rng.integers(0, 256, (n, 3), np.uint8)
    return palette[rng.integers(0, n, (size, size))]


@pytest.mark.parametrize("seed", range(6))
def test_doodle_colours_the_style_lacks(files, tmp_path, monkeypatch, capsys, seed):
    doodle = tmp_path / "odd_sem.png"
    iio.imwrite(doodle, _random_colours(2 + seed, seed))
    code, out, err = entry(monkeypatch, capsys, "check", files / "style_sem.png", doodle)
    assert code == 1 and "Traceback" not in out + err  # check reports them on stdout: exit 1


@pytest.mark.parametrize("colours", [65, 100, 1000])
def test_maps_of_many_colours(files, tmp_path, monkeypatch, capsys, colours):
    """Noise of more than 64 colours is no flat-colour map: its fringes snap to one
    region the style lacks, so `check` says incompatible (exit 1) and `paint` paints
    it as the nearest style colour, saying so (exit 0, no traceback)."""
    doodle = tmp_path / "noise_sem.png"
    iio.imwrite(doodle, _random_colours(colours, colours, size=48))
    code, out, err = entry(monkeypatch, capsys, "check", files / "style_sem.png", doodle)
    assert code == 1 and "not compatible" in out and "Traceback" not in out + err
    run_paint(monkeypatch, capsys, tmp_path, paint(files, tmp_path, doodle=doodle), 0)


@pytest.mark.parametrize("size", [(20, 20), (40, 41), (8, 80)])
def test_style_map_of_another_size_is_one_line(files, tmp_path, monkeypatch, capsys, size):
    style_map = tmp_path / "map.png"
    iio.imwrite(style_map, _random_colours(2, 7, size=1)[np.zeros(size, int), np.zeros(size, int)])
    run_paint(monkeypatch, capsys, tmp_path, paint(files, tmp_path, "--style-map", style_map), 2)


@pytest.mark.parametrize("size", [(20, 20), (32, 64)])
def test_content_map_of_another_size_is_one_line(files, tmp_path, monkeypatch, capsys, size):
    photo = tmp_path / "photo.png"
    iio.imwrite(photo, np.random.default_rng(5).integers(0, 256, (32, 32, 3), np.uint8))
    doodle = tmp_path / "other_sem.png"
    iio.imwrite(doodle, np.zeros((*size, 3), np.uint8) + np.array([255, 0, 0], np.uint8))
    args = paint(files, tmp_path, "--content", photo, doodle=doodle)
    run_paint(monkeypatch, capsys, tmp_path, args, 2)


# --- option values ------------------------------------------------------------------------

FLOAT_FLAGS = ["--content-weight", "--style-weight", "--semantic-weight", "--smoothness", "--variety",
               "--occurrence", "--distribution-weight", "--color-weight", "--stall-tolerance",
               "--temporal-weight"]
BAD_FLOATS = ["nan", "inf", "-inf", "-1", "1e30", "abc", "", "1e400", "0x10"]
INT_FLAGS = {"--match-every": 1, "--stall-window": 1, "--phases": 1, "--iterations": 1, "--random-seed": 0,
             "--slices": 1, "--print-every": 0, "--save-every": 0}
BAD_INTS = ["nan", "-1", str(10**30), "abc", "", "1.5", "1e3"]


@pytest.mark.parametrize("value", BAD_FLOATS)
@pytest.mark.parametrize("flag", FLOAT_FLAGS)
def test_bad_float_options(files, tmp_path, monkeypatch, capsys, flag, value):
    run_paint(monkeypatch, capsys, tmp_path, paint(files, tmp_path, flag, value), 2)


@pytest.mark.parametrize("value", BAD_INTS + ["0"])
@pytest.mark.parametrize("flag", sorted(INT_FLAGS))
def test_bad_integer_options(files, tmp_path, monkeypatch, capsys, flag, value):
    if value == "0" and INT_FLAGS[flag] == 0:
        pytest.skip(f"0 is valid for {flag}")
    run_paint(monkeypatch, capsys, tmp_path, paint(files, tmp_path, flag, value), 2)


@pytest.mark.parametrize("value", ["0x0", "x", "-5x3", "1e20x1e20", "5x", "x5", "10x10x10", "", "abc",
                                   "99999x1", "nanxnan", "1.5x2", "0x16", "16x-16", "١٦x١٦x"])
def test_bad_output_sizes(files, tmp_path, monkeypatch, capsys, value):
    run_paint(monkeypatch, capsys, tmp_path, paint(files, tmp_path, "--output-size", value), 2)


@pytest.mark.parametrize("value", ["9_9", "", ",", "relu", "3_1,,4_1", "conv6_1", "3_1;4_1", "3_1 4_1",
                                   "ｒｅｌｕ3_1", "5_5"])
@pytest.mark.parametrize("flag", ["--style-layers", "--content-layers"])
def test_bad_layer_names(files, tmp_path, monkeypatch, capsys, flag, value):
    run_paint(monkeypatch, capsys, tmp_path, paint(files, tmp_path, flag, value), 2)


@pytest.mark.parametrize("value", ["nan:200", "200:16", "inf:inf", "-1:300", "16", "a:b", "16:240:3",
                                   "1e400:2", "", ":", "0:256"])
def test_bad_seed_ranges(files, tmp_path, monkeypatch, capsys, value):
    run_paint(monkeypatch, capsys, tmp_path, paint(files, tmp_path, "--seed-range", value), 2)


@pytest.mark.parametrize("flag,value", [
    ("--max-memory", "abc"), ("--max-memory", "-5G"), ("--max-memory", "nanG"), ("--max-memory", "1e400G"),
    ("--max-memory", "0"), ("--max-memory", ""), ("--device", "tpu"), ("--device", ""),
    ("--seed", "no-such-seed.png"), ("--weights", "no-such-weights"), ("--semantic-ext", "a/b"),
    ("--semantic-ext", "\0"), ("--no-such-flag", "1"),
])
def test_other_bad_values(files, tmp_path, monkeypatch, capsys, flag, value):
    run_paint(monkeypatch, capsys, tmp_path, paint(files, tmp_path, flag, value), 2, extractor=flag != "--weights")


# --- output paths ----------------------------------------------------------------------------


def _mk(kind: str):
    def make(t: Path) -> None:
        if kind == "dir":
            (t / "dir.png").mkdir()
        elif kind == "file":
            (t / "file").write_text("")
        elif kind == "logdir":
            (t / "log").mkdir()
        elif kind == "gifdir":
            (t / "a.gif").mkdir()
    return make


OUTPUT_CASES = [
    ("dir", ["-o", "{t}/dir.png"]),
    (None, ["-o", "{t}/missing/o.png"]),
    (None, ["-o", "{t}/missing/deeper/o.png"]),
    ("file", ["-o", "{t}/file/o.png"]),
    (None, ["-o", "{t}/" + "a" * 300 + ".png"]),
    (None, ["-o", "{t}/" + "é" * 200 + ".png"]),
    (None, ["-o", "{t}/nul\0.png"]),
    (None, ["-o", ""]),
    (None, ["-o", "{t}"]),
    (None, ["-o", "{t}/o.txt"]),
    (None, ["-o", "{t}/o"]),
    (None, ["-o", "/proc/x.png"]),
    (None, ["-o", "/proc/self/x.png"]),
    (None, ["-o", "/sys/x.png"]),
    (None, ["-o", "{d}/style.png"]),
    (None, ["-o", "{d}/doodle_sem.png"]),
    (None, ["-o", "{d}/style_sem.png"]),
    ("file", ["--save-every", "1", "--frames-dir", "{t}/file"]),
    ("file", ["--save-every", "1", "--frames-dir", "{t}/file/sub"]),
    (None, ["--save-every", "1", "--frames-dir", "/proc/frames"]),
    ("logdir", ["--log-json", "{t}/log"]),
    (None, ["--log-json", "{t}/no/such/run.jsonl"]),
    (None, ["--log-json", "{d}/style.png"]),
    (None, ["--log-json", "/proc/x.jsonl"]),
    (None, ["--animation", "{t}/a.png"]),
    ("gifdir", ["--animation", "{t}/a.gif"]),
    (None, ["--animation", "{t}/missing/a.gif"]),
    (None, ["--animation", "{d}/doodle_sem.png"]),
    (None, ["-o", "-", "--log-json", "-"]),
]


@pytest.mark.parametrize("make,flags", OUTPUT_CASES, ids=[" ".join(f)[:40] for _, f in OUTPUT_CASES])
def test_bad_output_paths(files, tmp_path, monkeypatch, capsys, make, flags):
    if make is not None:
        _mk(make)(tmp_path)
    flags = [f.replace("{t}", str(tmp_path)).replace("{d}", str(files)) for f in flags]
    if any(f.startswith(("/proc", "/sys")) for f in flags) and not sys.platform.startswith("linux"):
        pytest.skip("Linux's /proc and /sys")
    before = {p.name: p.read_bytes() for p in files.iterdir() if p.is_file()}
    run_paint(monkeypatch, capsys, tmp_path, paint(files, tmp_path, *flags), 2)
    assert {p.name: p.read_bytes() for p in files.iterdir() if p.is_file()} == before  # inputs untouched


# --- weight files ---------------------------------------------------------------------------


class _WritesAFile:
    """A pickle that, if loaded by an unrestricted unpickler, creates ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


class _RunsAShell:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def _zip(members: dict[str, bytes], method=zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _patch_zip(data: bytes, *, flags: int = 0, method=None, size=None) -> bytes:
    """Patch every local and central header: flag bits, compression method, declared size."""
    data = bytearray(data)
    for signature, at, size_at in ((b"PK\x03\x04", 6, 22), (b"PK\x01\x02", 8, 24)):
        i = data.find(signature)
        while i >= 0:
            data[i + at:i + at + 2] = (int.from_bytes(data[i + at:i + at + 2], "little") | flags).to_bytes(2, "little")
            if method is not None:
                data[i + at + 2:i + at + 4] = method.to_bytes(2, "little")
            if size is not None:
                data[i + size_at:i + size_at + 4] = size.to_bytes(4, "little")
            i = data.find(signature, i + 4)
    return bytes(data)


def _torch_zip(pkl: bytes = b"\x80\x02}q\x00.") -> bytes:
    return _zip({"archive/data.pkl": pkl, "archive/version": b"3\n"})


def _safetensors(header: bytes, body: bytes = b"", length=None) -> bytes:
    return (len(header) if length is None else length).to_bytes(8, "little") + header + body


def _safetensors_of(tensors: dict) -> bytes:
    import json

    header, body = {}, b""
    for name, array in tensors.items():
        raw = np.ascontiguousarray(array, np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [len(body), len(body) + len(raw)]}
        body += raw
    return _safetensors(json.dumps(header).encode(), body)


WEIGHT_FILES = {
    **{f"random-{i}.pth": (lambda i=i: np.random.default_rng(20 + i).bytes(100 + 300 * i)) for i in range(3)},
    **{f"random-{i}.safetensors": (lambda i=i: np.random.default_rng(30 + i).bytes(1000)) for i in range(2)},
    "random.h5": lambda: b"\x89HDF\r\n\x1a\n" + np.random.default_rng(40).bytes(500),
    "random.pkl.bz2": lambda: b"BZh9" + np.random.default_rng(41).bytes(300),
    "random.npz": lambda: _zip({"a.npy": np.random.default_rng(42).bytes(200)}),
    "empty.pth": lambda: b"",
    "truncated-zip.pth": lambda: _torch_zip()[:40],
    "truncated-zip-tail.pth": lambda: _torch_zip()[:-10],
    "password.pth": lambda: _patch_zip(_torch_zip(), flags=0x1),
    "method-99.pth": lambda: _patch_zip(_torch_zip(), method=99),
    "method-14-lzma.pth": lambda: _patch_zip(_torch_zip(), method=14),
    "declares-4gb.pth": lambda: _patch_zip(_torch_zip(), size=0xFFFFFFF0),
    "zip-of-text.pth": lambda: _zip({"readme.txt": b"hello"}),
    "nested.safetensors": lambda: _safetensors(b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
    "nested-objects.safetensors": lambda: _safetensors(b'{"a":' + b'{"b":' * 50_000 + b"1" + b"}" * 50_001),
    "header-too-long.safetensors": lambda: _safetensors(b"{}", length=2**60),
    "header-past-end.safetensors": lambda: _safetensors(b'{"a": 1}', length=10_000),
    "header-not-json.safetensors": lambda: _safetensors(b"{not json"),
    "header-list.safetensors": lambda: _safetensors(b"[1, 2]"),
    "offsets-past-end.safetensors": lambda: _safetensors(
        b'{"conv1_1.kernel":{"dtype":"F32","shape":[3,3,3,64],"data_offsets":[0,6912]}}'),
    "bad-dtype.safetensors": lambda: _safetensors(
        b'{"conv1_1.kernel":{"dtype":"Q99","shape":[1],"data_offsets":[0,4]}}', b"\0" * 4),
    "negative-shape.safetensors": lambda: _safetensors(
        b'{"conv1_1.kernel":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', b"\0" * 4),
    "wrong-shapes.safetensors": lambda: _safetensors_of({"conv1_1.kernel": np.zeros((3, 3, 3, 32)),
                                                         "conv1_1.bias": np.zeros(32)}),
    "wrong-bias.safetensors": lambda: _safetensors_of({"conv1_1.kernel": np.zeros((3, 3, 3, 64)),
                                                       "conv1_1.bias": np.zeros(7)}),
    "no-vgg-names.safetensors": lambda: _safetensors_of({"weight": np.zeros(3)}),
    "lasagne-list-of-junk.pkl": lambda: pickle.dumps(["a", 1, None], protocol=2),
}


def _malicious(path: Path, kind: str) -> bytes:
    payload = pickle.dumps(_WritesAFile(str(path)) if kind == "open" else _RunsAShell(str(path)), protocol=2)
    return payload


MALICIOUS = {f"{kind}-{wrap}": (kind, wrap) for kind in ("open", "system") for wrap in ("pkl", "pkl.bz2", "pth")}


@pytest.mark.parametrize("name", sorted(WEIGHT_FILES))
@pytest.mark.parametrize("command", ["info", "import", "paint"])
def test_hostile_weight_files(files, tmp_path, monkeypatch, capsys, name, command):
    path = _write(tmp_path, name, WEIGHT_FILES[name])
    check_weights_refused(files, tmp_path, monkeypatch, capsys, path, command)


def check_weights_refused(files, tmp_path, monkeypatch, capsys, path: Path, command: str) -> None:
    cache = tmp_path / "cache"
    if command == "paint":
        out_dir = tmp_path / "out"
        out_dir.mkdir()
        run_paint(monkeypatch, capsys, out_dir, paint(files, out_dir, "--weights", path), 2, extractor=False)
        return
    args = ["weights", command, path] + (["--cache-dir", cache] if command == "import" else [])
    code, out, err = entry(monkeypatch, capsys, *args)
    assert_contract(code, out, err, 2)
    if cache.exists():
        assert not list(cache.rglob("*")), list(cache.rglob("*"))  # nothing imported, no .tmp left


@pytest.mark.parametrize("name", sorted(MALICIOUS))
@pytest.mark.parametrize("command", ["info", "import", "paint"])
def test_malicious_pickles_do_not_run(files, tmp_path, monkeypatch, capsys, name, command):
    kind, wrap = MALICIOUS[name]
    victim = tmp_path / "pwned"
    payload = _malicious(victim, kind)
    data = {"pkl": payload, "pkl.bz2": bz2.compress(payload), "pth": _torch_zip(payload)}[wrap]
    path = tmp_path / f"vgg19.{wrap}"
    path.write_bytes(data)
    check_weights_refused(files, tmp_path, monkeypatch, capsys, path, command)
    assert not victim.exists(), "a pickle ran code while being loaded"


# --- the environment ------------------------------------------------------------------------

# A `doodle` process whose painter is a stand-in (the cache and start-up are the subject).
FAKE_PAINTER = """
import sys
import numpy as np
from doodle.run import api

def paint_problem(problem, options, **kw):
    return np.full((*problem.size, 3), 99, np.uint8)

api.paint_problem = paint_problem
sys.argv[0] = "doodle"
from doodle.__main__ import main
main()
"""


def _environment(kind: str, tmp: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DOODLE_CACHE", "XDG_CACHE_HOME", "HOME")}
    env.update(JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT))
    if kind == "cache-is-a-file":
        (tmp / "cachefile").write_text("")
        env["DOODLE_CACHE"] = str(tmp / "cachefile")
    elif kind == "cache-under-a-file":
        (tmp / "cachefile").write_text("")
        env["DOODLE_CACHE"] = str(tmp / "cachefile" / "sub")
    elif kind == "cache-read-only":
        (tmp / "ro").mkdir()
        (tmp / "ro").chmod(0o555)
        env["DOODLE_CACHE"] = str(tmp / "ro" / "doodle")
    elif kind == "no-home":
        pass  # no HOME, XDG_CACHE_HOME nor DOODLE_CACHE
    elif kind == "home-missing":
        env["HOME"] = str(tmp / "no" / "such" / "home")
    return env


ROOT_USER = not hasattr(os, "geteuid") or os.geteuid() == 0  # root writes anywhere: no read-only folder


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["cache-is-a-file", "cache-under-a-file",
                                  pytest.param("cache-read-only", marks=pytest.mark.skipif(ROOT_USER, reason="root")),
                                  "no-home", "home-missing"])
def test_a_broken_cache_folder_still_paints(files, tmp_path, kind):
    """Warned once, painted anyway, and none of JAX's per-program warnings about a
    compilation cache it cannot write (the compile cache is on: the default)."""
    env = _environment(kind, tmp_path)
    out = tmp_path / "o.png"
    args = ["paint", "--style", files / "style.png", "--map", files / "doodle_sem.png", "-o", out,
            "--iterations", "1", "--phases", "1", "--weights", "builtin", "--output-size", "32x32"]
    proc = subprocess.run([sys.executable, "-c", FAKE_PAINTER, *map(str, args)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    try:
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert all(line.startswith("doodle: ") for line in lines), proc.stderr  # no JAX warnings
        warnings = [line for line in lines if line.startswith("doodle: warning: ")]
        assert len(warnings) == (0 if kind == "no-home" else 1), proc.stderr  # no HOME: the password database's
        assert iio.imread(out)[0, 0].tolist() == [99, 99, 99]
    finally:
        if kind == "cache-read-only":
            (tmp_path / "ro").chmod(0o755)


# --- a few real paintings of odd inputs (tiny, so they take seconds) ---------------------------


@pytest.mark.parametrize("name", ["palette.png", "cmyk.jpg"])
def test_odd_styles_really_paint(files, tmp_path, monkeypatch, capsys, name):
    style = _write(tmp_path, name, GOOD_IMAGES[name])
    (tmp_path / "o.png").write_bytes(PREVIOUS)
    code, out, err = entry(monkeypatch, capsys, "paint", "--style", style, "--semantic-weight", "0",
                           "--output-size", "32x32", "-o", tmp_path / "o.png", "--iterations", "2", "--phases", "1",
                           "--weights", "builtin", "--no-compile-cache", "-q")
    assert_contract(code, out, err, 0)
    assert iio.imread(tmp_path / "o.png").shape == (32, 32, 3)
    assert_no_temporaries(tmp_path)


def _fake_paint(tmp_path: Path, files: Path, env: dict, *extra) -> subprocess.CompletedProcess:
    args = ["paint", "--style", files / "style.png", "--map", files / "doodle_sem.png", "-o", tmp_path / "o.png",
            "--iterations", "1", "--phases", "1", "--weights", "builtin", "--no-compile-cache", "-q", *extra]
    return subprocess.run([sys.executable, "-c", FAKE_PAINTER, *map(str, args)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


NO_CUDA = shutil.which("nvidia-smi") is None


@pytest.mark.slow
@pytest.mark.parametrize("platforms,extra,expected", [
    pytest.param("cuda", [], 2, marks=pytest.mark.skipif(not NO_CUDA, reason="this machine has CUDA")),
    ("nosuch", [], 2),
    ("cuda,rocm", [], 2) if NO_CUDA else pytest.param("x", [], 2, marks=pytest.mark.skip(reason="CUDA here")),
    ("cuda", ["--device", "cpu"], 0),  # --device cpu wins over the environment
])
def test_jax_platforms_that_cannot_start_are_one_line(files, tmp_path, platforms, extra, expected):
    env = _environment("none", tmp_path)
    env.update(JAX_PLATFORMS=platforms, DOODLE_CACHE=str(tmp_path / "cache"))
    (tmp_path / "o.png").write_bytes(PREVIOUS)
    proc = _fake_paint(tmp_path, files, env, *extra)
    assert_contract(proc.returncode, proc.stdout, proc.stderr, expected)
    if expected:
        assert "JAX_PLATFORMS" in proc.stderr
        assert (tmp_path / "o.png").read_bytes() == PREVIOUS


@pytest.mark.parametrize("kind,fragment", [
    ("file", "is a file"), ("under-file", "a file"), ("missing-home", "does not exist"), ("fresh", None),
    ("read-only", "is not writable"),
])
def test_cache_problem_says_why(tmp_path, monkeypatch, kind, fragment):
    from doodle.io import cache

    (tmp_path / "f").write_text("")
    env = {"file": {"DOODLE_CACHE": str(tmp_path / "f")},
           "under-file": {"DOODLE_CACHE": str(tmp_path / "f" / "doodle")},
           "missing-home": {"HOME": str(tmp_path / "nobody")},
           "fresh": {"DOODLE_CACHE": str(tmp_path / "new" / "deep")},
           "read-only": {"DOODLE_CACHE": str(tmp_path / "ro")}}[kind]
    if kind == "read-only":  # as root nothing is read-only: say the folder is
        monkeypatch.setattr(cache.os, "access", lambda path, mode: False)
    problem = cache.cache_problem(env)
    assert problem is None if fragment is None else fragment in problem


# --- `doodle weights import` into a cache that cannot take it -----------------------------------


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory) -> Path:
    """A complete VGG19 in doodle's layout (zeros, float16: 40 MB), importable."""
    from doodle.core import vgg
    from doodle import weights

    tensors = {}
    for name, _, cin, cout in vgg.LAYERS:
        tensors[f"conv{name}.kernel"] = np.zeros((3, 3, cin, cout), np.float16)
        tensors[f"conv{name}.bias"] = np.zeros(cout, np.float16)
    path = tmp_path_factory.mktemp("vgg") / "zeros.safetensors"
    weights.write_safetensors(path, tensors, {})
    return path


def _failing_write(error: int):
    """write_safetensors that writes half its file, then fails with ``error``."""
    def write(path, tensors, metadata):
        Path(path).write_bytes(b"half a file")
        raise OSError(error, os.strerror(error))
    return write


@pytest.mark.parametrize("case,expected", [
    ("cache-is-a-file", 2), ("cache-under-a-file", 2), ("cache-dir-under-a-file", 2),
    ("disk-full", 1), ("quota", 1), ("read-only", 2), ("interrupted", 130),
])
def test_weights_import_into_a_cache_that_cannot_take_it(vgg_file, tmp_path, monkeypatch, capsys, case, expected):
    import errno

    from doodle.weights import importing

    (tmp_path / "f").write_text("")
    cache = tmp_path / "cache"
    args = ["weights", "import", vgg_file, "--float16"]
    if case == "cache-is-a-file":
        monkeypatch.setenv("DOODLE_CACHE", str(tmp_path / "f"))
    elif case == "cache-under-a-file":
        monkeypatch.setenv("DOODLE_CACHE", str(tmp_path / "f" / "doodle"))
    elif case == "cache-dir-under-a-file":
        args += ["--cache-dir", tmp_path / "f" / "doodle"]
    else:
        args += ["--cache-dir", cache]
        error = {"disk-full": errno.ENOSPC, "quota": errno.EDQUOT, "read-only": errno.EROFS}.get(case)
        if error is not None:
            monkeypatch.setattr(importing, "write_safetensors", _failing_write(error))
        else:  # Ctrl-C in the middle of the write
            def interrupted(path, tensors, metadata):
                Path(path).write_bytes(b"half")
                raise KeyboardInterrupt
            monkeypatch.setattr(importing, "write_safetensors", interrupted)
    code, out, err = entry(monkeypatch, capsys, *args)
    assert_contract(code, out, err, expected)
    if cache.exists():
        assert not list(cache.iterdir()), list(cache.iterdir())  # no .tmp, nothing half-imported
    assert (tmp_path / "f").read_text() == ""


@pytest.mark.parametrize("extra", [1, 2**20, 0xFFFFFFFF])
def test_zip_members_declaring_more_than_any_vgg19_tensor_are_refused_unread(tmp_path, monkeypatch, capsys, extra):
    """The bound is the largest VGG19 tensor: a member declaring more is refused from
    its header, before a byte is inflated (a 1 GiB bomb took 2.2 GB of memory)."""
    from doodle.weights import pytorch

    size = min(pytorch.ZIP_MAX_MEMBER + extra, 0xFFFFFFFF)
    path = tmp_path / "bomb.pth"
    path.write_bytes(_patch_zip(_torch_zip(), size=size))
    code, out, err = entry(monkeypatch, capsys, "weights", "info", path)
    assert_contract(code, out, err, 2)
    assert f"declares {size:,} bytes" in err
