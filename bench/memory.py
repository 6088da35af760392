"""The memory planner's predicted peak against the measured peak of real runs.

Usage:
    python3 bench/memory.py [--sizes 256x192,512x384,1024x768] [--phases 3] [--iterations 20]
                            [--layers default] [--propagate on|off] [--remat auto|on|off]
                            [--release auto|on|off] [--inputs DIR] [--device cpu]
                            [--json FILE] [--save DIR]

Each size runs in a child process (one at a time: the largest need ~15 GB): a whole
run of the default options (built-in extractor, its style layers 2_1,3_1,4_1 with
relu2_1 propagated, the distribution and colour terms), ``--phases`` phases of
``--iterations`` evaluations each, none stopping early. The painting is the
reference's Monet with its map and the Coastline doodle when ``--inputs`` holds
them (``Monet.jpg``, ``Monet_sem.png``, ``Coastline_sem.png``), else a synthetic
512×384 style and two-region doodle; the style stays at its own size and the doodle
is scaled to the output, as ``doodle paint --output-size`` does. The child reports
its peak RSS (CPU) or the allocator's peak (GPU) and the planner's prediction for
the run; the parent prints a table (size, predicted, measured, error %). The planner
predicts a whole run (on a CPU, what glibc's heaps keep of the freed buffers
included: ``planner.CPU_RETENTION``); ``--phases 1 --iterations 2``, how this bench
measured before 2026-11-30, shows one phase's first evaluations, which it exceeds.
``--save DIR`` writes the painting scaled to 1920 wide and two crops at 100 %
(centre, lower left), to look at large outputs.

On a GPU, XLA's autotuner tries convolution algorithms when it compiles, with scratch
buffers as large as the free memory allows, and that scratch, not the painting, would
set the allocator's peak. So each size runs twice there, sharing a compilation cache
(``--runs 2``, the GPU default): the first compiles, the second loads the programs
from the cache, as a user's second run does, and is the one measured. ``--autotune
off`` (``--xla_gpu_autotune_level=0``, how this bench measured before 2026-11-30)
avoids the scratch in one run, but the convolutions it picks made an evaluation
~100× slower on the H200. Numbers only; record them in bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
REFERENCE = ROOT.parent / "shared" / "reference" / "neural-doodle"

CHILD = r"""
import json, resource, sys, time
import jax, numpy as np
from doodle.run import api
from doodle.plan import planner
from doodle.core import synthesis
from doodle.plan.options import Options
w, h, iterations, layers, propagate, remat, device, inputs, phases, save, cached, release = sys.argv[1:13]
if cached == "1":
    from doodle.cli import runtime
    runtime.enable_compile_cache()
w, h, iterations, phases = int(w), int(h), int(iterations), int(phases)
flat = dict(output_size=(w, h), iterations=iterations, phases=phases, random_seed=0, device=device,
            weights="builtin", propagate=propagate == "on", stall_tolerance=0.0)
if layers != "default":
    flat["style_layers"] = tuple(layers.split(","))
if remat != "-":
    flat["remat"] = remat
flat["release_memory"] = release
opts = Options.of(**flat)
if inputs != "-":
    problem = api.build_problem(f"{inputs}/Monet.jpg", style_map=f"{inputs}/Monet_sem.png",
                                target_map=f"{inputs}/Coastline_sem.png", options=opts)
else:
    rng = np.random.default_rng(0)
    sh, sw = 384, 512
    y, x = np.mgrid[0:sh, 0:sw]
    style = np.clip(128 + 60 * np.sin(x / 7.0)[..., None] + rng.normal(0, 30, (sh, sw, 3)), 0, 255).astype(np.uint8)
    sem = np.zeros((sh, sw, 3), np.uint8); sem[: sh // 2] = (255, 0, 0); sem[sh // 2:] = (0, 0, 255)
    problem = api.build_problem(style, style_map=sem, target_map=sem[::-1].copy(), options=opts)
extractor = api.resolve_extractor(opts)
settings = api.make_recipe(problem, opts, extractor)
plan = settings.plan
start = time.perf_counter()
times = []  # per phase (or tile): [seconds, evaluations, first evaluation's seconds]
def progress(p):
    if p.event == "iteration" and p.iteration == 1:
        times.append([0.0, 0, round(p.seconds, 2)])
    elif p.event == "done" and times:
        times[-1][:2] = [round(p.seconds, 2), p.iteration]
image = synthesis.synthesize(problem, extractor, settings, key=jax.random.PRNGKey(0), callback=progress)
seconds = time.perf_counter() - start
if save != "-":
    from doodle.io import imaging
    img = imaging.to_uint8(image)
    H, W = img.shape[:2]
    # The whole painting scaled to 1920 wide (block means), and two 100 % crops:
    # the centre and the lower left (the Coastline's rocks).
    f = max(1, W // 1920)
    small = img[: H // f * f, : W // f * f].reshape(H // f, f, W // f, f, 3).mean((1, 3)).astype(np.uint8)
    imaging.write_image(f"{save}/paint_{w}x{h}_whole.png", small)
    ch, cw = min(H, 768), min(W, 1024)
    imaging.write_image(f"{save}/paint_{w}x{h}_centre.png", img[(H - ch) // 2:(H + ch) // 2, (W - cw) // 2:(W + cw) // 2])
    imaging.write_image(f"{save}/paint_{w}x{h}_lowleft.png", img[H - ch:, W // 8:W // 8 + cw])
if plan.phases[0].device == "gpu":
    peak = planner.gpu_devices()[0].memory_stats()["peak_bytes_in_use"]
else:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
p = plan.phases[-1]  # the final phase, the largest
print(json.dumps({"predicted": plan.peak_bytes, "measured": peak, "device": p.device, "seconds": seconds,
                  "phases": len(plan.phases), "phase_times": times, "tiles": [q.tiles for q in plan.phases],
                  "remat": p.remat, "release": p.release, "bank_dtype": p.bank_dtype,
                  "slices": ["window" if lp.propagated else lp.slices for lp in p.layers]}))
"""


def measure(w: int, h: int, args) -> dict:
    """One child run at w×h; its JSON result (or {"error": ...})."""
    env = dict(os.environ)
    if args.autotune == "off":
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_gpu_autotune_level=0").strip()
    inputs = args.inputs if args.inputs and (Path(args.inputs) / "Monet.jpg").exists() else "-"
    runs = args.runs or (2 if args.device == "gpu" and args.autotune == "on" else 1)
    with tempfile.TemporaryDirectory() as cache:
        env["DOODLE_CACHE"] = cache
        walls = []
        for run in range(runs):
            start = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", CHILD, str(w), str(h), str(args.iterations), args.layers,
                                  args.propagate, args.remat, args.device, inputs, str(args.phases),
                                  (args.save or "-") if run == runs - 1 else "-", "1" if runs > 1 else "0",
                                  args.release],
                                 capture_output=True, text=True, cwd=ROOT, env=env)
            walls.append(round(time.perf_counter() - start, 1))
            if out.returncode != 0:
                # The exception's own lines, not JAX's note on filtered frames.
                lines = [l for l in out.stderr.strip().splitlines() if l.strip() and "JAX_TRACEBACK" not in l
                         and not l.startswith("----")]
                return {"error": "\n".join(lines[-12:]) or str(out.returncode)}
    r = json.loads(out.stdout.strip().splitlines()[-1])
    r.update(size=f"{w}x{h}", wall=walls[-1], walls=walls, runs=runs, inputs=inputs)
    return r


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="256x192,512x384,1024x768")
    p.add_argument("--iterations", type=int, default=20)
    p.add_argument("--layers", default="default", help="style layers, or 'default' (the extractor's)")
    p.add_argument("--propagate", default="on", choices=("on", "off"))
    p.add_argument("--remat", default="-", help="auto, on or off ('-': leave the option at its default)")
    p.add_argument("--inputs", default=str(REFERENCE), help="folder with Monet.jpg, Monet_sem.png, Coastline_sem.png")
    p.add_argument("--device", default="cpu")
    p.add_argument("--autotune", default="on", choices=("on", "off"), help="XLA's GPU autotuner")
    p.add_argument("--runs", type=int, default=0,
                   help="runs per size sharing a compilation cache, the last measured (0: 2 on a GPU, else 1)")
    p.add_argument("--phases", type=int, default=3, help="phases of the run (3: a whole default run)")
    p.add_argument("--release", default="auto", choices=("auto", "on", "off"), help="--release-memory")
    p.add_argument("--save", help="folder: write the painting (scaled to 1920 wide) and two 100%% crops")
    p.add_argument("--json", help="append each result as a JSON line to this file")
    args = p.parse_args()
    if args.save:
        os.makedirs(args.save, exist_ok=True)
    print(f"layers {args.layers}, propagate {args.propagate}, remat {args.remat}, device {args.device}, "
          f"{args.phases} phase(s), {args.iterations} evaluations each")
    print(f"{'size':>10} {'device':>6} {'remat':>5} {'trim':>5} {'tiles':>5} {'slices':>18} {'predicted':>10} "
          f"{'measured':>10} {'error':>7} {'wall':>7}")
    for size in args.sizes.split(","):
        w, h = (int(v) for v in size.split("x"))
        r = measure(w, h, args)
        if "error" in r:
            print(f"{size:>10} failed: {r['error']}")
            continue
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps(r) + "\n")
        err = (r["predicted"] - r["measured"]) / r["measured"]
        print(f"{size:>10} {r['device']:>6} {str(r['remat']):>5} {str(r['release']):>5} {r['tiles'][-1]:>5} "
              f"{','.join(map(str, r['slices'])):>18} {r['predicted'] / 2**20:8.0f}Mi {r['measured'] / 2**20:8.0f}Mi "
              f"{err:+7.1%} {r['wall']:6.0f}s", flush=True)


if __name__ == "__main__":
    main()
