"""Paintings say how they were made: the provenance record in the image's text
fields, `doodle info`, and `doodle paint --like`."""
import io
import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from doodle import cli
from doodle.io import image_text, imaging
from doodle.run import provenance
from doodle.cli.options import flag_arguments, options_from
from doodle.cli.paint import paint
from doodle.plan.options import DEFAULTS, Options

from images import png_chunks, write_inputs

QUICK = ["--iterations", "3", "--phases", "1", "--random-seed", "7", "-q"]


def a_record():
    return provenance.build(
        version="0.1.0", jax_version="0.0", device="cpu (cpu)", extractor={"name": "built-in"},
        options=Options.of(random_seed=3, output_size=(8, 6)).flat(),
        inputs=[{"role": "style", "path": "s.png", "bytes": 10, "pixels": [8, 6], "sha256": "ab" * 32}],
        phases=[{"phase": 1, "size": [8, 6], "iterations": 3, "seconds": 1.25, "loss": 12.5, "completed": True}])


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp", ".tif", ".gif"])
def test_the_record_round_trips_through_an_image(suffix):
    record = a_record()
    try:
        data = imaging.encode_image(np.zeros((6, 8, 3), np.uint8), suffix, provenance.to_fields(record))
    except Exception as e:  # a Pillow without this format
        pytest.skip(f"cannot write {suffix} here: {e}")
    back = provenance.from_fields(image_text.read_fields(data))
    assert back == json.loads(json.dumps(dict(record, timing=None)))
    assert back["phases"][0] == {"phase": 1, "size": [8, 6], "iterations": 3, "loss": 12.5, "completed": True}


def test_png_holds_one_text_chunk_without_seconds():
    data = imaging.encode_image(np.zeros((6, 8, 3), np.uint8), ".png", provenance.to_fields(a_record()))
    texts = [body.split(b"\0")[0] for kind, body in png_chunks(data) if kind == b"tEXt"]
    assert texts == [b"doodle"]
    assert "seconds" not in Image.open(io.BytesIO(data)).text["doodle"]


def test_an_earlier_painting_s_timing_field_is_still_read(tmp_path):
    # Paintings of earlier versions carry their seconds in a second field.
    fields = dict(provenance.to_fields(a_record()), **{provenance.TIMING: '{"phases":[1.25],"seconds":2.0}'})
    imaging.write_image(tmp_path / "old.png", np.zeros((6, 8, 3), np.uint8), fields)
    assert provenance.from_fields(image_text.read_fields((tmp_path / "old.png").read_bytes()))["timing"] == {
        "phases": [1.25], "seconds": 2.0}
    code, text = run("info", str(tmp_path / "old.png"))
    assert code == 0, text
    assert any(line.startswith("took") and line.endswith("2.0s") for line in text.splitlines()), text


def test_an_image_without_a_record_has_none():
    data = imaging.encode_image(np.zeros((6, 8, 3), np.uint8), ".png")
    assert image_text.read_fields(data) == {}
    assert provenance.from_fields({"doodle": "not json"}) is None
    assert provenance.from_fields({"doodle": '{"other": "program"}'}) is None


def test_flag_arguments_read_back_as_the_same_options():
    options = Options.of(style_weight=50.5, style_layers=("2_1", "3_1"), output_size=(40, 30), seed_range=(0.0, 0.1),
                         propagate=False, cache=True, random_seed=9, max_memory=123456789, device="cpu")
    args, defaults = ["--style", "x.png"], DEFAULTS.flat()
    for name, value in options.flat().items():
        if value != defaults[name]:
            args += flag_arguments(name, value)
    ctx = paint.make_context("paint", args, help_option_names=["-h", "--help"])  # as under `doodle`
    assert options_from(ctx.params) == options


@pytest.fixture(scope="module")
def painted(tmp_path_factory):
    d = write_inputs(tmp_path_factory.mktemp("painted"))
    code, text = run("paint", "--style", str(d / "style.png"), "--map", str(d / "doodle_sem.png"),
                     "-o", str(d / "first.png"), *QUICK)
    assert code == 0, text
    return d


def run(*args):
    result = CliRunner().invoke(cli.main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_a_painting_carries_its_record(painted):
    record = provenance.from_fields(image_text.read_fields((painted / "first.png").read_bytes()))
    assert record["random_seed"] == 7 and record["options"]["iterations"] == 3
    from doodle.weights import packaged

    # --weights auto, nothing else on the machine: the shipped VGG16, recorded by name.
    assert record["extractor"] == {"name": packaged.NAME, "file": str(packaged.FILE),
                                   "sha256": provenance.sha256_of(packaged.FILE)}
    assert record["options"]["weights"] == packaged.NAME
    assert [(i["role"], i["sha256"]) for i in record["inputs"]] == [
        (role, provenance.sha256_of(painted / name))
        for role, name in [("style", "style.png"), ("style_map", "style_sem.png"), ("map", "doodle_sem.png")]]
    assert record["inputs"][0]["pixels"] == [40, 40]
    assert record["phases"][0]["size"] == [32, 32] and record["phases"][0]["loss"] > 0
    assert record["timing"] is None  # the seconds are --log-json's: the file is the same every run


def test_info_prints_a_table_and_the_command(painted):
    code, text = run("info", str(painted / "first.png"))
    assert code == 0, text
    assert any(line.startswith("random seed") and line.endswith(" 7") for line in text.splitlines())
    for fragment in ("extractor", "input style", "sha256", "phase 1", "32×32", "option style_weight",
                     "repaint", "doodle paint --style"):
        assert fragment in text, fragment


def test_info_json_has_the_record_and_the_command(painted):
    code, text = run("info", "--json", str(painted / "first.png"))
    assert code == 0, text
    record = json.loads(text)
    assert record["random_seed"] == 7
    assert record["command"].startswith("doodle paint --style ") and "--random-seed 7" in record["command"]
    assert "-o " + str(painted / "first-repainted.png") in record["command"]


def test_info_on_an_image_without_a_record_is_one_line(tmp_path):
    imaging.write_image(tmp_path / "plain.png", np.zeros((4, 4, 3), np.uint8))
    code, text = run("info", str(tmp_path / "plain.png"))
    assert code == 2
    assert text.count("\n") == 1 and text.startswith("doodle: ") and "no doodle provenance" in text


@pytest.mark.parametrize("name, content, fragment", [("missing.png", None, "does not exist"),
                                                      ("corrupt.png", b"\x89PNG not really", "not a readable image"),
                                                      ("folder", "dir", "is a folder")])
def test_info_on_what_is_no_painting_is_one_line(tmp_path, name, content, fragment):
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    code, text = run("info", str(path))
    assert code == 2 and text.count("\n") == 1 and text.startswith("doodle: ") and fragment in text, text


def test_like_repaints_identical_pixels_and_bytes(painted):
    result = CliRunner().invoke(cli.main, ["paint", "--like", str(painted / "first.png"), "-o", "-", "-q"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    first, again = (painted / "first.png").read_bytes(), result.stdout_bytes
    assert np.array_equal(imaging.decode_image(first), imaging.decode_image(again))
    assert first == again  # the record included: it holds no seconds


def test_like_refuses_a_changed_input_unless_allowed(painted, tmp_path):
    style = tmp_path / "style.png"
    style.write_bytes((painted / "style.png").read_bytes())
    (tmp_path / "style_sem.png").write_bytes((painted / "style_sem.png").read_bytes())
    first = tmp_path / "first.png"
    code, text = run("paint", "--style", str(style), "--map", str(painted / "doodle_sem.png"), "-o", str(first),
                     *QUICK)
    assert code == 0, text
    imaging.write_image(style, imaging.read_image(style)[::-1])  # the style changed since
    code, text = run("paint", "--like", str(first), "-o", str(tmp_path / "again.png"), "-q")
    assert code == 2
    assert text.startswith("doodle: ") and str(style) in text and "--allow-changed-inputs" in text
    assert not (tmp_path / "again.png").exists()
    code, text = run("paint", "--like", str(first), "--allow-changed-inputs", "--no-metadata",
                     "-o", str(tmp_path / "again.png"))
    assert code == 0, text
    assert "has changed" in text
    assert image_text.read_fields((tmp_path / "again.png").read_bytes()) == {}  # --no-metadata: no text chunk
    assert b"tEXt" not in (tmp_path / "again.png").read_bytes()


def test_paint_without_style_or_like_is_a_usage_error():
    code, text = run("paint", "-o", "x.png")
    assert code == 2 and "--style" in text
