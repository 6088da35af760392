"""`doodle paint` end to end in every mode, and every class of bad input."""
import io
import os
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest
from click.testing import CliRunner

from doodle import cli
from doodle.errors import InputError
from doodle.run import reporting

from images import swapped_doodle, two_textures, write_inputs

QUICK = ["--iterations", "3", "--phases", "1", "--random-seed", "1", "--no-compile-cache", "-q"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    # The doodle as RGBA and the style map as RGB: the reference crashed on this (#11).
    rgba = np.concatenate([swapped_doodle(32), np.full((32, 32, 1), 255, np.uint8)], -1)
    d = write_inputs(tmp_path_factory.mktemp("inputs"), rgba)
    iio.imwrite(d / "photo.png", np.asarray(two_textures(32, seed=5)[0]))
    iio.imwrite(d / "photo_sem.png", swapped_doodle(32))
    iio.imwrite(d / "plain.png", two_textures(40, seed=9)[0])  # no map beside it
    (d / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    iio.imwrite(d / "small_sem.png", swapped_doodle(16))
    return d


def run(*args):
    result = CliRunner().invoke(cli.main, ["paint", *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_doodle_to_painting(files, tmp_path):
    out = tmp_path / "painting.png"
    code, text = run("--style", str(files / "style.png"), "--map", str(files / "doodle_sem.png"), "-o", str(out), *QUICK)
    assert code == 0, text
    assert iio.imread(out).shape == (32, 32, 3)


def test_doodle_map_beside_the_output(files, tmp_path):
    # The reference's convention: --output coast.png paints coast_sem.png.
    (tmp_path / "coast_sem.png").write_bytes((files / "doodle_sem.png").read_bytes())
    code, text = run("--style", str(files / "style.png"), "-o", str(tmp_path / "coast.png"), *QUICK)
    assert code == 0, text
    assert iio.imread(tmp_path / "coast.png").shape == (32, 32, 3)


def test_semantic_style_transfer(files, tmp_path):
    out = tmp_path / "transfer.jpg"
    code, text = run("--style", str(files / "style.png"), "--content", str(files / "photo.png"), "-o", str(out), *QUICK)
    assert code == 0, text
    assert iio.imread(out).shape == (32, 32, 3)


def test_plain_style_transfer(files, tmp_path):
    out = tmp_path / "plain.png"
    code, text = run("--style", str(files / "plain.png"), "--content", str(files / "photo.png"),
                     "--semantic-weight", "0", "-o", str(out), *QUICK)
    assert code == 0, text
    assert iio.imread(out).shape == (32, 32, 3)


def test_texture_synthesis_at_any_size(files, tmp_path):
    out = tmp_path / "texture.png"
    code, text = run("--style", str(files / "plain.png"), "--output-size", "48x32", "-o", str(out), *QUICK)
    assert code == 0, text
    assert iio.imread(out).shape == (32, 48, 3)


def _error(code, text, fragment):
    assert code == 2, text
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert lines[0].startswith("doodle: error:"), text
    assert fragment in lines[0], text
    assert "Traceback" not in text


@pytest.mark.parametrize("args,fragment", [
    (["--style", "missing.png"], "does not exist"),
    (["--style", "{d}/corrupt.png"], "not a readable image"),
    (["--style", "{d}/style.png", "--map", "{d}/small_sem.png", "--content", "{d}/photo.png"], "its map"),
    (["--style", "{d}/style.png", "--map", "{d}/doodle_sem.png", "--output-size", "big"], "WIDTHxHEIGHT"),
    (["--style", "{d}/style.png", "--map", "{d}/doodle_sem.png", "--seed-range", "1-2"], "LOW:HIGH"),
    (["--style", "{d}/style.png", "--map", "{d}/doodle_sem.png", "--style-layers", "3_1;4_1"], "unknown layer"),
    (["--style", "{d}/style.png", "--map", "{d}/doodle_sem.png", "--content-layers", "6_1"], "unknown layer '6_1'"),
    (["--style", "{d}/style.png", "--map", "{d}/doodle_sem.png", "-o", "/nonexistent/dir/out.png"], "does not exist"),
    (["--style", "{d}/style.png", "--map", "{d}/doodle_sem.png", "-o", "{d}/out.xyz"], "image format"),
    (["--style", "{d}/style.png", "--map", "{d}/doodle_sem.png", "--iterations", "0"], "at least 1"),
    (["--style", "{d}/style.png", "--content", "{d}/plain.png"], "style has a semantic map"),
    (["--style", "{d}/plain.png", "--map", "{d}/doodle_sem.png"], "plain_sem.png"),
    (["--style", "{d}/plain.png", "--output-size", "32x32", "--preserve-colors"], "needs a content image"),
    (["--style", "{d}/style.png", "--style", "{d}/plain.png", "--style-map", "{d}/style_sem.png",
      "--map", "{d}/doodle_sem.png"], "1 --style-map for 2 --style"),
    (["--style", "{d}/style.png", "--style", "{d}/plain.png", "--map", "{d}/doodle_sem.png"],
     "'{d}/plain.png' has none"),
])
def test_bad_input_is_one_line_and_exit_2(files, tmp_path, args, fragment):
    args = [a.replace("{d}", str(files)) for a in args]
    fragment = fragment.replace("{d}", str(files))
    if "-o" not in args:
        args += ["-o", str(tmp_path / "o.png")]
    code, text = run(*QUICK, *args)  # args last: they override QUICK's values
    _error(code, text, fragment)


def test_style_map_without_doodle_names_the_expected_file(files, tmp_path):
    code, text = run("--style", str(files / "style.png"), "-o", str(tmp_path / "coast.png"), *QUICK)
    _error(code, text, "coast_sem.png")


@pytest.mark.slow
def test_unknown_option_value_is_one_line_exit_2(files):
    proc = subprocess.run([sys.executable, "-m", "doodle", "paint", "--style", str(files / "style.png"),
                           "--iterations", "many"], capture_output=True, text=True)
    _error(proc.returncode, proc.stderr, "many")


def test_divergence_exit_1_keeps_last_image(files, tmp_path, monkeypatch):
    from doodle.run import inputs

    # An infinite weight is refused as an option now; let it through to make the
    # painter itself diverge, which is what this test is about.
    monkeypatch.setattr(inputs, "check_options", lambda options: None)
    out = tmp_path / "d.png"
    code, text = run("--style", str(files / "plain.png"), "--style-weight", "inf", "--output-size", "32x32",
                     "-o", str(out), *QUICK)
    assert code == 1, text
    assert "diverged" in text
    assert iio.imread(out).shape == (32, 32, 3)


def test_interrupt_saves_current_image_exit_130(files, tmp_path, monkeypatch):
    out = tmp_path / "i.png"
    seen = []

    def interrupt(self, p):
        if p.image is not None:
            self.last = p.image
        if p.event == "iteration":
            seen.append(p.iteration)
            if p.iteration == 2:
                raise KeyboardInterrupt

    monkeypatch.setattr(reporting.Reporter, "__call__", interrupt)
    code, text = run("--style", str(files / "plain.png"), "--output-size", "32x32", "-o", str(out), *QUICK)
    assert code == 130, text
    assert seen == [1, 2]
    assert iio.imread(out).shape == (32, 32, 3)


@pytest.mark.slow
def test_png_to_stdout(files):
    proc = subprocess.run([sys.executable, "-m", "doodle", "paint", "--style", str(files / "plain.png"),
                           "--output-size", "24x24", "-o", "-", *QUICK], capture_output=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(b"\x89PNG")
    assert iio.imread(io.BytesIO(proc.stdout)).shape == (24, 24, 3)


def test_help_shows_every_mode():
    code_text = CliRunner().invoke(cli.main, ["paint", "--help"])
    for mode in ("doodle → painting", "semantic style transfer", "plain style transfer", "texture synthesis"):
        assert mode in code_text.output


def test_preserve_colors_keeps_the_content_chroma(files, tmp_path):
    from doodle.core import color

    out = tmp_path / "kept.png"
    code, text = run("--style", str(files / "plain.png"), "--content", str(files / "photo.png"),
                     "--semantic-weight", "0", "--preserve-colors", "--seed", "noise", "-o", str(out), *QUICK)
    assert code == 0, text
    painted = color.rgb_to_ycc(iio.imread(out))
    content = color.rgb_to_ycc(iio.imread(files / "photo.png"))
    # Chroma: the content's, up to rounding the output to uint8 (≤ 0.5 per channel).
    np.testing.assert_allclose(painted[..., 1:], content[..., 1:], atol=1.0)
    # Luminance: painted, not copied (3 iterations from noise are far from the photo).
    assert np.abs(painted[..., 0] - content[..., 0]).mean() > 5


def _pack(root, name, image, sem, style_weight):
    folder = root / name
    folder.mkdir()
    iio.imwrite(folder / f"{name}.png", image)
    iio.imwrite(folder / f"{name}_sem.png", sem)
    (folder / "style.toml").write_text(f'name = "{name}"\n[options]\nstyle_weight = {style_weight}\n')


def test_several_styles_by_pack_name(files, tmp_path, monkeypatch):
    import json

    style, sem = two_textures(48)
    _pack(tmp_path, "warm", style[:, :24], sem[:, :24], 7.0)  # the red-labelled half
    _pack(tmp_path, "cool", style[:, 24:], sem[:, 24:], 9.0)  # the blue-labelled half
    monkeypatch.setenv("DOODLE_STYLES", str(tmp_path))
    out, log = tmp_path / "pooled.png", tmp_path / "run.jsonl"
    code, text = run("--style", "warm", "--style", "cool", "--map", str(files / "doodle_sem.png"),
                     "-o", str(out), "--log-json", str(log), *QUICK)
    assert code == 0, text
    assert iio.imread(out).shape == (32, 32, 3)
    summary = json.loads(log.read_text().splitlines()[-1])
    assert summary["inputs"]["style_pack"] == ["warm", "cool"]
    assert summary["inputs"]["style_map"] == [str(tmp_path / n / f"{n}_sem.png") for n in ("warm", "cool")]
    assert summary["options"]["style_weight"] == 7.0  # the first pack's recommendation wins


def test_the_cache_folder_is_the_test_runs_own():
    # conftest redirects DOODLE_CACHE, XDG_CACHE_HOME and HOME: --weights auto never
    # finds a developer's pretrained file, and nothing is written to their cache.
    from conftest import PRIVATE_HOME

    from doodle import weights

    assert weights.cache_dir().is_relative_to(PRIVATE_HOME)
    assert weights.cache_dir({"HOME": os.environ["HOME"]}).is_relative_to(PRIVATE_HOME)


# `doodle plan` takes the arguments of `doodle paint`, with the same meaning: both go
# through api.prepare. Painting itself is stubbed out here (the tests above paint these
# modes for real); what is compared is which inputs each command accepts.
AGREE = [
    (["--style", "{d}/style.png", "--map", "{d}/doodle_sem.png"], 0),
    (["--style", "{d}/style.png", "-o", "{o}/coast.png"], 0),  # coast_sem.png beside the output
    (["--style", "{d}/style.png", "--style-map", "{d}/style_sem.png", "-o", "{o}/coast.png"], 0),
    (["--style", "{d}/style.png", "-o", "{o}/nomap.png"], 2),  # nothing beside this output
    (["--style", "{d}/style.png", "--content", "{d}/photo.png"], 0),
    (["--style", "{d}/plain.png", "--output-size", "48x32"], 0),
    (["--style", "warm", "--map", "{d}/doodle_sem.png"], 0),  # a style pack
    (["--style", "missing.png"], 2),
    (["--style", "{d}/style.png", "--style", "{d}/plain.png", "--style-map", "{d}/style_sem.png",
      "--map", "{d}/doodle_sem.png"], 2),
    (["--style", "{d}/style.png", "--map", "{d}/doodle_sem.png", "--iterations", "0"], 2),
    (["--style", "{d}/style.png", "--map", "{d}/doodle_sem.png", "-o", "/nonexistent/dir/out.png"], 2),
    (["--style", "{d}/style.png", "--map", "{d}/doodle_sem.png", "-o", "{d}/style.png"], 2),  # its own input
]


@pytest.mark.parametrize("args,expected", AGREE)
def test_plan_accepts_what_paint_accepts(files, tmp_path, monkeypatch, args, expected):
    from doodle.run import api

    def painted(problem, options, **kw):
        return np.zeros((*problem.size, 3), np.uint8)

    monkeypatch.setattr(api, "paint_problem", painted)
    style, sem = two_textures(32)
    _pack(tmp_path, "warm", style, sem, 7.0)
    monkeypatch.setenv("DOODLE_STYLES", str(tmp_path))
    (tmp_path / "coast_sem.png").write_bytes((files / "doodle_sem.png").read_bytes())
    args = [a.replace("{d}", str(files)).replace("{o}", str(tmp_path)) for a in args]
    if "-o" not in args:
        args += ["-o", str(tmp_path / "out.png")]
    common = ["--iterations", "3", "--phases", "1", "--random-seed", "1"]
    planned = CliRunner().invoke(cli.main, ["plan", *common, *args], catch_exceptions=False)
    painted_code, text = run(*QUICK, *args)
    assert (planned.exit_code, painted_code) == (expected, expected), planned.output + text


def test_library_messages_name_flags_on_the_command_line():
    """The library names options as a Python caller sets them; the command line says
    its flags, through one table (doodle.cli.errors.flag_words)."""
    from doodle.cli.errors import flag_words

    assert flag_words("Use `output_size 32x24` or raise `max_memory`.") == "Use --output-size 32x24 or raise --max-memory."
    assert flag_words("Pass `content`, or give one `style_map` per `style`.") == \
        "Pass --content, or give one --style-map per --style."
    assert flag_words("the file `weird` stays") == "the file `weird` stays"  # not an option: left alone


def test_an_input_error_from_the_library_names_the_flag(tmp_path):
    from doodle.run import api
    from doodle.plan.options import Options

    with pytest.raises(InputError, match="`preserve_colors` needs a content image"):
        api.prepare("meadow", options=Options.of(preserve_colors=True))
    result = CliRunner().invoke(cli.main, ["paint", "--style", "meadow", "--preserve-colors", "-o",
                                           str(tmp_path / "o.png")])
    assert result.exit_code == 2 and "--preserve-colors needs a content image" in result.output
