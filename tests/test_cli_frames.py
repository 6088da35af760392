"""`doodle paint --map PATTERN`: frame order, output names, resuming, the animation."""
import imageio.v3 as iio
import numpy as np
import pytest
from click.testing import CliRunner

from doodle import cli
from doodle.cli import frames
from doodle.errors import InputError
from doodle.io import animation
from doodle.run import resume

from images import two_textures
from test_sequence import moving_square

# With the compile cache (the session's private one): five runs of one size compile once.
QUICK = ["--iterations", "3", "--phases", "1", "--random-seed", "1", "--weights", "builtin"]


def run(*args):
    result = CliRunner().invoke(cli.main, ["paint", *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_a_glob_is_sorted_naturally(tmp_path):
    for n in (10, 2, 1):
        (tmp_path / f"f{n}_sem.png").write_bytes(b"")
    (tmp_path / "other.png").write_bytes(b"")
    assert [p[len(str(tmp_path)) + 1:] for p in frames.expand(str(tmp_path / "f*_sem.png"))] == \
        ["f1_sem.png", "f2_sem.png", "f10_sem.png"]


def test_a_numbered_pattern_takes_its_numbers_in_order(tmp_path):
    for name in ("f009_sem.png", "f010_sem.png", "f10_sem.png", "f001_sem.png", "fx_sem.png"):
        (tmp_path / name).write_bytes(b"")
    names = [p[len(str(tmp_path)) + 1:] for p in frames.expand(str(tmp_path / "f%03d_sem.png"))]
    assert names == ["f001_sem.png", "f009_sem.png", "f010_sem.png"]
    with pytest.raises(InputError, match="matches no file"):
        frames.expand(str(tmp_path / "g%03d_sem.png"))


def test_outputs_are_named_by_stem_or_index():
    maps = ["in/a01_sem.png", "in/a02_sem.png"]
    assert frames.output_names("out/{stem}.png", maps, "_sem.png") == ["out/a01.png", "out/a02.png"]
    assert frames.output_names("o{index:03d}.png", maps, "_sem.png") == ["o000.png", "o001.png"]
    with pytest.raises(InputError, match=r"has no \{stem\} or \{index\}"):
        frames.output_names("out.png", maps, "_sem.png")
    assert frames.output_names("out.png", maps[:1], "_sem.png") == ["out.png"]  # one frame: a plain name


@pytest.fixture
def sequence_files(tmp_path):
    style, sem = two_textures(40)
    iio.imwrite(tmp_path / "style.png", style)
    iio.imwrite(tmp_path / "style_sem.png", sem)
    (tmp_path / "frames").mkdir()
    (tmp_path / "out").mkdir()
    for k, m in enumerate(moving_square(3, size=32)):
        iio.imwrite(tmp_path / "frames" / f"f{k + 1}_sem.png", m)
    return tmp_path


def _paint(d, *extra):
    return run("--style", str(d / "style.png"), "--map", str(d / "frames" / "f*_sem.png"),
               "-o", str(d / "out" / "{stem}.png"), *QUICK, *extra)


def test_frames_are_painted_then_kept_then_repainted_from_the_first_changed(sequence_files):
    d = sequence_files
    code, text = _paint(d, "--animation", str(d / "out.gif"))
    assert code == 0, text
    outs = [d / "out" / f"f{k}.png" for k in (1, 2, 3)]
    first = [o.read_bytes() for o in outs]
    assert all(iio.imread(o).shape == (32, 32, 3) for o in outs)
    assert iio.imread(d / "out.gif", index=None).shape[0] == 3
    record = resume._record(str(outs[2]))  # each frame's own map and phases
    assert [i["path"] for i in record["inputs"] if i["role"] == "map"] == [str(d / "frames" / "f3_sem.png")]
    assert len(record["phases"]) == 1

    code, text = _paint(d)  # nothing changed: nothing painted
    assert code == 0, text
    assert "frames 1 to 3 of 3 are painted already" in text and "wrote" not in text
    assert [o.read_bytes() for o in outs] == first

    m = iio.imread(d / "frames" / "f2_sem.png")
    m[:4, :4] = m[20, 20]  # a corner of the ground becomes the square's colour
    iio.imwrite(d / "frames" / "f2_sem.png", m)
    marker = {o: o.stat().st_mtime_ns for o in outs}
    code, text = _paint(d)
    assert code == 0, text
    assert "frames 1 to 1 of 3" in text
    assert outs[0].read_bytes() == first[0] and outs[0].stat().st_mtime_ns == marker[outs[0]]
    assert f"wrote {outs[1]}" in text and f"wrote {outs[2]}" in text

    code, text = _paint(d, "--style-weight", "20")  # other options: every frame again
    assert code == 0, text
    assert "painted already" not in text and f"wrote {outs[0]}" in text

    code, text = _paint(d, "--style-weight", "20", "--force")
    assert code == 0, text
    assert f"wrote {outs[0]}" in text


def test_bad_sequence_outputs_are_refused(sequence_files):
    d = sequence_files
    code, text = run("--style", str(d / "style.png"), "--map", str(d / "frames" / "f*_sem.png"),
                     "-o", str(d / "out" / "one.png"), *QUICK)
    assert code == 2 and "has no {stem} or {index}" in text
    code, text = _paint(d, "--animation", str(d / "out.avi"))
    assert code == 2 and "must end in .gif or .webp" in text
    try:
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        code, text = _paint(d, "--animation", str(d / "out.mp4"))
        assert code == 2 and "imageio-ffmpeg" in text
    code, text = run("--style", str(d / "style.png"), "--map", str(d / "frames" / "f*_sem.png"),
                     "-o", str(d / "frames" / "{stem}_sem.png"), *QUICK)
    assert code == 2 and "would overwrite the map" in text


def test_a_webp_animation_has_every_frame(tmp_path):
    images = [np.full((8, 8, 3), v, np.uint8) for v in (0, 120, 240)]
    from PIL import Image
    import io

    with Image.open(io.BytesIO(animation.encode(images, ".webp", [100] * len(images)))) as im:
        assert im.n_frames == 3
