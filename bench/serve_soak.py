#!/usr/bin/env python3
"""``doodle serve`` soak: many tiny doodles through one server, and its memory over time.

Starts ``python3 -m doodle serve --phases 1 --iterations 2`` (a fresh cache folder),
paints ``--count`` 64×48 doodles over HTTP one after another (the pack's sample,
shifted and mirrored in turn, a new seed each), and every ``--every`` paintings prints
the server's resident memory now and at its peak (``VmRSS``, ``VmHWM`` from /proc).
Memory that stops growing after the first few paintings is what is wanted: finished
jobs' images are forgotten past :data:`doodle.serve.jobs.KEPT_JOBS`.

    python3 bench/serve_soak.py                  # 200 paintings
    python3 bench/serve_soak.py --count 20 --every 5
"""
from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import imageio.v3 as iio
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def memory_mib(pid: int) -> tuple[float, float]:
    """(resident now, resident at peak) in MiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def doodles(style: str) -> list[np.ndarray]:
    from doodle.run.api import resize_map

    sample = resize_map(iio.imread(ROOT / "samples" / f"{style}_doodle_sem.png")[..., :3], (48, 64))
    return [sample, sample[:, ::-1], np.roll(sample, 21, axis=1), np.roll(sample[:, ::-1], 21, axis=1)]


def paint_one(port: int, doodle: np.ndarray, style: str, seed: int) -> None:
    body = json.dumps({"style": style, "seed": seed, "doodle": base64.b64encode(
        iio.imwrite("<bytes>", doodle, extension=".png")).decode()})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request("POST", "/api/paint", body=body, headers={"content-type": "application/json"})
    job = json.loads(conn.getresponse().read())
    conn.request("GET", job["events"])
    response = conn.getresponse()
    last = None
    for line in response.fp:
        if line.startswith(b"data:"):
            last = json.loads(line[5:])
            if last["event"] in ("finished", "failed", "cancelled"):
                break
    conn.close()
    assert last is not None and last["event"] == "finished", last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--style", default="meadow")
    args = parser.parse_args()
    maps = doodles(args.style)
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, DOODLE_CACHE=os.path.join(home, "cache"))
        proc = subprocess.Popen([sys.executable, "-m", "doodle", "serve", "--port", "0", "--phases", "1",
                                 "--iterations", "2", "--keep", os.path.join(home, "keep")],
                                cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
        try:
            port = int(proc.stderr.readline().split("http://127.0.0.1:")[1].split("/")[0])
            start = time.perf_counter()
            print("| paintings | seconds | RSS now (MiB) | RSS peak (MiB) |")
            print("| --- | --- | --- | --- |")
            for i in range(1, args.count + 1):
                paint_one(port, maps[i % len(maps)], args.style, i)
                if i % args.every == 0 or i == 1:
                    now, peak = memory_mib(proc.pid)
                    print(f"| {i} | {time.perf_counter() - start:.0f} | {now:.0f} | {peak:.0f} |", flush=True)
        finally:
            proc.send_signal(2)
            proc.wait(30)


if __name__ == "__main__":
    main()
