"""Seconds per final-phase evaluation against the output's pixels, and doodle plan's prediction.

Usage:
    python3 bench/evaluation_time.py [--sizes 512x384,1024x768,2048x1536] [--repeats 3] [--inputs DIR]

Each size runs in a child process: the default options' one compiled step
(``evaluation.iterate``) of the final phase (Monet at its own size, the Coastline doodle
scaled to the output, as bench/memory.py), compiled and run once, then timed
``--repeats`` times without a matching and once with one (the fastest of each kept).
The mean evaluation is ``plain + (matched - plain) / match_every``; where the plan
paints the final phase in tiles, one tile is timed (all are one size) and the mean is
that times the tiles. The parent prints it,
its ratio to linear in the pixels (against the first size), and doodle/timing.py's
prediction from this machine's calibration (the cache folder's, measured if missing).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
REFERENCE = ROOT.parent / "shared" / "reference" / "neural-doodle"

CHILD = r"""
import json, sys, time
import jax
from doodle.run import api
from doodle.core import evaluation, phase
from doodle.plan.options import Options
w, h, repeats, inputs = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
opts = Options.of(output_size=(w, h), phases=1, random_seed=0, device="cpu", weights="builtin")
problem = api.build_problem(f"{inputs}/Monet.jpg", style_map=f"{inputs}/Monet_sem.png",
                            target_map=f"{inputs}/Coastline_sem.png", options=opts)
ex = api.resolve_extractor(opts)
settings = api.make_recipe(problem, opts, ex)
plan = settings.plan
hw = (h, w)
tiles = plan.phases[0].tiles
if tiles > 1:  # painted in tiles: one tile's evaluation (they are all one size), times the tiles
    from doodle.core import tiles as tiling
    t = tiling.layout(hw, plan.phases[0].tile, plan.phases[0].overlap)[0]
    hw = t.hw
    problem = problem._replace(target_map=problem.target_map[t.y0:t.y1, t.x0:t.x1], size=hw)
ph = phase.prepare_phase(problem, ex, settings, 1.0, hw, plan.slice_rows(1), key=jax.random.PRNGKey(0))
config = evaluation.eval_config(ex, settings, ph, plan.phases[0].remat)
consts = evaluation.constants(ex, ph)
x = jax.random.uniform(jax.random.PRNGKey(1), hw + (3,), minval=16.0, maxval=240.0)
state, matching = evaluation.fresh(config, x, ph)
out = {}
for label, match, n in (("plain", False, repeats), ("matched", True, 1)):
    run = lambda: jax.block_until_ready(evaluation.iterate(config, consts, hw, state, matching, match, False, False))
    start = time.perf_counter(); run(); first = time.perf_counter() - start
    spans = []
    for _ in range(n):
        start = time.perf_counter(); run(); spans.append(time.perf_counter() - start)
    out[label] = min(spans)
    out[label + " first"] = first
out["tiles"], out["tile_hw"] = tiles, list(hw)
out["style_hw"] = list(plan.phases[0].style_size)
out["remat"] = plan.phases[0].remat
print(json.dumps(out))
"""


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="512x384,1024x768,2048x1536")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--inputs", default=str(REFERENCE))
    args = p.parse_args()
    from doodle.io import cache
    from doodle.run import timing
    from doodle.plan.options import PaintingOptions

    match_every = PaintingOptions().match_every
    cal = timing.calibration(cache.cache_dir() / "timing", "cpu")
    print(f"{'size':>10} {'plain':>8} {'matched':>8} {'per eval':>9} {'vs linear':>9} {'predicted':>9}")
    base = None
    for size in args.sizes.split(","):
        w, h = (int(v) for v in size.split("x"))
        run = subprocess.run([sys.executable, "-c", CHILD, str(w), str(h), str(args.repeats), args.inputs],
                             capture_output=True, text=True, cwd=ROOT)
        if run.returncode != 0:
            print(f"{size:>10} failed: {run.stderr.strip().splitlines()[-1] if run.stderr else run.returncode}")
            continue
        r = json.loads(run.stdout.strip().splitlines()[-1])
        tiles = r.get("tiles", 1)
        per = tiles * (r["plain"] + (r["matched"] - r["plain"]) / match_every)
        per_pixel = per / (w * h)
        base = base or per_pixel
        predicted = tiles * timing.seconds_per_evaluation(cal, tuple(r["tile_hw"]), tuple(r["style_hw"]), match_every,
                                                          r["remat"])
        note = ""
        if tiles > 1:
            note = f"  ({tiles} tiles of {r['tile_hw'][1]}x{r['tile_hw'][0]}; plain/matched are one tile's)"
        print(f"{size:>10} {r['plain']:7.2f}s {r['matched']:7.2f}s {per:8.2f}s {per_pixel / base:8.2f}× "
              f"{predicted:8.2f}s{note}", flush=True)


if __name__ == "__main__":
    main()
