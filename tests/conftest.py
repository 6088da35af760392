"""Strict JAX settings for every test, and shared fixtures."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "standard")


@pytest.fixture(scope="session")
def builtin_extractor():
    """The built-in extractor, built once per test session."""
    from doodle.extractor import builtin

    return builtin()


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
