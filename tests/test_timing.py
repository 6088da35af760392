"""The time model: rates from a calibration's times, and the calibration kept per machine."""
import json

import pytest

from doodle import timing

KEY = {"cpu": "test", "device": "cpu"}


def _times(network, network_remat, window, search):
    """The calibration's times for known rates, written out from the model's definition."""
    p = timing.OUTPUT[0] * timing.OUTPUT[1]
    sa, sb = (h * w for h, w in timing.STYLES)
    return {"plain A": network * p, "plain B": network * p, "remat A": network_remat * p,
            "matched A": network * p + window * p + search * p * sa,
            "matched B": network * p + window * p + search * p * sb}


def test_fit_recovers_the_rates_it_was_timed_with():
    cal = timing.fit(_times(3e-5, 4e-5, 2e-6, 5e-10), KEY)
    assert (cal.network, cal.network_remat, cal.window, cal.search) == pytest.approx((3e-5, 4e-5, 2e-6, 5e-10))
    assert cal.key == KEY


def test_seconds_per_evaluation_amortise_the_matching():
    cal = timing.Calibration(network=1e-5, network_remat=2e-5, window=4e-6, search=1e-9, key=KEY)
    hw, style = (100, 200), (50, 60)
    p, s = 100 * 200, 50 * 60
    assert timing.seconds_per_evaluation(cal, hw, style, 4) == pytest.approx(1e-5 * p + (4e-6 * p + 1e-9 * p * s) / 4)
    assert timing.seconds_per_evaluation(cal, hw, style, 4, remat=True) == pytest.approx(
        2e-5 * p + (4e-6 * p + 1e-9 * p * s) / 4)


def test_a_calibration_is_measured_once_per_key_and_kept(tmp_path):
    calls = []

    def measure():
        calls.append(1)
        return _times(3e-5, 4e-5, 2e-6, 5e-10)

    first = timing.load_or_calibrate(tmp_path, KEY, measure)
    second = timing.load_or_calibrate(tmp_path, KEY, measure)
    assert len(calls) == 1 and first == second
    (path,) = tmp_path.iterdir()
    assert path == timing.calibration_path(tmp_path, KEY) and json.loads(path.read_text())["key"] == KEY
    # Another machine or version: measured again, kept beside the first.
    timing.load_or_calibrate(tmp_path, dict(KEY, jax="other"), measure)
    assert len(calls) == 2 and len(list(tmp_path.iterdir())) == 2
    # A damaged file is measured again and replaced.
    path.write_text("{not json")
    assert timing.load_or_calibrate(tmp_path, KEY, measure) == first and len(calls) == 3


def test_a_folder_that_cannot_keep_it_only_costs_a_measurement(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    cal = timing.load_or_calibrate(blocker / "timing", KEY, lambda: _times(3e-5, 4e-5, 2e-6, 5e-10))
    assert cal.network == pytest.approx(3e-5)
