"""Frame sequences: coherent frames hold what did not change; the style is prepared once."""
import numpy as np
import pytest

from doodle.run import sequence
from doodle.core.memo import StyleMemo
from doodle.plan.options import Options

from images import BLUE, RED, two_textures

QUICK = Options.of(iterations=20, phases=2, random_seed=0, weights="builtin")


def moving_square(frames=3, size=40, step=4):
    """Doodles of a red square moving right over a blue ground, 'step' px a frame."""
    out = []
    for k in range(frames):
        m = np.zeros((size, size, 3), np.uint8)
        m[:] = BLUE
        m[14:28, 4 + step * k:18 + step * k] = RED
        out.append(m)
    return out


@pytest.fixture(scope="module")
def painted(builtin_extractor):
    style, sem = two_textures(40)
    maps = moving_square()
    runs = {}
    for coherent in (False, True):
        memo, events = StyleMemo(), []
        runs[coherent] = ([f.image for f in sequence.paint_sequence(
            style, maps, style_map=sem, options=QUICK, extractor=builtin_extractor, coherent=coherent,
            memo=memo, callback=lambda i, p: events.append((i, p.event)))], memo, events)
    return maps, runs


def test_unchanged_regions_stay_still_in_coherent_mode(painted):
    maps, runs = painted
    independent = sequence.flicker(runs[False][0], maps)
    coherent = sequence.flicker(runs[True][0], maps)
    # The control: painted one by one from noise, the ground does change frame to frame.
    assert independent > 5.0
    assert coherent < 0.4 * independent, (coherent, independent)


def test_the_moving_square_is_still_painted_as_its_region(painted):
    maps, runs = painted
    style, sem = two_textures(40)
    red = style[(sem == RED).all(-1)].mean(0)
    blue = style[(sem == BLUE).all(-1)].mean(0)
    for image, m in zip(runs[True][0], maps):
        inside = image[(m == RED).all(-1)].astype(np.float32).mean(0)
        assert np.linalg.norm(inside - red) < 0.5 * np.linalg.norm(inside - blue)


def test_no_frame_is_quilted(painted):
    """Quilting picks blocks afresh per frame, which would flicker: --finish auto leaves
    a sequence's frames unquilted, the first one included."""
    _, runs = painted
    for _, _, events in runs.values():
        assert events and not any(event == "quilted" for _, event in events)


def test_the_style_is_run_through_the_network_once(painted):
    _, runs = painted
    for coherent in (False, True):  # at 40 px the coarse phase (20 px) is skipped: one scale
        assert (runs[coherent][1].misses, runs[coherent][1].hits) == (1, 2)


def test_coherent_frames_run_the_finest_phase_only(painted):
    _, runs = painted
    starts = [(i, e) for i, e in runs[True][2] if e in ("phase", "skipped")]
    assert starts == [(0, "skipped"), (0, "phase"), (1, "phase"), (2, "phase")]
    starts = [(i, e) for i, e in runs[False][2] if e in ("phase", "skipped")]
    assert starts == [(i, e) for i in range(3) for e in ("skipped", "phase")]


def test_the_memo_returns_what_the_function_would():
    calls = []

    def f(a, params, n):
        calls.append(n)
        return a.sum() + n

    memo, params = StyleMemo(), {"w": 1}
    assert memo(f, np.ones(3), params, 2) == 5.0
    assert memo(f, np.ones(3), params, 2) == 5.0  # another array with the same bytes: a hit
    assert memo(f, np.zeros(3), params, 2) == 2.0
    assert memo(f, np.ones(3), {"w": 1}, 2) == 5.0  # other parameters (by identity): a miss
    assert calls == [2, 2, 2]


def test_a_resumed_sequence_needs_the_previous_painting(builtin_extractor):
    style, sem = two_textures(40)
    with pytest.raises(Exception, match="previous frame"):
        next(sequence.paint_sequence(style, moving_square(), style_map=sem, options=QUICK,
                                     extractor=builtin_extractor, start=1))
