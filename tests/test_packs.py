"""Style packs: discovery and parsing, and the committed packs and sample doodles."""
from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from click.testing import CliRunner

from doodle.io import maps
from doodle.plan import packs
from doodle.cli.maps import check_command
from doodle.cli.styles import styles_command
from doodle.errors import InputError
from doodle.plan.options import CONCERN_OF
from doodle.core import labels

REPO = Path(__file__).resolve().parent.parent
STYLES = REPO / "styles"
SAMPLES = REPO / "samples"
MAX_BYTES = 200 * 1024


def committed_packs() -> list[packs.Pack]:
    return packs.list_packs(STYLES)


def pack_ids() -> list[str]:
    return [p.name for p in committed_packs()]


def colours_of(path: Path) -> set[str]:
    return {maps.hex_colour(c) for c in labels.palette(iio.imread(path)[..., :3])[0]}


# --- discovery ----------------------------------------------------------------


def test_styles_dir_defaults_to_repo_and_env_overrides(monkeypatch, tmp_path):
    monkeypatch.delenv("DOODLE_STYLES", raising=False)
    assert packs.styles_dir() == STYLES
    monkeypatch.setenv("DOODLE_STYLES", str(tmp_path))
    assert packs.styles_dir() == tmp_path
    assert packs.list_packs() == []


def write_pack(root: Path, folder: str, toml: str) -> Path:
    d = root / folder
    d.mkdir(parents=True)
    (d / "style.toml").write_text(toml, encoding="utf-8")
    return d


def test_pack_parsing_defaults_and_lookup(tmp_path):
    d = write_pack(tmp_path, "dots", 'name = "Dots"\n[legend]\n"#FF0000" = "red"\n')
    (d / "Dots.png").write_bytes(b"")
    (tmp_path / "not_a_pack").mkdir()
    [pack] = packs.list_packs(tmp_path)
    assert pack.name == "Dots" and pack.image == d / "Dots.png" and pack.map == d / "Dots_sem.png"
    assert pack.legend == {"#ff0000": "red"}  # keys normalised to lower case
    assert pack.options == {} and pack.licence == "unknown"
    assert packs.find_pack("dots", tmp_path) == pack  # by folder name
    assert packs.find_pack("DOTS", tmp_path) == pack  # by toml name, any case
    assert packs.find_pack("nope", tmp_path) is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        pack.name = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    "toml",
    ['name = "x"\n[legend\n', '[legend]\n"red" = "sky"\n', 'options = 3\n', '[legend]\n"#00ff00" = 1\n'],
)
def test_malformed_pack_raises_input_error(tmp_path, toml):
    write_pack(tmp_path, "broken", toml)
    with pytest.raises(InputError) as err:
        packs.list_packs(tmp_path)
    assert "style.toml" in str(err.value)


# --- the committed packs ------------------------------------------------------


def test_at_least_three_packs_are_committed():
    assert len(committed_packs()) >= 3


@pytest.mark.parametrize("name", pack_ids())
def test_committed_pack_is_complete(name):
    pack = packs.find_pack(name, STYLES)
    assert pack is not None and pack.folder == STYLES / name
    assert pack.description and pack.licence and pack.provenance
    assert pack.image.is_file() and pack.map.is_file()
    for f in (pack.image, pack.map):
        assert f.stat().st_size < MAX_BYTES, f"{f.name} is too big to ship"
    image, sem = iio.imread(pack.image), iio.imread(pack.map)
    assert image.shape[:2] == sem.shape[:2]
    assert 256 <= image.shape[1] <= 384
    # Options are real Options fields, so the CLI can apply them.
    assert set(pack.options) <= set(CONCERN_OF)


@pytest.mark.parametrize("name", pack_ids())
def test_committed_map_is_flat_and_matches_legend(name):
    pack = packs.find_pack(name, STYLES)
    sem = iio.imread(pack.map)[..., :3]
    used = colours_of(pack.map)
    assert used <= set(pack.legend), f"map colours missing from the legend: {used - set(pack.legend)}"
    assert used == set(pack.legend), "every legend colour should be painted in the style"
    assert 2 <= len(used) <= 5
    assert "#000000" not in pack.legend
    assert not maps.fringe_mask(sem).any()  # no anti-aliasing to snap


@pytest.mark.parametrize("name", pack_ids())
def test_sample_doodle_uses_its_pack_legend(name):
    pack = packs.find_pack(name, STYLES)
    doodle = SAMPLES / f"{name}_doodle_sem.png"
    assert doodle.is_file()
    used = colours_of(doodle)
    assert used <= set(pack.legend)
    assert len(used) >= 2
    # A different layout from the style map, not a copy.
    style_map = iio.imread(pack.map)[..., :3]
    doodle_map = iio.imread(doodle)[..., :3]
    assert style_map.shape != doodle_map.shape or not np.array_equal(style_map, doodle_map)
    report = maps.check(style_map, doodle_map)
    assert report.compatible and report.doodle_fringe == 0


def test_content_sample_matches_still_life():
    photo, sem = SAMPLES / "coffee.jpg", SAMPLES / "coffee_sem.png"
    assert iio.imread(photo).shape[:2] == iio.imread(sem).shape[:2]
    assert photo.stat().st_size < MAX_BYTES
    pack = packs.find_pack("still_life", STYLES)
    assert colours_of(sem) <= set(pack.legend)
    assert (SAMPLES / "README.md").is_file() and "CC0" in (SAMPLES / "README.md").read_text()


# --- CLI ------------------------------------------------------------------------


def test_cli_styles_lists_packs_with_legends(monkeypatch):
    monkeypatch.setenv("DOODLE_STYLES", str(STYLES))
    result = CliRunner().invoke(styles_command)
    assert result.exit_code == 0, result.output
    for pack in committed_packs():
        assert pack.name in result.output
        for colour, meaning in pack.legend.items():
            assert f"{colour}  {meaning}" in result.output


def test_cli_styles_reports_broken_pack(monkeypatch, tmp_path):
    write_pack(tmp_path, "broken", "[legend\n")
    monkeypatch.setenv("DOODLE_STYLES", str(tmp_path))
    result = CliRunner().invoke(styles_command)
    assert result.exit_code == 2 and result.output.startswith("doodle: error: ")


def test_cli_check_accepts_a_pack_name(monkeypatch):
    monkeypatch.setenv("DOODLE_STYLES", str(STYLES))
    runner = CliRunner()
    result = runner.invoke(check_command, ["still_life", str(SAMPLES / "coffee_sem.png")])
    assert result.exit_code == 0, result.output
    assert "crockery" in result.output  # colours are named from the pack's legend
    result = runner.invoke(check_command, ["meadow", str(SAMPLES / "seascape_doodle_sem.png")])
    assert result.exit_code == 1 and "#e04030" in result.output  # rocks: not in a meadow
    result = runner.invoke(check_command, ["no_such_pack", str(SAMPLES / "coffee_sem.png")])
    assert result.exit_code == 2 and "neither a file nor a style pack" in result.output


def test_cli_styles_without_packs_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv("DOODLE_STYLES", str(tmp_path))  # a folder without packs
    result = CliRunner().invoke(styles_command)
    assert result.exit_code == 1
    assert result.output.startswith("doodle: error: no style packs in") and len(result.output.splitlines()) == 1


# --- installed packs -------------------------------------------------------------


def _build_wheel(tmp_path: Path) -> Path:
    """A wheel built from a copy of the sources (so the checkout gets no build/ folder)."""
    src = tmp_path / "src"
    for name in ("doodle", "styles"):
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"),
                           str(src)], capture_output=True, text=True)
    if proc.returncode != 0 and "setuptools" in proc.stderr and "matching distribution" in proc.stderr:
        pytest.skip("pip cannot fetch setuptools to build a wheel here")
    assert proc.returncode == 0, proc.stderr
    [wheel] = (tmp_path / "dist").glob("doodle-*.whl")
    return wheel


@pytest.mark.slow
def test_a_wheel_carries_the_packs_and_finds_them(tmp_path, monkeypatch):
    wheel = _build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        z.extractall(tmp_path / "site")
    for pack in committed_packs():
        for path in (pack.folder / "style.toml", pack.image, pack.map):
            assert f"doodle/styles/{pack.folder.name}/{path.name}" in names
    # setup.cfg lists packages one by one: a subpackage left out would be missing here.
    for module in (REPO / "doodle").rglob("*.py"):
        assert module.relative_to(REPO).as_posix() in names, module
    # Installed, away from the checkout: packs.py finds them through importlib.resources.
    monkeypatch.delenv("DOODLE_STYLES", raising=False)
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "site"))
    code = "from doodle.plan import packs; print(packs.styles_dir()); print(*(p.name for p in packs.list_packs()))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    folder, names_found = proc.stdout.splitlines()
    assert Path(folder) == tmp_path / "site" / "doodle" / "styles"
    assert names_found.split() == pack_ids()
