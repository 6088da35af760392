"""doodle's cache folder (doodle/cache.py): one folder, found one way, for weights,
the built-in calibration and compiled programs."""
from pathlib import Path

from doodle.io import cache
from doodle import weights


def test_cache_dir_from_environment(tmp_path):
    assert cache.cache_dir({"DOODLE_CACHE": "/a", "XDG_CACHE_HOME": "/b", "HOME": "/c"}) == Path("/a")
    assert cache.cache_dir({"XDG_CACHE_HOME": "/b", "HOME": "/c"}) == Path("/b/doodle")
    assert cache.cache_dir({"HOME": "/c"}) == Path("/c/.cache/doodle")


def test_weights_use_the_one_cache_folder():
    # doodle.weights re-exports the cache folder's functions rather than computing its own.
    assert weights.cache_dir is cache.cache_dir and weights.cache_problem is cache.cache_problem
