"""Strict JAX settings and a private cache folder for every test, and shared fixtures."""
import atexit
import os
import shutil
import tempfile


def _private_cache() -> str:
    """Point the session (and every subprocess it starts) at a fresh temporary home.

    doodle's cache folder (weights, the built-in calibration, compiled programs) is
    ``$DOODLE_CACHE``, else ``$XDG_CACHE_HOME/doodle``, else ``~/.cache/doodle``: all
    three are redirected, so ``--weights auto`` never finds a developer's pretrained
    file and nothing is written to their cache. So are the folders where torch hub,
    Keras and the Hugging Face hub keep their downloads, which ``auto`` also reads
    (KERAS_HOME made to exist: Keras, and so the search, falls back to /tmp/.keras
    when it does not). Set before doodle is imported; one folder for the whole
    session, so compiled programs are still shared between tests.
    """
    home = tempfile.mkdtemp(prefix="doodle-tests-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    os.environ["HOME"] = home
    os.environ["XDG_CACHE_HOME"] = os.path.join(home, ".cache")
    os.environ["DOODLE_CACHE"] = os.path.join(home, ".cache", "doodle")
    for name in ("TORCH_HOME", "HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        os.environ.pop(name, None)
    os.environ["KERAS_HOME"] = os.path.join(home, ".keras")
    os.makedirs(os.environ["KERAS_HOME"])
    return home


PRIVATE_HOME = _private_cache()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "standard")


@pytest.fixture(scope="session")
def builtin_extractor():
    """The built-in extractor, built once per test session."""
    from doodle.core.extractor import builtin

    return builtin()


@pytest.fixture(autouse=True, scope="module")
def _fresh_programs():
    """Drop the compiled programs a test module leaves behind. The suite compiles over
    a thousand programs in one process; kept all at once, XLA crashed the test
    process (SIGSEGV in libgcc_s's unwinder) while compiling a program late in it that
    compiles fine in a shorter run."""
    yield
    jax.clear_caches()


@pytest.fixture
def rng():
    return np.random.default_rng(1234)

