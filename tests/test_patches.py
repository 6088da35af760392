"""Matching and folding against brute-force numpy."""
import jax.numpy as jnp
import numpy as np
import pytest

from doodle.core import patches, propagation
from doodle.core.labels import label_pair


def _patches(a):
    """(H, W, D) -> (P, 9·D) flattened valid 3×3 patches, row-major."""
    h, w, d = a.shape
    out = [a[i:i + 3, j:j + 3].reshape(-1) for i in range(h - 2) for j in range(w - 2)]
    return np.stack(out)


def _unit(x):
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-8)


def _brute_scores(out_f, out_m, sty_f, sty_m, w):
    a = np.concatenate([_unit(out_f) / 3.0, _unit(out_m) / np.sqrt(9.0 / w)], axis=-1)
    b = np.concatenate([_unit(sty_f), _unit(sty_m)], axis=-1)
    return _patches(a) @ _patches(b).T


@pytest.mark.parametrize("slice_rows,out_rows", [(1, None), (2, None), (3, None), (5, None), (100, None),
                                                (1, 1), (2, 2), (3, 4), (100, 3)])
def test_match_equals_brute_force_argmax(rng, slice_rows, out_rows):
    out_f = rng.standard_normal((7, 9, 5)).astype(np.float32)
    out_m = rng.uniform(0, 1, (7, 9, 4)).astype(np.float32)
    sty_f = rng.standard_normal((8, 6, 5)).astype(np.float32)
    sty_m = rng.uniform(0, 1, (8, 6, 4)).astype(np.float32)
    scores = _brute_scores(out_f, out_m, sty_f, sty_m, 10.0)
    bank = patches.make_bank(patches.normalise_style(sty_f, sty_m, 10.0), slice_rows)
    out = patches.normalise_output(out_f, out_m, 10.0)
    m = patches.match(out, bank, out_rows=out_rows)
    np.testing.assert_array_equal(np.asarray(m.index), scores.argmax(axis=1))
    np.testing.assert_allclose(np.asarray(m.score), scores.max(axis=1), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(m.history), 0.0)  # not tracked: never computed
    # Tracked, each style patch's best score is kept.
    m = patches.match(out, bank, track=True, out_rows=out_rows)
    np.testing.assert_array_equal(np.asarray(m.index), scores.argmax(axis=1))
    np.testing.assert_allclose(np.asarray(m.history), scores.max(axis=0), rtol=1e-5, atol=1e-5)


def test_semantic_weight_steers_matches(rng):
    # Features are noise; only the map can explain a consistent choice.
    sty_f = rng.standard_normal((10, 10, 4)).astype(np.float32)
    sty_m = np.zeros((10, 10, 2), np.float32)
    sty_m[:5, :, 0] = 1
    sty_m[5:, :, 1] = 1
    out_f = rng.standard_normal((6, 6, 4)).astype(np.float32)
    out_m = np.zeros((6, 6, 2), np.float32)
    out_m[..., 1] = 1  # everything is label 1: should match the bottom half
    bank = patches.make_bank(patches.normalise_style(sty_f, sty_m, 50.0), 3)
    m = patches.match(patches.normalise_output(out_f, out_m, 50.0), bank)
    rows = np.asarray(m.index) // bank.cols
    assert (rows >= 5).all()


def test_penalty_is_subtracted_from_scores(rng):
    out_f = rng.standard_normal((6, 6, 3)).astype(np.float32)
    sty_f = rng.standard_normal((7, 7, 3)).astype(np.float32)
    bank = patches.make_bank(patches.normalise_style(sty_f, None, 0.0), 2)
    out = patches.normalise_output(out_f, None, 0.0)
    history = np.asarray(rng.uniform(0, 1, bank.size), np.float32)
    m = patches.match(out, bank, jnp.asarray(0.7 * history))
    a = _patches(np.asarray(out))
    b = _patches(np.asarray(patches.normalise_style(sty_f, None, 0.0)))
    dist = a @ b.T
    np.testing.assert_array_equal(np.asarray(m.index), (dist - 0.7 * history[None]).argmax(axis=1))


def test_fold_gives_brute_force_mrf_terms(rng):
    from doodle.core import losses

    out = rng.standard_normal((6, 7, 4)).astype(np.float32)
    style = rng.standard_normal((5, 8, 4)).astype(np.float32)
    p = (6 - 2) * (7 - 2)
    index = rng.integers(0, (5 - 2) * (8 - 2), p).astype(np.int32)
    t = patches.fold(style, index, (6, 7))
    brute = np.mean((_patches(out) - _patches(style)[index]) ** 2)
    np.testing.assert_allclose(float(losses.mrf_loss(out, t)), brute, rtol=1e-5)


def test_pool_map_averages_blocks():
    sem = np.arange(5 * 7 * 1, dtype=np.float32).reshape(5, 7, 1)
    pooled = np.asarray(patches.pool_map(sem, 2))
    assert pooled.shape == (2, 3, 1)
    assert pooled[1, 2, 0] == sem[2:4, 4:6, 0].mean()


def test_bank_without_patches_is_refused():
    with pytest.raises(ValueError, match="no 3×3 patch"):
        patches.make_bank(np.zeros((2, 9, 3), np.float32), 4)


# --- several styles pooled into one bank ------------------------------------


def _pooled_index(shapes):
    """Flat indices, in the pooled bank, of each style's own patches, in the order of
    concatenating every style's _patches(): (N_valid,) int."""
    width = max(w for _, w in shapes)
    index, top = [], 0
    for h, w in shapes:
        index += [(top + i) * (width - 2) + j for i in range(h - 2) for j in range(w - 2)]
        top += h
    return np.array(index)


def test_pool_marks_exactly_each_styles_own_patches(rng):
    a = rng.standard_normal((4, 5, 2)).astype(np.float32)
    b = rng.standard_normal((3, 7, 2)).astype(np.float32)
    pooled = patches.pool([a, b])
    assert pooled.array.shape == (7, 7, 2)
    np.testing.assert_array_equal(np.asarray(pooled.array[:4, :5]), a)
    assert not np.asarray(pooled.array[:4, 5:]).any()  # zero padding right of the narrower style
    np.testing.assert_array_equal(np.asarray(pooled.array[4:]), b)
    assert pooled.valid.shape == (5 * 5,)
    np.testing.assert_array_equal(np.flatnonzero(pooled.valid), _pooled_index([(4, 5), (3, 7)]))
    # One style: unchanged, and no mask (the single-style path stays as it was).
    single = patches.pool([a])
    assert single.valid is None and np.array_equal(np.asarray(single.array), a)


@pytest.mark.parametrize("slice_rows,variety,out_rows", [(1, 0.0, None), (2, 0.6, None), (4, 0.0, None),
                                                         (100, 0.6, None), (2, 0.6, 2), (100, 0.6, 4)])
def test_pooled_match_equals_brute_force_over_each_styles_patches(rng, slice_rows, variety, out_rows):
    shapes = [(6, 5), (4, 8), (5, 6)]
    out_f = rng.standard_normal((7, 9, 5)).astype(np.float32)
    out_m = rng.uniform(0, 1, (7, 9, 4)).astype(np.float32)
    feats = [rng.standard_normal(s + (5,)).astype(np.float32) for s in shapes]
    sems = [rng.uniform(0, 1, s + (4,)).astype(np.float32) for s in shapes]
    pooled = patches.pool([patches.normalise_style(f, m, 10.0) for f, m in zip(feats, sems)])
    bank = patches.make_bank(pooled.array, slice_rows, pooled.valid)
    out = patches.normalise_output(out_f, out_m, 10.0)
    history = np.where(pooled.valid, rng.uniform(0, 1, bank.size), 0.0).astype(np.float32)
    m = patches.match(out, bank, jnp.asarray(variety * history) if variety else None, track=variety != 0,
                      out_rows=out_rows)

    a = np.concatenate([_unit(out_f) / 3.0, _unit(out_m) / np.sqrt(9.0 / 10.0)], axis=-1)
    own = np.concatenate([_patches(np.concatenate([_unit(f), _unit(s)], -1)) for f, s in zip(feats, sems)])
    where = _pooled_index(shapes)  # brute-force column k is pooled patch where[k]
    dist = _patches(a) @ own.T
    best = (dist - variety * history[where][None]).argmax(axis=1)
    np.testing.assert_array_equal(np.asarray(m.index), where[best])
    hist = np.asarray(m.history)
    assert np.isfinite(hist).all()
    np.testing.assert_allclose(hist[where], dist.max(axis=0) if variety else 0.0, rtol=1e-5, atol=1e-5)
    assert not hist[~pooled.valid].any()


def test_a_patch_straddling_the_seam_is_never_chosen(rng):
    top = rng.standard_normal((5, 6, 3)).astype(np.float32)
    bottom = rng.standard_normal((5, 6, 3)).astype(np.float32)
    normed = patches.pool([patches.normalise_style(top, None, 0.0), patches.normalise_style(bottom, None, 0.0)])
    # The output is the stack's rows 3..8, across the seam (after row 4): its first two
    # rows of patches are exact copies of straddling ones, the best without the mask.
    out_f = np.asarray(normed.array)[3:9]
    scores = _patches(out_f / 3.0) @ _patches(np.asarray(normed.array)).T
    straddling = ~normed.valid
    assert straddling[scores.argmax(axis=1)].any()  # the control: unmasked, the seam wins
    bank = patches.make_bank(normed.array, 2, normed.valid)
    m = patches.match(jnp.asarray(out_f / 3.0), bank)
    chosen = np.asarray(m.index)
    assert normed.valid[chosen].all()
    np.testing.assert_array_equal(chosen, np.where(straddling[None], -np.inf, scores).argmax(axis=1))


def test_fold_reads_pooled_raw_features_like_the_bank(rng):
    from doodle.core import losses

    shapes = [(5, 6), (4, 8)]
    feats = [rng.standard_normal(s + (3,)).astype(np.float32) for s in shapes]
    pooled = patches.pool(feats)
    where = _pooled_index(shapes)
    out = rng.standard_normal((6, 7, 3)).astype(np.float32)
    pick = rng.integers(0, len(where), (6 - 2) * (7 - 2))
    t = patches.fold(pooled.array, jnp.asarray(where[pick], jnp.int32), (6, 7))
    own = np.concatenate([_patches(f) for f in feats])
    brute = np.mean((_patches(out) - own[pick]) ** 2)
    np.testing.assert_allclose(float(losses.mrf_loss(out, t)), brute, rtol=1e-5)


def _labels_of(a):
    """Centre labels of (H, W) int labels, row-major over valid patches."""
    return a[1:-1, 1:-1].reshape(-1)


@pytest.mark.parametrize("slice_rows,out_rows", [(1, None), (3, None), (100, None), (3, 2), (100, 4)])
def test_hard_labels_equal_masked_brute_force(rng, slice_rows, out_rows):
    out_f = rng.standard_normal((7, 8, 5)).astype(np.float32)
    sty_f = rng.standard_normal((9, 7, 5)).astype(np.float32)
    out_l = rng.integers(0, 3, (7, 8))
    sty_l = rng.integers(0, 3, (9, 7))
    out_l[3, 4] = 2  # at least one patch of each label on both sides
    palette = np.eye(3, dtype=np.float32)
    out_m, sty_m = palette[out_l], palette[sty_l]
    scores = _brute_scores(out_f, out_m, sty_f, sty_m, 0.5)  # weak map: the mask must do the work
    ol, sl = _labels_of(out_l), _labels_of(sty_l)
    expected = np.where(ol[:, None] == sl[None, :], scores, -np.inf).argmax(axis=1)
    assert (expected != scores.argmax(axis=1)).any()  # control: the mask changes the answer
    labels = label_pair(out_m, sty_m, palette)
    np.testing.assert_array_equal(labels[0], ol)
    bank = patches.make_bank(patches.normalise_style(sty_f, sty_m, 0.5), slice_rows)
    m = patches.match(patches.normalise_output(out_f, out_m, 0.5), bank,
                      labels=tuple(jnp.asarray(a) for a in labels), out_rows=out_rows, track=True)
    np.testing.assert_array_equal(np.asarray(m.index), expected)
    assert np.isfinite(np.asarray(m.history)).all()


def test_hard_labels_fall_back_for_a_label_the_style_lacks(rng):
    out_m = np.zeros((6, 6, 2), np.float32)
    out_m[..., 1] = 1  # label 1 everywhere; the style is all label 0
    sty_m = np.zeros((6, 6, 2), np.float32)
    sty_m[..., 0] = 1
    out_l, sty_l = label_pair(out_m, sty_m, np.eye(2, dtype=np.float32))
    assert (out_l == -1).all() and (sty_l == 0).all()
    out_f = rng.standard_normal((6, 6, 3)).astype(np.float32)
    sty_f = rng.standard_normal((6, 6, 3)).astype(np.float32)
    bank = patches.make_bank(patches.normalise_style(sty_f, sty_m, 1.0), 2)
    out = patches.normalise_output(out_f, out_m, 1.0)
    free = patches.match(out, bank)
    hard = patches.match(out, bank, labels=(jnp.asarray(out_l), jnp.asarray(sty_l)))
    np.testing.assert_array_equal(np.asarray(hard.index), np.asarray(free.index))


def _brute_propagate(out, style, parent, parent_hw, parent_cols, factor, out_lab=None, sty_lab=None):
    """Loop-by-loop reference for patches.propagate on unit-normalised arrays."""
    h, w, _ = out.shape
    rows, cols = style.shape[0] - 2, style.shape[1] - 2
    hp, wp = parent_hw
    result = []
    for r in range(h - 2):
        for c in range(w - 2):
            y, x = r + 1, c + 1
            py, px = min(max(y // factor, 1), hp - 2), min(max(x // factor, 1), wp - 2)
            t = parent[(py - 1) * (wp - 2) + (px - 1)]
            sy = (t // parent_cols + 1) * factor + y - py * factor
            sx = (t % parent_cols + 1) * factor + x - px * factor
            ty, tx = min(max(sy - 1, 1), rows - 2), min(max(sx - 1, 1), cols - 2)
            best, best_score = ty * cols + tx, -np.inf
            for ay in (-1, 0, 1):
                for ax in (-1, 0, 1):
                    qy, qx = ty + ay, tx + ax
                    k = qy * cols + qx
                    if out_lab is not None and out_lab[r * (w - 2) + c] >= 0 and sty_lab[k] != out_lab[r * (w - 2) + c]:
                        continue
                    score = float(np.sum(out[r:r + 3, c:c + 3] * style[qy:qy + 3, qx:qx + 3]))
                    if score > best_score + 1e-6:
                        best, best_score = k, score
            result.append(best)
    return np.array(result)


def test_propagate_equals_brute_force_window(rng):
    out = np.asarray(patches.normalise_output(rng.standard_normal((10, 12, 4)).astype(np.float32), None, 0))
    style = np.asarray(patches.normalise_style(rng.standard_normal((14, 11, 4)).astype(np.float32), None, 0))
    parent_hw, parent_cols = (5, 6), (7 - 2)
    parent = rng.integers(0, (7 - 2) * parent_cols, (parent_hw[0] - 2) * (parent_hw[1] - 2)).astype(np.int32)
    bank = patches.make_bank(jnp.asarray(style), 4)
    got = propagation.propagate(jnp.asarray(out), bank, jnp.asarray(parent), parent_hw, parent_cols, 2)
    np.testing.assert_array_equal(np.asarray(got), _brute_propagate(out, style, parent, parent_hw, parent_cols, 2))
    lab_o = rng.integers(0, 2, (10 - 2) * (12 - 2)).astype(np.int32)
    lab_s = rng.integers(0, 2, (14 - 2) * (11 - 2)).astype(np.int32)
    want = _brute_propagate(out, style, parent, parent_hw, parent_cols, 2, lab_o, lab_s)
    for chunk in (128, 7):  # one padded chunk; several, the last padded
        got = propagation.propagate(jnp.asarray(out), bank, jnp.asarray(parent), parent_hw, parent_cols, 2,
                                (jnp.asarray(lab_o), jnp.asarray(lab_s)), chunk=chunk)
        np.testing.assert_array_equal(np.asarray(got), want)


def test_propagate_finds_each_patch_itself_when_the_parent_did(rng):
    # Output = style: the exact answer is the identity, and a parent that found itself
    # must lead every child patch to itself too.
    f = np.asarray(patches.normalise_style(rng.standard_normal((12, 16, 6)).astype(np.float32), None, 0))
    parent_hw = (6, 8)
    parent = np.arange((6 - 2) * (8 - 2), dtype=np.int32)
    got = propagation.propagate(jnp.asarray(f / 3.0), patches.make_bank(jnp.asarray(f), 3), jnp.asarray(parent),
                            parent_hw, 8 - 2, 2)
    np.testing.assert_array_equal(np.asarray(got), np.arange((12 - 2) * (16 - 2)))


def _wrapped_patches(a):
    """(H, W, D) -> (H·W, 9·D): the 3×3 patch centred on each pixel of the periodic
    layer, row-major, by rolling the pixel to the centre (the brute-force reference
    for :func:`doodle.core.patches.wrap`)."""
    h, w, _ = a.shape
    return np.stack([np.roll(a, (1 - i, 1 - j), (0, 1))[:3, :3].reshape(-1) for i in range(h) for j in range(w)])


def test_wrapped_output_patches_equal_rolled_brute_force(rng):
    """--seamless: every pixel has a patch, those on the border wrapping around."""
    out_f = rng.standard_normal((5, 7, 4)).astype(np.float32)
    out_m = rng.uniform(0, 1, (5, 7, 3)).astype(np.float32)
    sty_f = rng.standard_normal((6, 6, 4)).astype(np.float32)
    sty_m = rng.uniform(0, 1, (6, 6, 3)).astype(np.float32)
    a = np.concatenate([_unit(out_f) / 3.0, _unit(out_m) / np.sqrt(9.0 / 10.0)], axis=-1)
    b = np.concatenate([_unit(sty_f), _unit(sty_m)], axis=-1)
    scores = _wrapped_patches(a) @ _patches(b).T  # (35, 16)
    bank = patches.make_bank(patches.normalise_style(sty_f, sty_m, 10.0), 2)
    wrapped = patches.wrap(patches.normalise_output(out_f, out_m, 10.0))
    assert wrapped.shape == (7, 9, 7)
    m = patches.match(wrapped, bank)
    np.testing.assert_array_equal(np.asarray(m.index), scores.argmax(axis=1))
    # The MRF loss over the wrapped layer is the mean over the H·W rolled patches.
    t = patches.fold(jnp.asarray(sty_f), m.index, wrapped.shape[:2])
    ref = np.mean((_wrapped_patches(out_f) - _patches(sty_f)[np.asarray(m.index)]) ** 2)
    from doodle.core import losses
    np.testing.assert_allclose(float(losses.mrf_loss(patches.wrap(jnp.asarray(out_f)), t)), ref, rtol=1e-5)


def _block_memory(out_hw, cols, ro, r):
    """Elements of one block's Gram matrix and shifted sum, written out (as the planner's slice_bytes)."""
    h, w = out_hw
    return (ro + 2) * w * (r + 2) * (cols + 2) + ro * (w - 2) * r * cols


@pytest.mark.parametrize("out_hw,rows,cols,slice_rows", [((386, 514), 94, 126, 1), ((98, 130), 94, 126, 32),
                                                         ((546, 490), 94, 126, 2), ((60, 40), 30, 20, 30)])
def test_blocks_keep_within_the_planners_memory_and_do_less_work(out_hw, rows, cols, slice_rows):
    r, ro = patches.blocks(out_hw, rows, cols, slice_rows, depth=256)
    p_rows = out_hw[0] - 2
    assert 1 <= r <= rows and 1 <= ro <= p_rows
    assert _block_memory(out_hw, cols, ro, r) <= _block_memory(out_hw, cols, p_rows, slice_rows)
    if slice_rows >= rows or slice_rows >= 32:
        assert (r, ro) == (slice_rows, p_rows)  # few halo rows to save: the output whole, as planned
    if slice_rows <= 2:
        # A one- or two-row slice computes three or four rows per scored row: chunks
        # of the output let the slices grow, and the halo work shrinks.
        assert r > slice_rows and ro < p_rows
        halo = (-(-p_rows // ro) * (ro + 2)) * (-(-rows // r) * (r + 2))
        assert halo < 0.6 * (p_rows + 2) * (-(-rows // slice_rows) * (slice_rows + 2))


def test_a_chunked_walk_of_a_large_output_equals_the_whole(rng):
    out_f = rng.standard_normal((40, 12, 6)).astype(np.float32)
    sty_f = rng.standard_normal((30, 10, 6)).astype(np.float32)
    bank = patches.make_bank(patches.normalise_style(sty_f, None, 0.0), 1)
    out = patches.normalise_output(out_f, None, 0.0)
    r, ro = patches.blocks(out.shape[:2], bank.rows, bank.cols, bank.slice_rows, out.shape[-1])
    assert ro < 38  # the automatic choice chunks this output
    auto = patches.match(out, bank, track=True)
    scores = _patches(np.asarray(out)) @ _patches(np.asarray(patches.normalise_style(sty_f, None, 0.0))).T
    np.testing.assert_array_equal(np.asarray(auto.index), scores.argmax(axis=1))
    np.testing.assert_allclose(np.asarray(auto.history), scores.max(axis=0), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("out_hw,rows,cols,slice_rows,platform", [
    ((98, 130), 94, 126, 42, "cpu"), ((386, 514), 94, 126, 1, "cpu"), ((50, 66), 46, 62, 46, "cpu"),
    # 4096×3072's relu3_1 against a 512-wide style, planned whole on a large GPU: a Gram
    # block of ~10**10 elements without the cap; with it, within 2 GiB.
    ((1026, 770), 94, 126, 94, "gpu"), ((98, 130), 94, 126, 42, "gpu")])
def test_blocks_keep_each_gram_block_within_the_platform_limit(out_hw, rows, cols, slice_rows, platform):
    cap = patches.block_limit(platform)
    assert cap == {"cpu": patches.CPU_BLOCK_BYTES, "gpu": patches.GPU_BLOCK_BYTES}[platform]
    r, ro = patches.blocks(out_hw, rows, cols, slice_rows, depth=256, block_bytes=cap)
    gram = (ro + 2) * out_hw[1] * (r + 2) * (cols + 2) * 4
    whole = (out_hw[0] * out_hw[1] * (slice_rows + 2) * (cols + 2)) * 4
    assert gram <= max(cap, whole) and 1 <= r <= rows and 1 <= ro <= out_hw[0] - 2
    assert _block_memory(out_hw, cols, ro, r) <= _block_memory(out_hw, cols, out_hw[0] - 2, slice_rows)
    if whole > cap:
        assert gram <= cap and ro < out_hw[0] - 2
    else:  # the planner's block already fits: taken unless another walk is less work
        def work(ro, r):  # matmul and shifted sums of all blocks, padding included
            h, w = out_hw
            n = -(-(h - 2) // ro) * -(-rows // r)
            return n * ((ro + 2) * w * (r + 2) * (cols + 2) * 256 + 9 * ro * (w - 2) * r * cols)
        assert (r, ro) == (slice_rows, out_hw[0] - 2) or work(ro, r) < work(out_hw[0] - 2, slice_rows)
