"""A small painting whose final phase is painted in 2×2 tiles, against the same painting
untiled and a control with each tile pasted 3 px off its place, and one whose coarser
phase is painted in tiles; prints the figures as one JSON line (run by
tests/test_synthesis.py in a fresh process)."""
import dataclasses
import json

import jax
import numpy as np

from doodle.plan import planner
from doodle.core import synthesis, tiles
from doodle.core.extractor import builtin
from doodle.plan.options import Options
from doodle.core.problem import Problem

from recipes import recipe_for


def join_ratio(img: np.ndarray, layout) -> float:
    """Mean |difference| between neighbouring rows/columns where a tile starts or ends,
    over the mean between the other neighbouring rows/columns of the same parity (a
    phase upsampled ×2 makes odd and even pairs differ): about 1 with no seam."""
    img = np.asarray(img, np.float32)
    rows = np.abs(np.diff(img, axis=0)).mean(axis=(1, 2))  # pair (i, i+1)
    cols = np.abs(np.diff(img, axis=1)).mean(axis=(0, 2))
    joins_r = {t.y0 - 1 for t in layout if t.y0 > 0} | {t.y1 - 1 for t in layout if t.y1 < img.shape[0]}
    joins_c = {t.x0 - 1 for t in layout if t.x0 > 0} | {t.x1 - 1 for t in layout if t.x1 < img.shape[1]}

    def others(pairs, joins):
        parities = {j % 2 for j in joins}
        return [v for i, v in enumerate(pairs) if i not in joins and i % 2 in parities]

    seam = np.r_[rows[sorted(joins_r)], cols[sorted(joins_c)]].mean()
    return float(seam / np.mean(others(rows, joins_r) + others(cols, joins_c)))


def main() -> None:
    # A smooth style (blurred colour blocks): a join between two paintings that do not
    # agree is a step among small neighbour differences.
    rng = np.random.default_rng(0)
    style = np.kron(rng.uniform(0, 255, (6, 6, 3)), np.ones((8, 8, 1)))
    for _ in range(4):
        style = (style + np.roll(style, 1, 0) + np.roll(style, -1, 0) + np.roll(style, 1, 1) + np.roll(style, -1, 1)) / 5
    problem = Problem(style.astype(np.float32), None, None, None, (72, 72))
    # finish="none": the tiles are the optimiser's; the quilting after it (doodle/quilting.py)
    # redraws the whole painting at once and has tests of its own.
    opts = Options.of(iterations=15, phases=2, random_seed=0, seed_range=(96.0, 160.0), finish="none")
    whole = planner.plan((72, 72), (48, 48), ("3_1", "4_1"), (), False, 2, {"cpu": 8 * 2**30})
    final = dataclasses.replace(whole.phases[-1], tiles=4, tile=(44, 44), overlap=16)
    tiled = planner.Plan(whole.phases[:-1] + (final,), whole.budgets)
    layout = tiles.layout((72, 72), (44, 44), 16)
    assert len(layout) == 4
    extractor = builtin(last="4_1")  # the deepest layer painted with: the same weights, a shorter build

    def paint(plan):
        events = []
        settings = recipe_for(opts, problem, extractor, plan)
        out = synthesis.synthesize(problem, extractor, settings, key=jax.random.PRNGKey(0), callback=events.append)
        return np.asarray(out), events

    untiled, _ = paint(whole)
    joined, events = paint(tiled)
    paste = tiles.paste
    tiles.paste = lambda canvas, painted, layout, i: paste(canvas, np.roll(painted, 3, axis=(0, 1)), layout, i)
    off = paint(tiled)[0]
    tiles.paste = paste
    spread = np.abs(untiled - untiled.mean((0, 1))).mean()

    # A coarser phase in tiles too (a very large output): phase 1 of 2, at 72×72, in
    # 2×2 tiles over the doodle resized to it, the final phase (144×144) whole.
    problem = problem._replace(size=(144, 144))
    whole2 = planner.plan((144, 144), (48, 48), ("3_1", "4_1"), (), False, 2, {"cpu": 8 * 2**30})
    first = dataclasses.replace(whole2.phases[0], tiles=4, tile=(44, 44), overlap=16)
    untiled2, _ = paint(whole2)
    coarse, coarse_events = paint(planner.Plan((first,) + whole2.phases[1:], whole2.budgets))
    spread2 = np.abs(untiled2 - untiled2.mean((0, 1))).mean()
    layout2 = tiles.layout((144, 144), (88, 88), 32)  # phase 1's joins, at the final size
    print(json.dumps({
        "untiled": join_ratio(untiled, layout), "tiled": join_ratio(joined, layout), "off": join_ratio(off, layout),
        "tiled-vs-untiled": float(np.abs(joined - untiled).mean() / spread),
        "off-vs-untiled": float(np.abs(off - untiled).mean() / spread),
        "phase_events": sum(e.event == "phase" and e.phase == 2 for e in events),
        "last_message": events[-1].message,
        "coarse": join_ratio(coarse, layout2), "coarse-untiled": join_ratio(untiled2, layout2),
        "coarse-vs-untiled": float(np.abs(coarse - untiled2).mean() / spread2),
        # The same texture, if not the same layout: its colour mean and spread.
        "coarse-mean": float(np.abs(coarse.mean((0, 1)) - untiled2.mean((0, 1))).mean() / spread2),
        "coarse-spread": float(np.abs(coarse - coarse.mean((0, 1))).mean() / spread2),
        "coarse_phase_events": [sum(e.event == "phase" and e.phase == k for e in coarse_events) for k in (1, 2)],
    }))


if __name__ == "__main__":
    main()
