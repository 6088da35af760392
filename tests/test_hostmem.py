"""Giving freed memory back: glibc's heap shrinks, and a painting trims where planned."""
import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import pytest

from doodle.core import hostmem, synthesis
from doodle.plan import planner
from doodle.plan.options import Options
from doodle.core.problem import Problem

from images import swapped_doodle, two_textures
from recipes import recipe_for
from test_planner import LAYERS, GIB, _problem

needs_glibc = pytest.mark.skipif(not hostmem.available(), reason="no malloc_trim: not glibc")


# Run in a fresh process: in the test run's own, a new thread may share a heap other
# threads have shaped, and what free() keeps there is not this test's to decide.
HEAP = r"""
import ctypes, json, os, threading
from doodle.core import hostmem

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
out, keepers = {}, []

def work():
    # In a thread, as XLA's buffers are: its own arena. 96 MiB in blocks below the mmap
    # threshold, touched, each followed by a small block that stays, so the freed ones
    # cannot merge into the top of the heap and free() keeps them.
    blocks = []
    for _ in range(1536):
        blocks.append(libc.malloc(64 * 1024))
        keepers.append(libc.malloc(64))
        ctypes.memset(blocks[-1], 1, 64 * 1024)
    out["before"] = rss()
    for b in blocks:
        libc.free(b)
    out["kept"] = rss()

thread = threading.Thread(target=work)
thread.start()
thread.join()
out["released"] = hostmem.release()
out["after"] = rss()
print(json.dumps(out))
"""


@pytest.mark.slow
@needs_glibc
def test_release_returns_the_freed_middle_of_a_threads_heap():
    root = str(Path(hostmem.__file__).resolve().parents[2])  # the checkout: doodle/core/hostmem.py
    done = subprocess.run([sys.executable, "-c", HEAP], capture_output=True, text=True, cwd=root, check=True,
                          env=dict(os.environ, PYTHONPATH=root))
    rss = json.loads(done.stdout)
    assert rss["released"]
    assert rss["kept"] > rss["before"] - 48 * 2**20  # glibc kept most of it
    assert rss["after"] < rss["kept"] - 64 * 2**20  # and gave it back when asked


@pytest.mark.parametrize("release", [False, True])
def test_a_phase_trims_at_each_matching_when_planned(builtin_extractor, monkeypatch, release):
    calls = []
    monkeypatch.setattr(hostmem, "release", lambda: calls.append(1) or True)
    plan = planner.plan((32, 32), (40, 40), LAYERS, (), True, 1, {"cpu": 64 * GIB},
                        release="on" if release else "off")
    assert plan.phases[0].release == release
    opts = Options.of(iterations=9, phases=1, random_seed=0, match_every=4, stall_tolerance=0.0)
    settings = recipe_for(opts, _problem(), builtin_extractor, plan)
    synthesis.synthesize(_problem(), builtin_extractor, settings, key=jax.random.PRNGKey(0))
    # Matchings at evaluations 5 and 9 (the phase's first is made before its first evaluation).
    assert len(calls) == (2 if release else 0)


@pytest.mark.parametrize("short", [False, True])
def test_a_short_plan_drops_each_phases_programs_before_the_next(builtin_extractor, monkeypatch, short):
    # A phase's programs are specialised to its sizes and hold 60-190 MiB each on a
    # CPU: a run short of memory drops them between phases; a roomy one keeps them
    # (a batch painting the same sizes again reuses them).
    calls = []
    real = jax.clear_caches
    monkeypatch.setattr(jax, "clear_caches", lambda: calls.append(1) or real())
    style, sem = two_textures(64)
    problem = Problem(style, sem, None, swapped_doodle(64), (64, 64))
    plan = planner.plan((64, 64), (64, 64), LAYERS, (), True, 2, {"cpu": 64 * GIB},
                        release="on" if short else "off", remat="off")
    assert plan.memory_short == short and not any(p.skipped for p in plan.phases)
    opts = Options.of(iterations=3, phases=2, random_seed=0, stall_tolerance=0.0)
    settings = recipe_for(opts, problem, builtin_extractor, plan)
    image = synthesis.synthesize(problem, builtin_extractor, settings, key=jax.random.PRNGKey(0))
    assert len(calls) == (1 if short else 0) and image.shape == (64, 64, 3)
