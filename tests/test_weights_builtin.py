"""The built-in extractor's calibration, kept in the cache folder (doodle/weights/builtin.py)."""
import json

import numpy as np

from doodle import weights


def test_builtin_calibration_is_kept_and_gives_the_same_weights(tmp_path, builtin_extractor):
    first = weights.builtin_extractor("2_1", cache=tmp_path)
    files = list((tmp_path / "builtin").glob("calibration-*.json"))
    assert len(files) == 1 and len(json.loads(files[0].read_text())) == 3
    again = weights.builtin_extractor("3_1", cache=tmp_path)  # deeper: calibrates the rest, rewrites
    assert len(json.loads(files[0].read_text())) == 5
    for ext in (first, again, weights.builtin_extractor("2_1", cache=tmp_path)):
        for name, p in ext.params.items():
            np.testing.assert_array_equal(np.asarray(p["kernel"]), np.asarray(builtin_extractor.params[name]["kernel"]))
    files[0].write_text("not json")  # a damaged file is recalibrated, not an error
    assert set(weights.builtin_extractor("2_1", cache=tmp_path).params) == {"conv1_1", "conv1_2", "conv2_1"}
