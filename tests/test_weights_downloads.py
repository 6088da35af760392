"""Downloads against a local HTTP server (doodle/weights/downloads.py): verified,
resumable, and for ranged sources only the conv tensors."""
from __future__ import annotations

import hashlib
import json
import struct

import pytest

from doodle import weights
from doodle.errors import InputError
from weight_files import lasagne_bytes, st_bytes, timm_tensors
from weight_refs import file_params
from weight_refs import SMALL, assert_every_layer, oihw_weights, torch_reference
from weight_server import serving, source


@pytest.fixture
def server():
    with serving() as s:
        yield s


def test_download_verifies_and_reports_progress(tmp_path, server):
    data = lasagne_bytes(tmp_path)
    sha = hashlib.sha256(data).hexdigest()
    seen = []
    cache = tmp_path / "cache"
    got = weights.download(source(server, data, sha256=sha, md5=hashlib.md5(data).hexdigest()), cache,
                           progress=lambda done, total: seen.append((done, total)), timeout=5)
    assert got.path == cache / "vgg19_conv.pkl.bz2" and got.path.read_bytes() == data
    assert got.sha256 == sha and got.verified == "sha256, md5"
    assert seen[-1] == (len(data), len(data)) and seen == sorted(seen)
    assert sorted(p.name for p in cache.iterdir()) == ["vgg19_conv.pkl.bz2"]
    assert weights.find_cached(cache) == got.path
    assert list(weights.load(got.path, cache, partial=True).params) == list(SMALL)
    # size + sha256 prefix (the torch hub convention); no checksum at all: reported, not verified
    other = tmp_path / "other"
    assert weights.download(source(server, data, size=len(data), sha256_prefix=sha[:8]), other).verified == \
        "size, sha256 prefix"
    assert weights.download(source(server, data, filename="x.pkl.bz2"), other).verified == ""


def test_download_checksum_mismatch_caches_nothing(tmp_path, server):
    data = lasagne_bytes(tmp_path)
    cache = tmp_path / "cache"
    for bad in ({"sha256": "0" * 64}, {"md5": "0" * 32}, {"sha256_prefix": "ffffffff"}, {"size": len(data) + 1}):
        with pytest.raises(InputError, match="nothing was cached"):
            weights.download(source(server, data, **bad), cache, timeout=5)
        assert list(cache.iterdir()) == []


def test_interrupted_download_resumes_with_range(tmp_path, server):
    data = lasagne_bytes(tmp_path)
    src = source(server, data, sha256=hashlib.sha256(data).hexdigest())
    cache = tmp_path / "cache"
    server.cut_at = (0, len(data) // 3)
    with pytest.raises(InputError, match="run the command again"):
        weights.download(src, cache, timeout=5)
    part = cache / "vgg19_conv.pkl.bz2.part"
    assert part.stat().st_size == len(data) // 3 and not (cache / "vgg19_conv.pkl.bz2").exists()
    got = weights.download(src, cache, timeout=5)
    assert got.path.read_bytes() == data and not part.exists()
    assert server.log[-1][4] == f"bytes={len(data) // 3}-"  # the second request resumed
    assert server.log[-1][3] == len(data) - len(data) // 3


def test_safetensors_source_fetches_only_conv_tensors(tmp_path, server):
    w = oihw_weights(8)
    tensors = timm_tensors(w, fc_floats=200_000)  # 800 kB classifier tensors that must not be fetched
    data = st_bytes(tensors)
    server.files["/model.safetensors"] = data
    src = weights.Source(name="t", url=server.url + "/model.safetensors", filename="t-conv.safetensors",
                         format="safetensors", convention="torchvision", approx_mb=1, licence="test", ranged=True)
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    fc = [(8 + n + header[k]["data_offsets"][0], 8 + n + header[k]["data_offsets"][1])
          for k in header if not k.startswith("features")]
    conv_bytes = sum(e - s for k, (s, e) in ((k, header[k]["data_offsets"]) for k in header) if k.startswith("features"))

    cache = tmp_path / "cache"
    first_conv_start = min(8 + n + header[k]["data_offsets"][0] for k in header if k.startswith("features.5"))
    server.cut_at = (first_conv_start, 1000)  # interrupt the second run of conv tensors
    with pytest.raises(InputError):
        weights.download(src, cache, partial=True, timeout=5)
    got = weights.download(src, cache, partial=True, timeout=5, progress=lambda d, t: None)

    data_requests = [(s, e, sent) for path, s, e, sent, _ in server.log if s >= 8 + n]
    for s, e, _ in data_requests:
        for fs, fe in fc:
            assert e < fs or s >= fe, "a classifier byte was requested"
    complete = [(s, e) for s, e, sent in data_requests if sent == e - s + 1]
    assert sum(e - s + 1 for s, e in complete) <= conv_bytes  # every conv byte fetched at most once
    assert len(data) > 3 * conv_bytes
    assert sorted(p.name for p in cache.iterdir()) == ["t-conv.safetensors"]
    ext = weights.load_file(got.path, partial=True)
    assert ext.preprocess == weights.TORCHVISION and weights.info(got.path)["convention"] == "torchvision"
    assert_every_layer(file_params(ext), torch_reference(w))


def test_a_ranged_vgg16_fetches_its_own_features_numbering(tmp_path, server):
    # VGG16's conv4_1 is features.17 (VGG19's is features.19): a VGG19 plan would stop at conv3_3.
    names = weights.CONV_NAMES[:7] + ("conv4_1",)
    w = oihw_weights(3, names=names)
    keys = weights.layout.TORCH_KEYS_OF["vgg16"]
    tensors = {k: ("F32", a) for conv, pair in w.items() for k, a in zip(keys[conv], pair)}
    server.files["/model.safetensors"] = st_bytes(tensors)
    src = weights.Source(name="t16", url=server.url + "/model.safetensors", filename="t16-conv.safetensors",
                         format="safetensors", convention="torchvision", approx_mb=1, licence="test", ranged=True,
                         arch="vgg16")
    got = weights.download(src, tmp_path / "cache", partial=True, timeout=5)
    params = file_params(weights.load_file(got.path, partial=True))
    assert list(params) == list(names)
    assert_every_layer({c: params[c] for c in names[-2:]}, torch_reference(w), names=names[-2:])
