#!/usr/bin/env python3
"""Batch throughput: a shell loop of ``doodle paint`` vs ``doodle batch`` in-process,
with ``--workers 2``, and on a local two-node Ray cluster, side by side in one run.

The jobs: each style pack (meadow, seascape, still_life) × 4 doodles (the pack's
sample doodle, mirrored, shifted by a third of its width, and both), at 192×144, 2
phases × 30 iterations, a fixed random seed each. ``DOODLE_CACHE`` points at a fresh
folder, filled by one untimed ``doodle batch`` first, so every mode starts with the
compiled programs on disk, as a user's second run does. Each mode is timed from launch
to exit of its command(s) (batches with --force: a rerun in the same folder paints
again), output files compared byte for byte with the shell loop's (the provenance
record included: it holds no seconds).

    python3 bench/batch.py                        # all four modes, two rounds
    python3 bench/batch.py --modes loop,inprocess --iterations 10

Prints a Markdown table: each mode's best wall time over ``--rounds`` (in alternating
order), its paintings per minute, and every run's time with the load average after it.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import imageio.v3 as iio
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PACKS = ("meadow", "seascape", "still_life")
MODES = ("loop", "inprocess", "workers", "ray")


def doodles(folder: Path) -> list[tuple[str, Path]]:
    """(pack, doodle) × 4 per pack, written to ``folder``: in the pack's colours all."""
    out = []
    for pack in PACKS:
        base = iio.imread(ROOT / "samples" / f"{pack}_doodle_sem.png")[..., :3]
        shift = base.shape[1] // 3
        variants = [base, base[:, ::-1], np.roll(base, shift, axis=1), np.roll(base[:, ::-1], shift, axis=1)]
        for k, doodle in enumerate(variants):
            path = folder / f"{pack}{k}_sem.png"
            iio.imwrite(path, np.ascontiguousarray(doodle))
            out.append((pack, path))
    return out


def jobs(work: Path, mode: str, args: argparse.Namespace) -> list[dict]:
    (work / mode).mkdir(exist_ok=True)
    return [{"style": pack, "map": str(doodle), "output": str(work / mode / f"{doodle.stem}.png"),
             "random_seed": seed, "iterations": args.iterations, "phases": args.phases, "output_size": args.size}
            for seed, (pack, doodle) in enumerate(doodles(work), 1)]


def write_jobs(path: Path, items: list[dict]) -> Path:
    path.write_text("".join(json.dumps(j) + "\n" for j in items))
    return path


def doodle(*args: str) -> list[str]:
    return [sys.executable, "-m", "doodle", *args]


def timed(command: list[str], env: dict) -> float:
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr.decode(errors="replace"))
        raise SystemExit(f"{shlex.join(command)} exited {proc.returncode}")
    return seconds


def shell_loop(work: Path, items: list[dict]) -> Path:
    """A shell script painting the jobs one `doodle paint` after another."""
    lines = ["set -e"]
    for j in items:
        lines.append(shlex.join(doodle("paint", "--style", j["style"], "--map", j["map"], "-o", j["output"],
                                       "--random-seed", str(j["random_seed"]), "--iterations",
                                       str(j["iterations"]), "--phases", str(j["phases"]), "--output-size",
                                       j["output_size"], "-q")))
    script = work / "loop.sh"
    script.write_text("\n".join(lines) + "\n")
    return script


def run_mode(mode: str, work: Path, args: argparse.Namespace, env: dict) -> tuple[float, str]:
    """(wall seconds of one mode's run, a note)."""
    items = jobs(work, mode, args)
    listed = write_jobs(work / f"{mode}.jsonl", items)
    if mode == "loop":
        return timed(["bash", str(shell_loop(work, items))], env), ""
    if mode == "inprocess":
        return timed(doodle("batch", str(listed), "-q", "--force"), env), ""
    if mode == "workers":
        return timed(doodle("batch", str(listed), "-q", "--force", "--workers", str(args.workers)), env), ""
    if mode == "ray":
        from ray.cluster_utils import Cluster

        os.environ.update(DOODLE_CACHE=env["DOODLE_CACHE"], PYTHONPATH=env["PYTHONPATH"])  # the nodes' env
        begun = time.perf_counter()
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        note = f"two nodes of 1 CPU; cluster start {time.perf_counter() - begun:.1f} s, not counted"
        try:
            return timed(doodle("batch", str(listed), "-q", "--force", "--ray", cluster.address), env), note
        finally:
            cluster.shutdown()
    raise SystemExit(f"unknown mode {mode!r}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--phases", type=int, default=2)
    parser.add_argument("--size", default="192x144")
    parser.add_argument("--modes", default=",".join(MODES), help=f"some of {','.join(MODES)}")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each mode, in alternating order [2]")
    parser.add_argument("--work", help="folder for inputs and outputs [a temporary one]")
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    work = Path(args.work or tempfile.mkdtemp(prefix="doodle-bench-batch-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, DOODLE_CACHE=str(work / "cache"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    print(f"work folder {work}; {len(jobs(work, 'warm', args))} jobs at {args.size}, {args.phases} phases × "
          f"{args.iterations} iterations", file=sys.stderr)
    start = time.perf_counter()
    timed(doodle("batch", str(write_jobs(work / "warm.jsonl", jobs(work, "warm", args))), "-q", "--force"), env)
    print(f"warm-up (fills the compile cache): {time.perf_counter() - start:.1f} s", file=sys.stderr)

    results: dict[str, list[float]] = {mode: [] for mode in modes}
    notes: dict[str, str] = {}
    # Rounds in alternating order, and the best of each mode's runs: other work on the
    # machine slows whichever mode runs while it lasts.
    for round_ in range(args.rounds):
        for mode in (modes if round_ % 2 == 0 else modes[::-1]):
            seconds, notes[mode] = run_mode(mode, work, args, env)
            results[mode].append(seconds)
            print(f"round {round_ + 1}: {mode} {seconds:.1f} s (load average {os.getloadavg()[0]:.1f})",
                  file=sys.stderr)
    rows = [(mode, min(results[mode]), ", ".join(f"{s:.1f}" for s in results[mode]), notes[mode]) for mode in modes]

    # What the driver does for every job before any painting starts (read, check, digest).
    os.environ.update(DOODLE_CACHE=env["DOODLE_CACHE"])
    sys.path.insert(0, str(ROOT))
    from doodle.batch.run import check

    check(jobs(work, "warm", args), force=True)  # JAX's start and first programs, not counted
    begun = time.perf_counter()
    check(jobs(work, "warm", args), force=True)
    checking = (time.perf_counter() - begun) / len(jobs(work, "warm", args))

    reference = "loop" if "loop" in modes else (modes or ["none"])[0]
    print(f"| mode | best wall | paintings/min | × {reference} | bytes = {reference}'s | every run | note |")
    print("| --- | ---: | ---: | ---: | --- | --- | --- |")
    base = dict((m, s) for m, s, _, _ in rows).get(reference, 0.0)
    for mode, seconds, every, note in rows:
        same = all((work / mode / Path(j["output"]).name).read_bytes()
                   == (work / reference / Path(j["output"]).name).read_bytes()
                   for j in jobs(work, mode, args))
        n = len(jobs(work, mode, args))
        print(f"| {mode} | {seconds:.1f} s | {60 * n / seconds:.2f} | {base / seconds:.2f} | "
              f"{'yes' if same else 'NO'} | {every} s | {note} |")
    print(f"\nChecking a job before painting (reading, checking, digest; in the driver): {1000 * checking:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
