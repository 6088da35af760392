"""The memory planner's predicted peak against the measured peak of real runs.

Usage:
    python3 bench/memory.py [--sizes 256x192,512x384,1024x768] [--iterations 2]
                            [--layers default] [--propagate on|off] [--remat auto|on|off]
                            [--inputs DIR] [--device cpu] [--json FILE]

Each size runs in a child process (one at a time: the largest need ~9 GB): the
default options (built-in extractor, its style layers 2_1,3_1,4_1 with relu2_1
propagated, the distribution and colour terms) but ONE phase at that size and
``--iterations`` evaluations (matching once, before the first). The painting is the
reference's Monet with its map and the Coastline doodle when ``--inputs`` holds
them (``Monet.jpg``, ``Monet_sem.png``, ``Coastline_sem.png``), else a synthetic
512×384 style and two-region doodle; the style stays at its own size and the doodle
is scaled to the output, as ``doodle paint --output-size`` does. The child reports
its peak RSS (CPU) or the allocator's peak (GPU) and the planner's prediction for
that phase; the parent prints a table (size, predicted, measured, error %).

On the GPU the child runs with XLA's autotuner off (``--xla_gpu_autotune_level=0``):
left on, it tries convolution algorithms with scratch buffers as large as the free
memory allows, and that scratch, not the program, sets the allocator's peak. Numbers
only; record them in bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
REFERENCE = ROOT.parent / "shared" / "reference" / "neural-doodle"

CHILD = r"""
import json, resource, sys, time
import jax, numpy as np
from doodle import api, planner, synthesis
from doodle.options import Options
w, h, iterations, layers, propagate, remat, device, inputs = sys.argv[1:9]
w, h, iterations = int(w), int(h), int(iterations)
flat = dict(output_size=(w, h), iterations=iterations, phases=1, random_seed=0, device=device,
            weights="builtin", propagate=propagate == "on", stall_tolerance=0.0)
if layers != "default":
    flat["style_layers"] = tuple(layers.split(","))
if remat != "-":
    flat["remat"] = remat
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
plan = api.make_plan(problem, extractor, opts)
start = time.perf_counter()
synthesis.synthesize(problem, extractor, opts, key=jax.random.PRNGKey(0), plan=plan)
seconds = time.perf_counter() - start
if plan.phases[0].device == "gpu":
    peak = planner.gpu_devices()[0].memory_stats()["peak_bytes_in_use"]
else:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
p = plan.phases[0]
print(json.dumps({"predicted": plan.peak_bytes, "measured": peak, "device": p.device, "seconds": seconds,
                  "remat": getattr(p, "remat", False), "bank_dtype": p.bank_dtype,
                  "slices": ["window" if lp.propagated else lp.slices for lp in p.layers]}))
"""


def measure(w: int, h: int, args) -> dict:
    """One child run at w×h; its JSON result (or {"error": ...})."""
    env = dict(os.environ)
    if args.device == "gpu":
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_gpu_autotune_level=0").strip()
    inputs = args.inputs if args.inputs and (Path(args.inputs) / "Monet.jpg").exists() else "-"
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, str(w), str(h), str(args.iterations), args.layers,
                          args.propagate, args.remat, args.device, inputs],
                         capture_output=True, text=True, cwd=ROOT, env=env)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr else str(out.returncode)}
    r = json.loads(out.stdout.strip().splitlines()[-1])
    r.update(size=f"{w}x{h}", wall=time.perf_counter() - start, inputs=inputs)
    return r


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="256x192,512x384,1024x768")
    p.add_argument("--iterations", type=int, default=2)
    p.add_argument("--layers", default="default", help="style layers, or 'default' (the extractor's)")
    p.add_argument("--propagate", default="on", choices=("on", "off"))
    p.add_argument("--remat", default="-", help="auto, on or off ('-': leave the option at its default)")
    p.add_argument("--inputs", default=str(REFERENCE), help="folder with Monet.jpg, Monet_sem.png, Coastline_sem.png")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", help="append each result as a JSON line to this file")
    args = p.parse_args()
    print(f"layers {args.layers}, propagate {args.propagate}, remat {args.remat}, device {args.device}, "
          f"1 phase, {args.iterations} evaluations")
    print(f"{'size':>10} {'device':>6} {'remat':>5} {'slices':>18} {'predicted':>10} {'measured':>10} {'error':>7}")
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
        print(f"{size:>10} {r['device']:>6} {str(r['remat']):>5} {','.join(map(str, r['slices'])):>18} "
              f"{r['predicted'] / 2**20:8.0f}Mi {r['measured'] / 2**20:8.0f}Mi {err:+7.0%}", flush=True)


if __name__ == "__main__":
    main()
