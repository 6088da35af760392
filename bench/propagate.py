"""Seconds of one relu2_1 window refinement (propagation.propagate) by chunk size.

Usage:
    python3 bench/propagate.py [--size 512x384] [--chunks 32,128,512,4096,0]

Random features of relu2_1's shape for an output of --size (and a style of the same
size), 128 + 4 channels, random parent matches from relu3_1, hard labels of three
regions. Chunk 0 means all patches in one chunk. Every chunk size must give the
same matches (printed as the number of differences from the first). Numbers only.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from doodle.core import patches, propagation  # noqa: E402
from speed import timed  # noqa: E402  (bench/ is on the path when run as a script)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", default="512x384")
    p.add_argument("--chunks", default="32,128,512,4096,0")
    args = p.parse_args()
    w, h = (int(v) // 2 for v in args.size.split("x"))  # relu2_1 is at half size
    rng = np.random.default_rng(0)
    d = 132
    out = patches.normalise_output(jnp.asarray(rng.standard_normal((h, w, d), np.float32)), None, 0)
    style = patches.normalise_style(jnp.asarray(rng.standard_normal((h, w, d), np.float32)), None, 0)
    bank = patches.make_bank(style, 8)
    ph, pw = h // 2, w // 2
    n = (h - 2) * (w - 2)
    parent = jnp.asarray(rng.integers(0, (ph - 2) * (pw - 2), (ph - 2) * (pw - 2)), jnp.int32)
    labels = (jnp.asarray(rng.integers(0, 3, n), jnp.int32), jnp.asarray(rng.integers(0, 3, n), jnp.int32))
    print(f"relu2_1 {w}x{h}, {n} patches, {d} channels, device {jax.devices()[0].platform}")
    first = None
    for chunk in (int(c) for c in args.chunks.split(",")):
        c = chunk or n
        f = jax.jit(lambda o, par, lab, c=c: propagation.propagate(o, bank, par, (ph, pw), pw - 2, 2, lab, chunk=c))
        seconds, got = timed(f, out, parent, labels, repeats=5)
        got = np.asarray(got)
        first = got if first is None else first
        print(f"chunk {chunk or 'all':>6}: {seconds * 1e3:8.1f} ms  differences {int((got != first).sum())}")


if __name__ == "__main__":
    main()
