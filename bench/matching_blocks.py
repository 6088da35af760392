"""Seconds of one exact matching against the shape of the blocks it is walked in.

Usage:
    python3 bench/matching_blocks.py [--repeats 3]

The default options' searched layers at a 512×384 output and a 512×384 style
(relu3_1: 96×128 pixels, 256 channels + 4 map channels; relu4_1: 48×64, 512 + 4),
random normalised features. Each line times :func:`doodle.core.patches.match` with the
bank walked in slices of R style patch rows and the output in chunks of O patch rows;
the Gram block's size is printed beside it, and the last line per layer is the pair
:func:`doodle.core.patches.blocks` chooses on this device (the planner's slice as the
memory limit). The fastest of ``--repeats`` runs after one warm-up. Numbers only.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from doodle.core import patches  # noqa: E402

LAYERS = {"3_1": (96, 128, 256), "4_1": (48, 64, 512)}  # (h, w, channels) at 512×384
PAIRS = [(None, None), (42, None), (32, 32), (24, 24), (32, 16), (16, 32), (12, 12), (46, 8), (8, 46)]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'layer':>5} {'rows R':>6} {'out O':>6} {'gram':>8} {'seconds':>8}")
    for layer, (h, w, c) in LAYERS.items():
        def features():
            return (jnp.asarray(rng.standard_normal((h, w, c)), jnp.float32),
                    jnp.asarray(rng.uniform(0, 1, (h, w, 4)), jnp.float32))
        out = patches.normalise_output(*features(), 10.0)
        style = patches.normalise_style(*features(), 10.0)
        rows, cols = h - 2, w - 2
        planned = {"3_1": 42, "4_1": 46}[layer]  # the planner's slice rows at this size
        chosen = patches.blocks((h, w), rows, cols, planned, c + 4, patches.block_limit(jax.default_backend()))
        for r, o in PAIRS + [chosen]:
            r = min(r or rows, rows)
            o = min(o or h - 2, h - 2)
            bank = patches.make_bank(style, r)
            run = lambda: jax.block_until_ready(patches.match(out, bank, out_rows=o).index)  # noqa: E731
            run()
            spans = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                run()
                spans.append(time.perf_counter() - start)
            gram = (o + 2) * w * (r + 2) * (cols + 2) * 4 / 2**20
            mark = "  <- blocks()" if (r, o) == tuple(chosen) else ""
            print(f"{layer:>5} {r:>6} {o:>6} {gram:7.0f}M {min(spans):8.3f}{mark}", flush=True)


if __name__ == "__main__":
    main()
