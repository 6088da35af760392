"""The Problem's arrays: resizing, plain and periodic."""
import numpy as np
import pytest

from doodle.core.problem import resize


@pytest.mark.parametrize("size, hw", [((12, 10), (6, 5)), ((12, 10), (24, 20)), ((17, 13), (5, 9)), ((8, 8), (8, 16))])
def test_seamless_resize_is_the_resized_tiling(rng, size, hw):
    """--seamless resizes a tile as one of a periodic image: the centre of the 3×3
    tiling resized (its own edges too far away to matter)."""
    img = rng.uniform(0, 255, size + (2,)).astype(np.float32)
    h, w = hw
    ref = np.asarray(resize(np.tile(img, (3, 3, 1)), (3 * h, 3 * w)))[h:2 * h, w:2 * w]
    np.testing.assert_allclose(np.asarray(resize(img, hw, wrap=True)), ref, atol=1e-3)
    assert not np.allclose(np.asarray(resize(img, hw)), ref, atol=1e-3)  # the control: edges clamp


@pytest.mark.parametrize("wrap", [False, True])
def test_a_mask_resizes_as_a_one_channel_image(rng, wrap):
    mask = (rng.uniform(size=(12, 10)) > 0.5).astype(np.float32)
    out = np.asarray(resize(mask, (7, 16), wrap))
    assert out.shape == (7, 16)
    np.testing.assert_allclose(out, np.asarray(resize(mask[..., None], (7, 16), wrap))[..., 0])
    # Each channel of an image resizes on its own: the mask beside another channel.
    both = np.stack([mask, 1 - mask], axis=-1)
    np.testing.assert_allclose(out, np.asarray(resize(both, (7, 16), wrap))[..., 0], atol=1e-6)
