"""The commands that paint nothing start without JAX: each subcommand's module is
imported when that command runs, and the top-level help imports none."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image, PngImagePlugin

from doodle import cli

ROOT = Path(__file__).resolve().parent.parent
# What no light command may import: seconds of start-up between them.
HEAVY = ("jax", "flax", "optax", "scipy")

# Runs in a fresh interpreter (this one has imported JAX long ago): invokes one
# command and prints the heavy modules it left imported.
PROBE = """
import json, sys
from click.testing import CliRunner
import doodle.cli
result = CliRunner().invoke(doodle.cli.main, json.loads(sys.argv[1]))
heavy = json.loads(sys.argv[2])
print(json.dumps({"code": result.exit_code, "output": result.output,
                  "imported": [m for m in sys.modules if m.split(".")[0] in heavy]}))
"""


def probe(*args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(list(args)), json.dumps(HEAVY)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def painting(tmp_path_factory):
    """A PNG carrying a provenance record, made without painting (that needs JAX)."""
    path = tmp_path_factory.mktemp("painting") / "painted.png"
    record = {"format": 1, "doodle": "0.1.0", "jax": "0", "device": "cpu", "extractor": {"name": "built-in"},
              "options": {"iterations": 2}, "random_seed": 9, "phases": [],
              "inputs": [{"role": "style", "path": "style.png", "bytes": 1, "pixels": [2, 2], "sha256": "0" * 64}]}
    info = PngImagePlugin.PngInfo()
    info.add_text("doodle", json.dumps(record))
    Image.new("RGB", (4, 4)).save(path, pnginfo=info)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("args", [["--help"], ["styles"], ["check", "meadow", "samples/meadow_doodle_sem.png"],
                                  ["styles", "--help"], ["check", "--help"], ["info", "--help"]])
def test_light_commands_import_no_jax(args):
    result = probe(*args)
    assert result["code"] == 0, result["output"]
    assert result["imported"] == []


@pytest.mark.slow
def test_info_imports_no_jax(painting):
    result = probe("info", str(painting))
    assert result["code"] == 0, result["output"]
    assert "--iterations 2" in result["output"]
    assert result["imported"] == []


def test_help_lists_every_command_with_its_own_short_help():
    for entry in cli.COMMANDS:
        command = cli.command(entry.name)
        assert command is getattr(__import__(entry.module, fromlist=[entry.attribute]), entry.attribute)
        assert entry.short_help == command.get_short_help_str(10**6), entry.name
    text = CliRunner().invoke(cli.main, ["--help"]).output
    listed = [line.split()[0] for line in text.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == sorted(entry.name for entry in cli.COMMANDS)


@pytest.mark.slow
def test_unknown_command_is_a_usage_error():
    result = subprocess.run([sys.executable, "-m", "doodle", "pant"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["doodle: error: No such command 'pant'."]
