"""A first semantic map for a style image that has none (``doodle segment``).

k-means on colour and position, a majority filter, stray regions merged into their
neighbours, and the regions painted in :data:`SEGMENT_COLOURS`. Pure numpy on
arrays, like :mod:`doodle.io.maps`; reading and writing files is the CLI's job.
"""
from __future__ import annotations

import numpy as np

from doodle.core.labels import box_sum

# Output colours of `segment`: Sasha Trubetskoy's "20 distinct colours" minus black,
# white, grey and the two closest pairs, brightest-hue first. No black, because the
# reference maintainer warns that black reads as "no semantic information".
SEGMENT_COLOURS = np.array(
    [
        (230, 25, 75),  # red
        (60, 180, 75),  # green
        (255, 225, 25),  # yellow
        (67, 99, 216),  # blue
        (245, 130, 49),  # orange
        (145, 30, 180),  # purple
        (66, 212, 244),  # cyan
        (240, 50, 230),  # magenta
        (191, 239, 69),  # lime
        (250, 190, 212),  # pink
        (70, 153, 144),  # teal
        (220, 190, 255),  # lavender
        (154, 99, 36),  # brown
        (255, 250, 200),  # beige
        (128, 0, 0),  # maroon
        (170, 255, 195),  # mint
    ],
    dtype=np.uint8,
)



def _kmeans(x: np.ndarray, k: int, rng: np.random.Generator, iterations: int = 30) -> np.ndarray:
    """Lloyd's k-means with k-means++ seeding. (N, D) float64 -> centres (k, D) float64."""
    n = len(x)
    centres = np.empty((k, x.shape[1]))
    centres[0] = x[rng.integers(n)]
    d2 = ((x - centres[0]) ** 2).sum(axis=1)
    for j in range(1, k):
        total = d2.sum()
        i = rng.choice(n, p=d2 / total) if total > 0 else rng.integers(n)
        centres[j] = x[i]
        d2 = np.minimum(d2, ((x - centres[j]) ** 2).sum(axis=1))
    for _ in range(iterations):
        assign = _nearest(x, centres)
        new = centres.copy()
        for j in range(k):
            members = x[assign == j]
            if len(members):
                new[j] = members.mean(axis=0)
            else:  # an empty cluster restarts at the point worst served by the others
                far = ((x - centres[assign]) ** 2).sum(axis=1).argmax()
                new[j] = x[far]
        if np.allclose(new, centres):
            break
        centres = new
    return centres


def _nearest(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(N, D), (k, D) -> (N,) int64 index of each point's nearest centre."""
    d = (x * x).sum(1)[:, None] - 2.0 * x @ centres.T + (centres * centres).sum(1)[None]
    return d.argmin(axis=1)


def _majority(labels: np.ndarray, k: int, radius: int) -> np.ndarray:
    """Mode filter: each pixel takes the most common label of its window. (H, W) -> (H, W)."""
    counts = np.stack([box_sum(labels == j, radius) for j in range(k)])
    return counts.argmax(axis=0)


def components(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """4-connected components of equal labels: (H, W) int -> (ids (H, W) int64, count).

    Run-length based: each row's runs of equal labels are nodes, vertically touching
    runs of the same label are joined by min-label propagation with pointer jumping,
    all vectorised (no per-pixel Python loop).
    """
    h, w = labels.shape
    start = np.ones((h, w), dtype=bool)
    start[:, 1:] = labels[:, 1:] != labels[:, :-1]
    run = np.cumsum(start.ravel()).reshape(h, w) - 1
    n_runs = int(run[-1, -1]) + 1
    same = labels[1:] == labels[:-1]
    # Distinct (upper run, lower run) pairs, packed into one int64 for a fast 1-D unique.
    pairs = np.unique(run[:-1][same].astype(np.int64) * n_runs + run[1:][same])
    parent = np.arange(n_runs)
    if len(pairs):
        a, b = pairs // n_runs, pairs % n_runs
        while True:
            m = np.minimum(parent[a], parent[b])
            new = parent.copy()
            np.minimum.at(new, a, m)
            np.minimum.at(new, b, m)
            new = new[new]  # pointer jumping: follow parents so long chains collapse fast
            while not np.array_equal(new, new[new]):
                new = new[new]
            if np.array_equal(new, parent):
                break
            parent = new
    _, ids = np.unique(parent, return_inverse=True)
    return ids[run].reshape(h, w), int(ids.max()) + 1


def _merge_small(labels: np.ndarray, min_area: int, max_regions: int = 3, max_rounds: int = 50) -> np.ndarray:
    """Relabel stray components as their neighbours. (H, W) int -> (H, W) int.

    A component is stray when it is smaller than ``min_area`` or not among its label's
    ``max_regions`` largest; it takes the label of the bordering component it shares
    the longest edge with, among those larger than itself (so two small neighbours
    never swap labels forever). Each label's largest component is kept, so no label
    disappears.
    """
    labels = labels.copy()
    for _ in range(max_rounds):
        comp, n = components(labels)
        size = np.bincount(comp.ravel(), minlength=n)
        comp_label = np.zeros(n, dtype=labels.dtype)
        comp_label[comp.ravel()] = labels.ravel()
        largest = np.zeros(n, dtype=bool)  # each label's biggest component
        top = np.zeros(n, dtype=bool)  # each label's `max_regions` biggest
        for lab in np.unique(comp_label):
            idx = np.flatnonzero(comp_label == lab)
            order = idx[np.argsort(-size[idx], kind="stable")]
            largest[order[0]] = True
            top[order[:max_regions]] = True
        small = ((size < min_area) | ~top) & ~largest
        if not small.any():
            break
        # Border lengths between touching components, both directions.
        pairs = [
            np.stack([comp[:, :-1].ravel(), comp[:, 1:].ravel()], 1),
            np.stack([comp[:-1].ravel(), comp[1:].ravel()], 1),
        ]
        e = np.concatenate(pairs)
        e = e[e[:, 0] != e[:, 1]]
        e = np.concatenate([e, e[:, ::-1]])
        (pair_codes, border) = np.unique(e[:, 0] * n + e[:, 1], return_counts=True)
        src, dst = pair_codes // n, pair_codes % n
        ok = small[src] & (size[dst] > size[src])
        src, dst, border = src[ok], dst[ok], border[ok]
        if len(src) == 0:
            break
        # For each small component, its best (longest-border) bigger neighbour.
        order = np.lexsort((-border, src))
        src, dst = src[order], dst[order]
        first = np.ones(len(src), dtype=bool)
        first[1:] = src[1:] != src[:-1]
        new_label = comp_label.copy()
        new_label[src[first]] = comp_label[dst[first]]
        labels = new_label[comp]
    return labels


def segment(
    image_rgb: np.ndarray,
    k: int,
    *,
    seed: int = 0,
    spatial: float = 0.6,
    min_fraction: float = 0.01,
) -> np.ndarray:
    """Draw a semantic map for an image that has none. (H, W, 3) uint8 -> (H, W, 3) uint8.

    k-means on colour and position (``spatial`` weighs position against colour, both
    scaled to [0, 1]) gives k clusters; a majority filter smooths their ragged edges;
    stray components smaller than ``min_fraction`` of the image are merged into their
    neighbours, as are all but each colour's three largest regions. The result has
    exactly ``k`` colours, taken from :data:`SEGMENT_COLOURS` by decreasing area.
    Deterministic for a given ``seed``.
    """
    img = np.asarray(image_rgb)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) image, got shape {img.shape}")
    h, w = img.shape[:2]
    if not 1 <= k <= len(SEGMENT_COLOURS):
        raise ValueError(f"k must be between 1 and {len(SEGMENT_COLOURS)}, got {k}")
    if k > h * w:
        raise ValueError(f"cannot make {k} regions from {h * w} pixels")
    rng = np.random.default_rng(seed)

    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64) / max(h, w, 1)
    colour = img.reshape(-1, 3).astype(np.float64) / 255.0
    feats = np.concatenate([colour, spatial * np.stack([yy.ravel(), xx.ravel()], 1)], axis=1)
    # Fit on a sample (k-means cost grows with N, the centres hardly change), assign all.
    sample = feats if len(feats) <= 20000 else feats[rng.choice(len(feats), 20000, replace=False)]
    centres = _kmeans(sample, k, rng)
    labels = _nearest(feats, centres).reshape(h, w)
    labels = _ensure_all(labels, feats, centres, k)

    radius = max(1, round(min(h, w) / 100))
    for _ in range(3):
        smoothed = _majority(labels, k, radius)
        if len(np.unique(smoothed)) < k:  # a thin cluster vanished: keep the rougher map
            break
        labels = smoothed
    labels = _merge_small(labels, max(1, int(min_fraction * h * w)))

    # Colours by decreasing area, so the same image and seed always give the same map.
    area = np.bincount(labels.ravel(), minlength=k)
    rank = np.empty(k, dtype=np.int64)
    rank[np.lexsort((np.arange(k), -area))] = np.arange(k)
    return SEGMENT_COLOURS[rank[labels]]


def _ensure_all(labels: np.ndarray, feats: np.ndarray, centres: np.ndarray, k: int) -> np.ndarray:
    """Give every empty cluster the one pixel farthest from its centre, so k labels exist."""
    flat = labels.ravel().copy()
    for j in range(k):
        if not (flat == j).any():
            d = ((feats - centres[flat]) ** 2).sum(axis=1)
            counts = np.bincount(flat, minlength=k)
            d[counts[flat] <= 1] = -1.0  # never steal a cluster's only pixel
            flat[int(d.argmax())] = j
    return flat.reshape(labels.shape)
