"""Speed of one doodle → painting run, phase by phase, with a breakdown per evaluation.

Usage:
    python3 bench/speed.py [--size 512x384] [--iterations 100] [--match-every 1] [--case auto|coastline|meadow]

Prints the machine's matmul GFLOP/s, then per phase: median seconds per iteration, the
split of one evaluation into features forward / matching / loss + gradient / optimiser
overhead, compile time, and the phase's wall time; then the run's total wall time and
peak RSS. Numbers only: a benchmark never passes or fails. Record what you quote in
bench/RESULTS.md with the date, machine and command.

The case is the reference's Coastline doodle with Monet (when ../shared is present, for
comparing with the published result), else the project's own meadow pack and doodle.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from doodle import api, imaging, patches, synthesis, vgg  # noqa: E402
from doodle.extractor import builtin  # noqa: E402
from doodle.options import Options  # noqa: E402

SHARED = ROOT.parent / "shared" / "reference" / "neural-doodle"


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    """The machine's f32 matmul throughput through XLA, GFLOP/s."""
    a = jnp.ones((n, n), jnp.float32)
    f = jax.jit(lambda a: a @ a)
    f(a).block_until_ready()
    t = time.perf_counter()
    for _ in range(repeats):
        f(a).block_until_ready()
    return 2 * n**3 * repeats / (time.perf_counter() - t) / 1e9


def case(name: str):
    if name == "coastline" or (name == "auto" and SHARED.exists()):
        return (SHARED / "Monet.jpg", SHARED / "Monet_sem.png", SHARED / "Coastline_sem.png", "coastline")
    return (ROOT / "styles/meadow/meadow.jpg", ROOT / "styles/meadow/meadow_sem.png",
            ROOT / "samples/meadow_doodle_sem.png", "meadow")


def timed(f, *args, repeats=3):
    out = f(*args)
    jax.block_until_ready(out)
    t = time.perf_counter()
    for _ in range(repeats):
        out = f(*args)
        jax.block_until_ready(out)
    return (time.perf_counter() - t) / repeats


def breakdown(extractor, options, problem, scale, hw, x):
    """Seconds of one evaluation's parts at this phase, measured separately."""
    phase = synthesis.prepare_phase(problem, extractor, options, scale, hw)
    config = synthesis.eval_config(extractor, options, problem, phase)
    consts = synthesis.constants(extractor, phase)
    history = {l: patches.init_history(b) for l, b in phase.banks.items()}
    layers = tuple(dict.fromkeys(config.style_layers + config.content_layers))
    forward = timed(lambda img: vgg.features_jit(extractor.params, img, layers, extractor.preprocess), x)
    full = timed(lambda img: synthesis.evaluation_jit(config, consts, img, history, None), x)
    index = synthesis.evaluation_jit(config, consts, x, history, None).index
    cached = timed(lambda img: synthesis.evaluation_jit(config, consts, img, history, index), x)
    gram = sum(2 * hw_l[0] * hw_l[1] * (b.rows + 2) * (b.cols + 2) * b.normed.shape[-1]
               for l, b in phase.banks.items() for hw_l in [vgg.feature_size(*hw, l)])
    return {"forward": forward, "matching": full - cached, "loss+grad": cached, "evaluation": full,
            "gram_gflop": gram / 1e9}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", default="512x384")
    p.add_argument("--iterations", type=int, default=100)
    p.add_argument("--phases", type=int, default=3)
    p.add_argument("--match-every", type=int, default=Options().match_every)
    p.add_argument("--case", default="auto", choices=["auto", "coastline", "meadow"])
    p.add_argument("--no-breakdown", action="store_true")
    args = p.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    style, style_map, doodle, name = case(args.case)
    start = time.perf_counter()
    options = Options(iterations=args.iterations, phases=args.phases, match_every=args.match_every,
                      random_seed=0, output_size=(w, h))
    problem = api.build_problem(style, style_map=style_map, target_map=doodle, options=options)
    extractor = builtin()
    flops = matmul_gflops()
    print(f"case {name} {w}x{h}, iterations {args.iterations}, match_every {args.match_every}, "
          f"device {jax.devices()[0].platform}, matmul {flops:.0f} GFLOP/s")
    stamps: dict[int, list[float]] = {}
    first: dict[int, float] = {}
    ends: dict[int, float] = {}
    images: dict[int, object] = {}

    def callback(p):
        now = time.perf_counter()
        if p.event == "phase":
            stamps[p.phase] = [now]
            images[p.phase] = p.image
        elif p.event == "iteration":
            if p.iteration == 1:
                first[p.phase] = now - stamps[p.phase][0]
            stamps[p.phase].append(now)
        elif p.event == "done":
            ends[p.phase] = p.seconds

    out = synthesis.synthesize(problem, extractor, options, key=jax.random.PRNGKey(0), callback=callback)
    total = time.perf_counter() - start
    imaging.write_image(f"/tmp/bench_speed_{name}_{w}x{h}.png", api.to_uint8(out))
    print(f"{'phase':>5} {'size':>9} {'s/it':>6} {'first(compile)':>15} {'wall':>7}   breakdown of one evaluation")
    for ph in sorted(stamps):
        ts = stamps[ph]
        per = statistics.median(np.diff(ts[1:])) if len(ts) > 2 else float("nan")
        hw = images[ph].shape[:2]
        line = f"{ph:>5} {hw[1]:>4}x{hw[0]:<4} {per:6.2f} {first[ph]:15.1f} {ends[ph]:7.1f}"
        if not args.no_breakdown:
            scale = 1.0 / 2 ** (args.phases - ph)
            b = breakdown(extractor, options, problem, scale, hw, jnp.asarray(images[ph]))
            line += (f"   forward {b['forward']:.2f}s  matching {b['matching']:.2f}s "
                     f"({b['gram_gflop'] / max(b['matching'], 1e-9):.0f} GFLOP/s on the Gram)  "
                     f"loss+grad {b['loss+grad']:.2f}s  optimiser+host {max(per - b['evaluation'] * (1 if args.match_every == 1 else 0), 0):.2f}s")
        print(line)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"total wall {total:.1f}s, peak RSS {rss:.0f} MiB, image /tmp/bench_speed_{name}_{w}x{h}.png")


if __name__ == "__main__":
    main()
