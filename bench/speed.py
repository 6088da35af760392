"""Speed of one doodle → painting run, phase by phase, with a breakdown per evaluation.

Usage:
    python3 bench/speed.py [--size 512x384] [--iterations 100] [--case auto|coastline|meadow]
                           [--exhaustive] [--soft-labels] [--stall-tolerance F] [--match-every N]
    python3 bench/speed.py --scaling 256x256,512x512,1024x1024 [--iterations 6]

Prints the machine's matmul GFLOP/s, then per phase: median seconds per iteration, the
split of one evaluation into features forward / matching / loss + gradient / optimiser
overhead, compile time, and the phase's wall time; then the run's total wall time and
peak RSS; then the quality of the result on one yardstick whatever the levers: each
style layer's label accuracy (the share of output patches whose exact nearest style
patch, matched as the reference does, lies in the same map region) and patch distance
(the reference's MRF loss at that layer with those matches, unweighted). With
--scaling: one single-phase run per size, each in its own process, giving seconds per
iteration and peak RSS. Numbers only: a benchmark never passes or fails. Record what
you quote in bench/RESULTS.md with the date, machine and command.

The case is the reference's Coastline doodle with Monet (when ../shared is present, for
comparing with the published result), else the project's own meadow pack and doodle.
"""
from __future__ import annotations

import argparse
import os
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

from doodle.core import evaluation, labels, patches, synthesis, vgg  # noqa: E402
from doodle.core.extractor import builtin  # noqa: E402
from doodle.core.phase import prepare_phase  # noqa: E402
from doodle.core.problem import palette_of, resize, semantic_channels  # noqa: E402
from doodle.io import imaging  # noqa: E402
from doodle.plan.options import Options  # noqa: E402
from doodle.run import api, resolve  # noqa: E402
from doodle.run.resolve import stall_tolerance_of  # noqa: E402

# The reference's example images (not shipped); $DOODLE_REFERENCE points elsewhere, e.g.
# on a GPU machine that only receives the repository.
SHARED = Path(os.environ.get("DOODLE_REFERENCE", ROOT.parent / "shared" / "reference" / "neural-doodle"))


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
    """(mean seconds of ``f(*args)`` after one warm-up call, its last result)."""
    out = f(*args)
    jax.block_until_ready(out)
    t = time.perf_counter()
    for _ in range(repeats):
        out = f(*args)
        jax.block_until_ready(out)
    return (time.perf_counter() - t) / repeats, out


def breakdown(extractor, options, problem, scale, hw, x):
    """Seconds of one evaluation's parts at this phase, measured separately."""
    settings = resolve.recipe(options, problem, resolve.kind_of(extractor))
    phase = prepare_phase(problem, extractor, settings, scale, hw, key=jax.random.PRNGKey(0))
    config = evaluation.eval_config(extractor, settings, phase)
    consts = evaluation.constants(extractor, phase)
    _, start = evaluation.fresh(config, x, phase)
    layers = tuple(dict.fromkeys(config.style_layers + config.content_layers))
    forward, _ = timed(lambda img: vgg.features_jit(extractor.params, img, layers, extractor.preprocess), x)
    full, ev = timed(lambda img: evaluation.evaluation_jit(config, consts, img, start, True), x)
    cached, _ = timed(lambda img: evaluation.evaluation_jit(config, consts, img, ev.matching, False), x)
    reassign, _ = timed(lambda m: evaluation.reassign(m, ev.pixels, phase).assigned, ev.matching)
    gram = sum(2 * hw_l[0] * hw_l[1] * (b.rows + 2) * (b.cols + 2) * b.normed.shape[-1]
               for l, b in phase.banks.items() for hw_l in [vgg.feature_size(*hw, l)]
               if l not in dict(config.parents))  # propagated layers make no Gram
    vgg_flop = 0
    last = vgg.deepest(layers)
    for name, _, cin, cout in vgg.LAYERS:
        fh, fw = vgg.feature_size(*hw, name)
        vgg_flop += 2 * 2 * 9 * cin * cout * fh * fw  # forward and the input gradient
        if name == last:
            break
    return {"forward": forward, "matching": full - cached, "loss+grad": cached, "evaluation": full,
            "reassign": reassign,
            "gram_gflop": gram / 1e9, "vgg_gflops": vgg_flop / 1e9 / cached}


def quality(extractor, options, problem, image):
    """{layer: (label accuracy, patch distance)} of ``image`` (h, w, 3) at full size.

    Exact, exhaustive matching at every layer with the reference's soft semantic
    term (no hard labels, no propagation), whatever the run used: one yardstick.
    """
    ref = options.replace(propagate=False, hard_labels=False, occurrence=0.0, variety=0.0)
    hw = image.shape[:2]
    settings = resolve.recipe(ref, problem, resolve.kind_of(extractor))
    phase = prepare_phase(problem, extractor, settings, 1.0, hw, key=jax.random.PRNGKey(0))
    config = evaluation.eval_config(extractor, settings, phase)
    consts = evaluation.constants(extractor, phase)
    _, start = evaluation.fresh(config, jnp.asarray(image), phase)
    ev = evaluation.evaluation_jit(config, consts, jnp.asarray(image), start, True)
    palette = palette_of(problem)
    result = {}
    for layer in config.style_layers:
        acc = float("nan")
        if palette is not None and layer in phase.target_sem:
            style_sem = patches.pool_map(resize(semantic_channels(problem.style_map),
                                                          problem.style_map.shape[:2]), vgg.downscale(layer))
            out_l, sty_l = labels.label_pair(np.asarray(phase.target_sem[layer]), np.asarray(style_sem), palette)
            acc = float(np.mean(sty_l[np.asarray(ev.matching.index[layer])] == out_l))
        result[layer] = (acc, float(ev.terms[f"style {layer}"]) / options.painting.style_weight)
    return result


def scaling(sizes: str, iterations: int) -> None:
    """One single-phase run per size in a child process: s/it and peak RSS."""
    import subprocess

    print(f"{'size':>10} {'s/it':>6} {'mean':>6} {'peak RSS':>9}")
    for size in sizes.split(","):
        out = subprocess.run([sys.executable, __file__, "--size", size, "--phases", "1", "--iterations",
                              str(iterations), "--no-breakdown", "--no-quality"], capture_output=True, text=True)
        per = mean = rss = "?"
        for line in out.stdout.splitlines():
            parts = line.split()
            if parts and parts[0] == "1":  # phase, size, its, s/it (median), mean, ...
                per, mean = parts[3], parts[4]
            if line.startswith("total wall"):
                rss = line.split("peak RSS ")[1].split(",")[0]
        if out.returncode:
            per, rss = "failed", out.stderr.strip().splitlines()[-1][:80] if out.stderr.strip() else ""
        print(f"{size:>10} {per:>6} {mean:>6} {rss:>9}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", default="512x384")
    p.add_argument("--iterations", type=int, default=100)
    p.add_argument("--phases", type=int, default=3)
    p.add_argument("--match-every", type=int, default=Options().painting.match_every)
    p.add_argument("--case", default="auto", choices=["auto", "coastline", "meadow"])
    p.add_argument("--no-breakdown", action="store_true")
    p.add_argument("--no-quality", action="store_true")
    p.add_argument("--exhaustive", action="store_true", help="search every layer's whole bank (no propagation)")
    p.add_argument("--soft-labels", action="store_true", help="no hard label restriction")
    p.add_argument("--stall-tolerance", type=float, default=None, help="default: the mode's (doodle's: with maps)")
    p.add_argument("--image", help="where to write the painting [/tmp/bench_speed_CASE_WxH.png]")
    p.add_argument("--scaling", help="comma-separated sizes, e.g. 256x256,512x512,1024x1024")
    args = p.parse_args()
    if args.scaling:
        scaling(args.scaling, args.iterations)
        return
    w, h = (int(v) for v in args.size.split("x"))
    style, style_map, doodle, name = case(args.case)
    start = time.perf_counter()
    options = Options.of(iterations=args.iterations, phases=args.phases, match_every=args.match_every,
                      random_seed=0, output_size=(w, h), propagate=not args.exhaustive,
                      hard_labels=not args.soft_labels, stall_tolerance=args.stall_tolerance)
    problem = api.build_problem(style, style_map=style_map, target_map=doodle, options=options)
    extractor = builtin()
    flops = matmul_gflops()
    print(f"case {name} {w}x{h}, iterations {args.iterations}, match_every {args.match_every}, "
          f"propagate {options.painting.propagate}, hard_labels {options.painting.hard_labels}, "
          f"stall_tolerance {stall_tolerance_of(options, problem):g}, device {jax.devices()[0].platform}, "
          f"matmul {flops:.0f} GFLOP/s", flush=True)
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
            if p.message:
                print(p.message, flush=True)

    settings = resolve.recipe(options, problem, resolve.kind_of(extractor))
    out = synthesis.synthesize(problem, extractor, settings, key=jax.random.PRNGKey(0), callback=callback)
    total = time.perf_counter() - start
    image = args.image or f"/tmp/bench_speed_{name}_{w}x{h}.png"
    imaging.write_image(image, api.to_uint8(out))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"total wall {total:.1f}s, peak RSS {rss:.0f} MiB, image {image}", flush=True)
    print(f"{'phase':>5} {'size':>9} {'its':>4} {'s/it':>6} {'mean':>6} {'first(compile)':>15} {'wall':>7}   breakdown of one evaluation")
    for ph in sorted(stamps):
        ts = stamps[ph]
        per = statistics.median(np.diff(ts[1:])) if len(ts) > 2 else float("nan")
        mean = statistics.mean(np.diff(ts[1:])) if len(ts) > 2 else float("nan")
        hw = images[ph].shape[:2]
        line = f"{ph:>5} {hw[1]:>4}x{hw[0]:<4} {len(ts) - 1:>4} {per:6.2f} {mean:6.2f} {first[ph]:15.1f} {ends[ph]:7.1f}"
        if not args.no_breakdown:
            scale = 1.0 / 2 ** (args.phases - ph)
            b = breakdown(extractor, options, problem, scale, hw, jnp.asarray(images[ph]))
            line += (f"   forward {b['forward']:.2f}s  matching {b['matching']:.2f}s "
                     f"({b['gram_gflop'] / max(b['matching'], 1e-9):.0f} GFLOP/s on the Gram)  "
                     f"loss+grad {b['loss+grad']:.2f}s  reassign {b['reassign']:.2f}s  "
                     f"vgg {b['vgg_gflops']:.0f} GFLOP/s")
        print(line, flush=True)
    if not args.no_quality:
        for layer, (acc, dist) in quality(extractor, options, problem, np.asarray(out)).items():
            print(f"quality {layer}: label accuracy {acc:.4f}  patch distance {dist:.2f}")


if __name__ == "__main__":
    main()
