#!/usr/bin/env python3
"""Start-up time of ``doodle paint``: launch to first iteration, cold and warm cache;
with ``--light``, the wall time of the commands that paint nothing.

Runs ``python3 -m doodle paint`` on a small case with ``DOODLE_CACHE`` pointing at a
fresh temporary folder, and measures the time from just before the process is
spawned until its first iteration line appears on stderr (stderr is a pipe, so
doodle logs plain lines). The first run starts with an empty cache, so it compiles
everything; later runs reuse the compiled programs the first one left in
``$DOODLE_CACHE/jax``. That difference is what the persistent compilation cache buys.

    python3 bench/startup.py                     # meadow, 128x96, 1 iteration, 2 runs
    python3 bench/startup.py --runs 3 -- --device cpu

Prints one line per run: launch to first iteration, launch to exit, cache size.

``--light`` times whole processes of ``doodle --help``, ``doodle styles``, ``doodle
check`` and ``doodle info`` (on a painting made first) instead, median of ``--runs``
(5 by default here); ``--against DIR`` times another checkout's commands too,
alternating with this one's run by run, so that both see the same machine load:

    python3 bench/startup.py --light
    git worktree add /tmp/base <sha> && python3 bench/startup.py --light --against /tmp/base
"""
from __future__ import annotations

import argparse
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The plain (non-terminal) log line of the first evaluation of a phase.
FIRST_ITERATION = re.compile(rb"\biteration 1/\d+\b")


def folder_size(path: Path) -> int:
    """Bytes of the files under ``path`` (0 if it does not exist)."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def run_once(command: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """(seconds to the first iteration line, seconds to exit, exit code)."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    first = float("nan")
    lines = []
    assert proc.stderr is not None
    for line in proc.stderr:  # read as it comes: the timestamp is when the line arrives
        lines.append(line)
        if math.isnan(first) and FIRST_ITERATION.search(line):
            first = time.perf_counter() - start
    code = proc.wait()
    total = time.perf_counter() - start
    if code != 0 or math.isnan(first):
        sys.stderr.write(b"".join(lines).decode(errors="replace"))
    return first, total, code


def light_commands(painting: Path) -> dict[str, list[str]]:
    """The commands timed by ``--light``, by label: their arguments after ``doodle``."""
    return {"--help": ["--help"], "styles": ["styles"],
            "check": ["check", "meadow", str(ROOT / "samples/meadow_doodle_sem.png")],
            "info": ["info", str(painting)]}


def wall_time(root: Path, args: list[str]) -> float:
    """Seconds from spawning ``python3 -m doodle ARGS`` in ``root`` (so its own
    ``doodle`` package is imported) to its exit; exits the bench if the command fails."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "doodle", *args], cwd=root, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"doodle {' '.join(args)} in {root} exited {done.returncode}: {done.stderr.decode(errors='replace')}")
    return seconds


def light(runs: int, against: list[Path]) -> int:
    """``--light``: the medians of each light command, per checkout, runs alternated."""
    roots = [ROOT, *against]
    with tempfile.TemporaryDirectory(prefix="doodle-startup-") as tmp:
        painting = Path(tmp) / "painted.png"  # something for `doodle info` to read
        subprocess.run([sys.executable, "-m", "doodle", "paint", "--style", "meadow", "--map",
                        "samples/meadow_doodle_sem.png", "--output-size", "32x24", "--iterations", "1",
                        "--phases", "1", "--weights", "builtin", "--random-seed", "0", "-q", "-o", str(painting)],
                       cwd=ROOT, check=True, env=dict(os.environ, DOODLE_CACHE=str(Path(tmp) / "cache")))
        commands = light_commands(painting)
        times: dict[tuple[Path, str], list[float]] = {(r, c): [] for r in roots for c in commands}
        for i in range(runs):
            for root in roots if i % 2 == 0 else roots[::-1]:  # neither checkout always goes first
                for label, args in commands.items():
                    times[root, label].append(wall_time(root, args))
    print(f"median of {runs} runs, whole process, seconds" + "".join(f"\n  [{j}] {r}" for j, r in enumerate(roots)))
    print(f"{'command':<16}" + "".join(f"{f'[{j}]':>9}" for j in range(len(roots)))
          + "".join(f"{f'[0]/[{j}]':>9}" for j in range(1, len(roots))))
    for label in commands:
        medians = [statistics.median(times[r, label]) for r in roots]
        print(f"{'doodle ' + label:<16}" + "".join(f"{m:>9.2f}" for m in medians)
              + "".join(f"{medians[0] / m:>9.2f}" for m in medians[1:]))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--style", default="meadow", help="style pack or image [meadow]")
    parser.add_argument("--map", default="samples/meadow_doodle_sem.png", help="the doodle")
    parser.add_argument("--size", default="128x96", help="--output-size [128x96]")
    parser.add_argument("--weights", default="builtin", help="--weights [builtin: no download needed]")
    parser.add_argument("--runs", type=int, default=None,
                        help="runs on one cache folder; the first is cold [2]; with --light, runs per command [5]")
    parser.add_argument("--light", action="store_true",
                        help="time doodle --help, styles, check and info instead of a painting")
    parser.add_argument("--against", type=Path, action="append", default=[], metavar="DIR",
                        help="with --light: also time the checkout in DIR, alternating with this one")
    parser.add_argument("extra", nargs="*", help="more doodle paint flags, after --")
    args = parser.parse_args()
    if args.light:
        return light(args.runs or 5, [p.resolve() for p in args.against])
    args.runs = args.runs or 2

    with tempfile.TemporaryDirectory(prefix="doodle-startup-") as tmp:
        cache = Path(tmp) / "cache"
        env = dict(os.environ, DOODLE_CACHE=str(cache))
        command = [sys.executable, "-m", "doodle", "paint", "--style", args.style, "--map", args.map,
                   "--output-size", args.size, "--iterations", "1", "--phases", "1", "--print-every", "1",
                   "--random-seed", "0", "--weights", args.weights, "-o", str(Path(tmp) / "out.png"), *args.extra]
        print("command: python3", " ".join(command[1:]))
        print(f"{'run':<12} {'to first iteration':>19} {'to exit':>9} {'cache':>9}")
        for i in range(args.runs):
            first, total, code = run_once(command, env)
            label = "1 (cold)" if i == 0 else f"{i + 1} (warm)"
            size = folder_size(cache / "jax") / 2**20
            print(f"{label:<12} {first:>18.2f}s {total:>8.2f}s {size:>6.1f} MiB" + (f"  exit {code}" if code else ""))
            if code:
                return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
