"""The memory planner's predicted peak against the measured peak, at three sizes.

Usage:
    python3 bench/memory.py [--sizes 256x192,512x384,1024x768] [--layers 3_1,4_1] [--device cpu]

Each size runs in a child process: one phase at that size, 2 evaluations, matching
once; the child reports its peak RSS (CPU) or the allocator's peak (GPU). The
parent prints the plan's prediction beside it. On the GPU the child runs with XLA's
autotuner off (``--xla_gpu_autotune_level=0``): left on, it tries convolution
algorithms with scratch buffers as large as the free memory allows, and that scratch,
not the program, sets the allocator's peak (8.4 GiB at 256×192 on an H200, 33 GiB at
512×384). Numbers only; record them in
bench/RESULTS.md. The default layers are the pretrained ones (3_1,4_1): with the
built-in extractor's 2_1 a 1024×768 evaluation takes minutes on a 2-core CPU.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = r"""
import json, resource, sys
import jax, numpy as np
from doodle import api, planner, synthesis
from doodle.extractor import builtin
from doodle.options import Options
w, h, layers, device = int(sys.argv[1]), int(sys.argv[2]), tuple(sys.argv[3].split(',')), sys.argv[4]
rng = np.random.default_rng(0)
y, x = np.mgrid[0:h, 0:w]
style = np.clip(128 + 60 * np.sin(x / 7.0)[..., None] + rng.normal(0, 30, (h, w, 3)), 0, 255).astype(np.uint8)
sem = np.zeros((h, w, 3), np.uint8); sem[: h // 2] = (255, 0, 0); sem[h // 2:] = (0, 0, 255)
doodle = sem[::-1].copy()
opts = Options.of(iterations=2, phases=1, style_layers=layers, random_seed=0, device=device)
problem = api.build_problem(style, style_map=sem, target_map=doodle, options=opts)
extractor = builtin()
plan = api.make_plan(problem, extractor, opts)
synthesis.synthesize(problem, extractor, opts, key=jax.random.PRNGKey(0), plan=plan)
if plan.phases[0].device == "gpu":
    peak = planner.gpu_devices()[0].memory_stats()["peak_bytes_in_use"]
else:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"predicted": plan.peak_bytes, "measured": peak, "device": plan.phases[0].device,
                  "slices": [lp.slices for lp in plan.phases[0].layers]}))
"""


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="256x192,512x384,1024x768")
    p.add_argument("--layers", default="3_1,4_1")
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    print(f"layers {args.layers}, device {args.device}, 1 phase, 2 evaluations")
    print(f"{'size':>10} {'device':>6} {'slices':>10} {'predicted':>10} {'measured':>10} {'error':>7}")
    for size in args.sizes.split(","):
        w, h = size.split("x")
        env = dict(os.environ)
        if args.device == "gpu":
            env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_gpu_autotune_level=0").strip()
        out = subprocess.run([sys.executable, "-c", CHILD, w, h, args.layers, args.device],
                             capture_output=True, text=True, cwd=ROOT, env=env)
        if out.returncode != 0:
            print(f"{size:>10} failed: {out.stderr.strip().splitlines()[-1] if out.stderr else out.returncode}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        err = (r["predicted"] - r["measured"]) / r["measured"]
        print(f"{size:>10} {r['device']:>6} {str(r['slices']):>10} {r['predicted'] / 2**20:8.0f}Mi "
              f"{r['measured'] / 2**20:8.0f}Mi {err:+7.0%}")


if __name__ == "__main__":
    main()
