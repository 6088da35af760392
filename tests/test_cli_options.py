"""The command line's flags are built from the Options dataclasses: every field has
its flag, with the field's default and help, and the flags users' scripts name stay."""
from __future__ import annotations

import dataclasses
import re

import pytest
from click.testing import CliRunner

from doodle import cli
from doodle.cli.options import flag_of, options_from
from doodle.plan.options import LIBRARY_ONLY
from doodle.cli.paint import paint
from doodle.cli.plan import plan_command
from doodle.plan.options import CONCERN_OF, CONCERNS, DEFAULTS, Options, PaintingOptions

# `doodle paint --help`'s flags before they were generated from Options (2026-11-30):
# scripts name these, so none may go or change its spelling.
PAINT_FLAGS = {
    "--style", "--style-map", "--content", "--preserve-colors", "--map", "-o", "--output", "--output-size",
    "--semantic-ext", "--content-weight", "--content-layers", "--style-weight", "--style-layers",
    "--semantic-weight", "--smoothness", "--variety", "--occurrence", "--distribution-weight", "--color-weight",
    "--cache", "--no-cache", "--match-every", "--propagate", "--exhaustive", "--hard-labels", "--soft-labels",
    "--stall-tolerance", "--stall-window", "--phases", "--iterations", "--seed", "--seed-range", "--random-seed",
    "--slices", "--weights", "--device", "--max-memory", "--print-every", "--save-every", "--frames-dir",
    "--animation", "--log-json", "-q", "--quiet", "--compile-cache", "--no-compile-cache", "-h", "--help",
}
# Added since, deliberately (issue 17, provenance): the reporting field `metadata`'s
# flags, and paint's own --like and --allow-changed-inputs.
PAINT_FLAGS |= {"--metadata", "--no-metadata", "--like", "--allow-changed-inputs"}
# Issue 16 (large paintings): the resource field `remat`'s flag.
PAINT_FLAGS |= {"--remat"}
# And (issue 17, seamless tiles) the painting field `seamless`'s flags.
PAINT_FLAGS |= {"--seamless", "--no-seamless"}
# Added since, deliberately (issue 17, frame sequences): the painting field
# `temporal_weight`'s flag, and paint's own --force (repaint every frame).
PAINT_FLAGS |= {"--temporal-weight", "--force"}
# Issue 16 (an honest planner for whole runs): the resource field `release_memory`'s flag.
PAINT_FLAGS |= {"--release-memory"}
# Issue 12 (texture synthesis's finest strokes): the painting field `finish`'s flag.
PAINT_FLAGS |= {"--finish"}
PLAN_FLAGS = PAINT_FLAGS - {"--force", "--print-every", "--save-every", "--frames-dir", "--animation", "--log-json", "-q",
                            "--quiet", "--compile-cache", "--no-compile-cache", "--metadata", "--no-metadata",
                            "--like", "--allow-changed-inputs"} | {"--json"}
# `doodle batch` (issue 14): paint's option flags (for every job that does not set its
# own; --metadata is the one reporting field a job may set), the shorthand's --style and
# --map, and its own.
BATCH_FLAGS = (PLAN_FLAGS - {"--style-map", "--content", "-o", "--output", "--json"}) | {
    "--metadata", "--no-metadata", "--out-dir", "--seeds", "--workers", "--ray", "--ray-cpus", "--force", "--strict",
    "--log-json", "-q", "--quiet", "--compile-cache", "--no-compile-cache"}


def help_flags(command: str) -> set[str]:
    """The flags ``doodle COMMAND --help`` lists (its option lines' declarations)."""
    text = CliRunner().invoke(cli.main, [command, "--help"]).output
    flags = set()
    for line in text.splitlines():
        declared = re.match(r"  (-{1,2}[\w-]+(?:(?:, | / )-{1,2}[\w-]+)*)", line)
        if declared:
            flags.update(re.findall(r"-{1,2}[\w-]+", declared.group(1)))
    return flags


@pytest.mark.parametrize("command, before", [("paint", PAINT_FLAGS), ("plan", PLAN_FLAGS), ("batch", BATCH_FLAGS)])
def test_help_lists_the_same_flags_as_before(command, before):
    assert help_flags(command) == before


def test_help_lists_a_flag_for_every_options_field():
    paint_flags, plan_flags = help_flags("paint"), help_flags("plan")
    assert LIBRARY_ONLY == ("match_memory",)  # the one field without a flag, on purpose
    for name, concern in CONCERN_OF.items():
        if name in LIBRARY_ONLY:
            assert flag_of(name) not in paint_flags
            continue
        assert flag_of(name) in paint_flags, name
        assert (flag_of(name) in plan_flags) == (concern != "reporting"), name  # plan paints nothing


def test_every_field_has_help():
    for cls in CONCERNS.values():
        for field in dataclasses.fields(cls):
            assert field.metadata.get("help", "").strip(), f"{cls.__name__}.{field.name} has no help"


@pytest.mark.parametrize("command", [paint, plan_command])
def test_flag_defaults_are_the_dataclass_defaults(command):
    ctx = command.make_context(command.name, ["--style", "x.png"])
    assert options_from(ctx.params) == DEFAULTS


def test_flags_parse_into_their_concerns():
    ctx = paint.make_context("paint", ["--style", "x.png", "--style-weight", "50", "--exhaustive",
                                       "--seed-range", "0:255", "--output-size", "64x48", "--style-layers",
                                       "relu3_1,4_1", "--device", "cpu", "--max-memory", "1G", "--print-every", "0"])
    options = options_from(ctx.params)
    assert options.painting == PaintingOptions(style_weight=50.0, propagate=False, seed_range=(0.0, 255.0),
                                               output_size=(64, 48), style_layers=("3_1", "4_1"))
    assert (options.resources.device, options.resources.max_memory) == ("cpu", 2**30)
    assert options.reporting.print_every == 0


def test_flat_names_route_to_their_concern():
    options = Options.of(style_weight=3.0, device="cpu", print_every=0)
    assert (options.painting.style_weight, options.resources.device, options.reporting.print_every) == (3.0, "cpu", 0)
    assert options.replace(iterations=7).painting.iterations == 7
    assert options.replace(iterations=7).resources == options.resources
    assert Options.of(**options.flat()) == options
    assert Options.of(resources=options.resources).resources.device == "cpu"
    assert DEFAULTS == Options() and list(DEFAULTS.flat()) == list(CONCERN_OF)


def test_an_unknown_field_is_named():
    with pytest.raises(TypeError, match="'style_wieght'.*'style_weight'"):
        Options.of(style_wieght=3.0)
    with pytest.raises(TypeError, match="'bogus'"):
        DEFAULTS.replace(bogus=1)
