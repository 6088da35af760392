"""``doodle serve``'s HTTP interface against a real uvicorn server on a loopback port:
the styles, a painting followed to its end (its pixels those of doodle.run.api with the
same doodle, style, options and seed), and refusals that leave the server answering."""
from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

import imageio.v3 as iio  # noqa: E402

from doodle.run import api, provenance  # noqa: E402
from doodle.io import image_text
from doodle.plan.options import Options  # noqa: E402
from tests.serving import Client, png_b64, running  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPTIONS = Options.of(phases=1, iterations=4, device="cpu")
SIZE = (48, 64)  # (h, w)


def tiny_doodle() -> np.ndarray:
    sample = iio.imread(os.path.join(ROOT, "samples", "meadow_doodle_sem.png"))[..., :3]
    return api.resize_map(sample, SIZE)


@pytest.fixture(scope="module")
def served(tmp_path_factory, builtin_extractor):
    from doodle.batch.cache import Shared

    keep = tmp_path_factory.mktemp("keep")
    with running(OPTIONS, keep, max_body=1 << 20, shared=Shared(builtin_extractor)) as (client, server):
        yield client, server


def answers(client) -> None:
    status, body = client.json("GET", "/api/styles")
    assert status == 200 and body["styles"]


def test_styles_are_listed_with_legends_and_pictures(served):
    client, _ = served
    status, body = client.json("GET", "/api/styles")
    assert status == 200
    meadow = next(s for s in body["styles"] if s["id"] == "meadow")
    assert {"colour": "#4aa8ff", "name": "sky"} in meadow["legend"]
    assert meadow["sample"] and meadow["canvas"] == [320, 240]
    for which in ("image", "map", "sample"):
        status, data, headers = client.request("GET", f"/api/styles/meadow/{which}.png")
        assert status == 200 and headers["content-type"] == "image/png"
        assert iio.imread(data).ndim == 3
    status, data, _ = client.request("GET", "/")
    assert status == 200 and b"<canvas" in data


@pytest.mark.slow
def test_a_painting_over_http_is_doodle_api_s(served, builtin_extractor):
    client, _ = served
    doodle = tiny_doodle()
    status, job = client.json("POST", "/api/paint", {"style": "meadow", "doodle": png_b64(doodle), "seed": 7})
    assert status == 200, job
    events = client.events(job["events"])
    kinds = [e["event"] for e in events]
    assert kinds[-1] == "finished", events[-1]
    assert "iteration" in kinds and any("image" in e for e in events)
    last = [e for e in events if e["event"] == "iteration"][-1]
    assert (last["phase"], last["iteration"], last["iterations"]) == (1, 4, 4) and "eta" in last
    status, data, headers = client.request("GET", events[-1]["painting"])
    assert status == 200 and headers["content-disposition"].endswith('.png"')
    painted = iio.imread(data)
    expected = api.paint("meadow", map=doodle, options=OPTIONS.replace(random_seed=7), extractor=builtin_extractor)
    np.testing.assert_array_equal(painted, expected)
    record = provenance.from_fields(image_text.read_fields(data))  # `doodle info` and --like read it
    assert record["options"]["random_seed"] == 7
    kept = {item["role"]: item["path"] for item in record["inputs"]}
    assert np.array_equal(iio.imread(kept["map"])[..., :3], doodle)
    status, data, _ = client.request("GET", events[-1]["doodle"])
    assert status == 200 and np.array_equal(iio.imread(data)[..., :3], doodle)


def test_a_truncated_upload_is_refused(served):
    client, _ = served
    whole = iio.imwrite("<bytes>", tiny_doodle(), extension=".png")
    import base64

    status, body = client.json("POST", "/api/paint", {"style": "meadow",
                                                       "doodle": base64.b64encode(whole[: len(whole) // 2]).decode()})
    assert status == 400 and "not a readable image" in body["error"], body
    answers(client)


def _png_header(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` pixels, with a few bytes of them."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_oversized_uploads_are_refused(served):
    client, _ = served
    import base64

    status, body = client.json("POST", "/api/paint", {"style": "meadow",
                                                       "doodle": base64.b64encode(_png_header(5000, 4000)).decode()})
    assert status == 413 and "5000×4000 pixels, more than this server takes" in body["error"], body
    status, body = client.json("POST", "/api/paint", {"style": "meadow",
                                                       "doodle": base64.b64encode(_png_header(20000, 20000)).decode()})
    assert status == 413 and "more pixels than this server takes" in body["error"], body
    status, payload, _ = client.request("POST", "/api/paint", raw=b"{" + b" " * (2 << 20) + b"}")
    assert status == 413 and b"larger than this server takes (1 MiB)" in payload
    answers(client)


def test_a_map_in_foreign_colours_is_refused(served):
    client, _ = served
    doodle = tiny_doodle()
    doodle[:, :20] = (255, 0, 128)
    status, body = client.json("POST", "/api/paint", {"style": "meadow", "doodle": png_b64(doodle)})
    assert status == 400 and "colours the style's map lacks: #ff0080" in body["error"], body
    answers(client)


def test_a_foreign_host_and_a_cross_site_origin_are_refused(served):
    client, _ = served
    status, body = client.json("GET", "/api/styles", headers={"Host": "evil.example:8000"})
    assert status == 403 and "does not answer to the name 'evil.example:8000'" in body["error"]
    status, body = client.json("POST", "/api/paint", {"style": "meadow"},
                               headers={"Origin": "http://evil.example"})
    assert status == 403 and "another site" in body["error"]
    own = f"http://127.0.0.1:{client.port}"
    status, _ = client.json("GET", "/api/styles", headers={"Origin": own})
    assert status == 200
    answers(client)


def test_an_uploaded_painting_alone_gets_a_segmented_map(served):
    client, _ = served
    rng = np.random.default_rng(0)
    image = np.zeros((40, 48, 3), np.uint8)
    image[:20] = (40, 90, 200)
    image[20:] = (60, 160, 60)
    image = np.clip(image + rng.integers(0, 12, image.shape), 0, 255).astype(np.uint8)
    status, style = client.json("POST", "/api/styles", {"name": "two bands", "image": png_b64(image)})
    assert status == 200 and style["segmented"] and style["id"].startswith("upload-"), style
    assert len(style["legend"]) >= 2
    status, data, _ = client.request("GET", f"/api/styles/{style['id']}/map.png")
    assert status == 200 and iio.imread(data).shape[:2] == (40, 48)
    edited = iio.imread(data)[..., :3].copy()
    edited[:, :10] = edited[0, 0]  # one region grown by hand, in the map's own colour
    status, again = client.json("POST", f"/api/styles/{style['id']}/map", {"map": png_b64(edited)})
    assert status == 200 and not again["segmented"] and again["id"] != style["id"], again
    status, data, _ = client.request("GET", f"/api/styles/{again['id']}/map.png")
    assert np.array_equal(iio.imread(data)[..., :3], edited)
    status, body = client.json("POST", "/api/styles/meadow/map", {"map": png_b64(edited)})
    assert status == 400 and "is a pack" in body["error"]
    status, _, _ = client.request("GET", "/api/styles/../../etc/passwd/image.png")  # no path is read
    assert status in (400, 404)
    status, _, _ = client.request("GET", "/api/styles/..%2F..%2Fetc%2Fpasswd/image.png")
    assert status in (400, 404)
    status, body = client.json("GET", "/api/styles/no-such-style/image.png")
    assert status == 400 and "There is no style 'no-such-style'" in body["error"]


def test_without_starlette_serve_exits_2_with_the_install_line():
    code = ("import sys; sys.modules['starlette'] = None; sys.argv = ['doodle', 'serve']; "
            "from doodle.cli import entry; entry()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 2
    assert "pip install 'doodle[serve]'" in done.stderr


@pytest.mark.slow
def test_ctrl_c_stops_the_server_with_130_dropping_the_painting(tmp_path):
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    proc = subprocess.Popen([sys.executable, "-m", "doodle", "serve", "--port", "0", "--keep", str(tmp_path)],
                            cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert "serving http://127.0.0.1:" in line, line
        client = Client(int(line.split("127.0.0.1:")[1].split("/")[0]))
        status, job = client.json("POST", "/api/paint", {"style": "meadow", "doodle": png_b64(tiny_doodle())})
        assert status == 200
        deadline = time.monotonic() + 30
        while client.json("GET", "/api/styles")[0] == 200 and time.monotonic() < deadline:
            if client.request("GET", f"/api/jobs/{job['job']}/doodle.png")[0] == 200:  # it has started
                break
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 130
        assert "interrupted; the painting under way was dropped" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_photo_s_map_is_in_the_style_s_colours(served):
    client, _ = served
    photo = np.zeros((60, 80, 3), np.uint8)
    photo[:30] = (90, 160, 250)  # a blue sky
    photo[30:] = (170, 230, 70)  # over a green meadow
    status, data, _ = client.request("POST", "/api/photo-map", {"style": "meadow", "photo": png_b64(photo)})
    assert status == 200, data
    made = iio.imread(data)[..., :3]
    assert made.shape == (60, 80, 3)
    assert tuple(made[5, 5]) == (74, 168, 255) and tuple(made[55, 5]) == (192, 240, 64)  # sky, grass
    assert {tuple(c) for c in made.reshape(-1, 3)} <= {(74, 168, 255), (192, 240, 64), (160, 80, 224),
                                                       (32, 160, 64), (0, 224, 208)}


def test_quality_presets():
    from doodle.serve import quality

    base = Options.of(phases=3, iterations=100)
    assert quality.apply(base, "normal") == base
    assert (quality.apply(base, "draft").painting.phases, quality.apply(base, "draft").painting.iterations) == (2, 25)
    assert quality.apply(base, "fine").painting.iterations == 200


@pytest.mark.slow
def test_paintings_queue_one_at_a_time_and_cancel(tmp_path, builtin_extractor):
    from doodle.batch.cache import Shared

    # No stall rule: the phase would end by itself after a few evaluations at this size.
    long = OPTIONS.replace(iterations=400, stall_tolerance=0.0)  # cancelled long before the end
    with running(long, tmp_path, shared=Shared(builtin_extractor)) as (client, _):
        body = {"style": "meadow", "doodle": png_b64(tiny_doodle())}
        status, first = client.json("POST", "/api/paint", dict(body, seed=1))
        assert status == 200
        status, second = client.json("POST", "/api/paint", dict(body, seed=2))  # another tab's, say
        assert status == 200 and second["position"] == 1
        status, state = client.json("POST", f"/api/jobs/{second['job']}/cancel", {})
        assert status == 200 and state["state"] == "cancelled"  # taken off the queue
        assert [e["event"] for e in client.events(second["events"])] == ["cancelled"]
        client.json("POST", f"/api/jobs/{first['job']}/cancel", {})  # stopped at its next iteration
        events = client.events(first["events"])
        assert events[-1]["event"] == "cancelled"
        assert all(e["iteration"] < 400 for e in events if e["event"] == "iteration")
        status, body = client.json("GET", f"/api/jobs/{first['job']}/painting.png")
        assert status == 400 and "not finished" in body["error"]
        answers(client)


def test_host_names():
    from doodle.serve import guard

    assert guard.host_name("127.0.0.1:8000") == "127.0.0.1"
    assert guard.host_name("[::1]:8000") == "::1"
    assert guard.host_name("LocalHost") == "localhost"
    assert {"127.0.0.1", "localhost", "::1"} <= guard.allowed_hosts("127.0.0.1")
    assert "evil.example" not in guard.allowed_hosts("0.0.0.0")


def test_a_taken_port_is_one_line_and_exit_2(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "doodle", "serve", "--port", str(port), "--keep", str(tmp_path)],
                              capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == f"doodle: error: cannot listen on 127.0.0.1:{port}: Address already in use. " \
                                  "Try another --port."
