#!/usr/bin/env python3
"""``doodle serve`` over HTTP: how long from pressing Paint to the first progress
image and to the finished painting, on a cold server and a warm one; and the page's
weight.

A server is started (``python3 -m doodle serve --port 0``) with ``DOODLE_CACHE`` in a
fresh folder, so its first painting compiles everything (cold); a second painting of
the same doodle on the same server reuses the compiled programs and the style's
network passes (warm). The doodle is meadow's sample (320×240), at the default
quality (the pack's schedule), seed 1.

    python3 bench/serve.py
    python3 bench/serve.py --style seascape --quality draft
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

ROOT = Path(__file__).resolve().parent.parent
PAGE = ("/", "/static/app.js", "/static/draw.js", "/static/app.css")


def request(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request(method, path, body=body, headers={"content-type": "application/json"} if body else {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def paint(port: int, doodle: bytes, style: str, quality: str) -> dict:
    """Times (s) from the Paint request to the first preview image and to the end."""
    body = json.dumps({"style": style, "doodle": base64.b64encode(doodle).decode(), "quality": quality,
                       "seed": 1}).encode()
    start = time.perf_counter()
    status, data = request(port, "POST", "/api/paint", body)
    assert status == 200, data
    job = json.loads(data)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
    conn.request("GET", job["events"])
    response = conn.getresponse()
    first_image = None
    iterations = 0
    while True:
        line = response.fp.readline()
        if not line:
            break
        if not line.startswith(b"data:"):
            continue
        event = json.loads(line[5:])
        if "image" in event and first_image is None:
            first_image = time.perf_counter() - start
        iterations += event["event"] == "iteration"
        if event["event"] in ("finished", "failed", "cancelled"):
            break
    finished = time.perf_counter() - start
    assert event["event"] == "finished", event
    status, png = request(port, "GET", event["painting"])
    assert status == 200
    return {"first_image": first_image, "finished": finished, "events": iterations, "png_kb": len(png) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", default="meadow")
    parser.add_argument("--quality", default="normal")
    args = parser.parse_args()
    doodle = (ROOT / "samples" / f"{args.style}_doodle_sem.png").read_bytes()
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, DOODLE_CACHE=os.path.join(home, "cache"))
        proc = subprocess.Popen([sys.executable, "-m", "doodle", "serve", "--port", "0", "--keep",
                                 os.path.join(home, "keep")], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
        try:
            line = proc.stderr.readline()
            port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
            weight = sum(len(request(port, "GET", p)[1]) for p in PAGE)
            rows = [("cold", paint(port, doodle, args.style, args.quality)),
                    ("warm", paint(port, doodle, args.style, args.quality))]
        finally:
            proc.send_signal(2)
            proc.wait(30)
    load = os.getloadavg()[0]
    print(f"doodle serve, {args.style} sample doodle 320×240, quality {args.quality}, seed 1, "
          f"{os.cpu_count()} CPUs (load {load:.1f} after)")
    print(f"page weight: {weight / 1024:.1f} KB ({', '.join(PAGE)}), besides the style pictures")
    print("| server | Paint → first image (s) | Paint → finished (s) | progress events | PNG (KB) |")
    print("| --- | --- | --- | --- | --- |")
    for name, r in rows:
        print(f"| {name} | {r['first_image']:.1f} | {r['finished']:.1f} | {r['events']} | {r['png_kb']:.0f} |")


if __name__ == "__main__":
    main()
