"""The time model: rates from a calibration's times, and the calibration kept per machine."""
import json

import pytest

from doodle.run import timing

KEY = {"cpu": "test", "device": "cpu"}
QUIET = lambda: 0.0  # noqa: E731  the machine's load pinned: a busy test machine must not re-time


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

    first = timing.load_or_calibrate(tmp_path, KEY, measure, QUIET)
    second = timing.load_or_calibrate(tmp_path, KEY, measure, QUIET)
    assert len(calls) == 1 and first == second
    (path,) = tmp_path.iterdir()
    assert path == timing.calibration_path(tmp_path, KEY) and json.loads(path.read_text())["key"] == KEY
    # Another machine or version: measured again, kept beside the first.
    timing.load_or_calibrate(tmp_path, dict(KEY, jax="other"), measure, QUIET)
    assert len(calls) == 2 and len(list(tmp_path.iterdir())) == 2
    # A damaged file is measured again and replaced.
    path.write_text("{not json")
    assert timing.load_or_calibrate(tmp_path, KEY, measure, QUIET) == first and len(calls) == 3


def test_a_folder_that_cannot_keep_it_only_costs_a_measurement(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    cal = timing.load_or_calibrate(blocker / "timing", KEY, lambda: _times(3e-5, 4e-5, 2e-6, 5e-10), QUIET)
    assert cal.network == pytest.approx(3e-5)


def test_a_calibration_timed_on_a_busy_machine_is_timed_again_when_quiet(tmp_path):
    load = [3.0]
    rates = [(6e-5, 8e-5, 4e-6, 1e-9), (3e-5, 4e-5, 2e-6, 5e-10), (9e-5, 9e-5, 9e-6, 9e-9)]
    calls = []

    def measure():
        calls.append(load[0])
        return _times(*rates[len(calls) - 1])

    busy = timing.load_or_calibrate(tmp_path, KEY, measure, busy=lambda: load[0])
    assert busy.busy == 3.0 and busy.network == pytest.approx(6e-5)
    # Still busy: kept as it is, not timed again.
    assert timing.load_or_calibrate(tmp_path, KEY, measure, busy=lambda: load[0]) == busy and len(calls) == 1
    # Quiet: timed again, the faster rates kept, and it stays.
    load[0] = 0.2
    quiet = timing.load_or_calibrate(tmp_path, KEY, measure, busy=lambda: load[0])
    assert len(calls) == 2 and quiet.busy == 0.2
    assert (quiet.network, quiet.window, quiet.search) == pytest.approx((3e-5, 2e-6, 5e-10))
    load[0] = 0.1
    assert timing.load_or_calibrate(tmp_path, KEY, measure, busy=lambda: load[0]) == quiet and len(calls) == 2


def test_the_faster_of_two_calibrations_rate_by_rate():
    a = timing.Calibration(1e-5, 5e-5, 1e-6, 9e-10, KEY, busy=2.0)
    b = timing.Calibration(2e-5, 3e-5, 2e-6, 4e-10, KEY, busy=0.5)
    f = timing.faster(a, b)
    assert (f.network, f.network_remat, f.window, f.search, f.busy) == (1e-5, 3e-5, 1e-6, 4e-10, 0.5)
