"""Weight files other libraries already keep, found in place and checked (doodle/weights/discover.py)."""
from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from doodle.core import vgg
from doodle import weights
from doodle.errors import InputError
from doodle.weights import catalog, discover, packaged
from doodle.weights.layout import TORCH_KEYS_OF
from weight_files import st_bytes


@pytest.fixture
def places(tmp_path, monkeypatch):
    """Private torch, Keras, Hugging Face and doodle caches for one test."""
    dirs = {name: tmp_path / name for name in ("torch", "keras", "hf", "doodle")}
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(dirs["torch"]))
    monkeypatch.setenv("KERAS_HOME", str(dirs["keras"]))
    monkeypatch.setenv("HF_HOME", str(dirs["hf"]))
    monkeypatch.setenv("DOODLE_CACHE", str(dirs["doodle"]))
    dirs["keras"].mkdir()  # as Keras leaves it (a missing one sends Keras to /tmp/.keras)
    return dirs


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hub_file(places, stem: str, data: bytes, prefix: str | None = None) -> Path:
    """A torch hub checkpoint named as torch hub names it: the sha256's first 8 hex digits."""
    folder = places["torch"] / "hub" / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}-{prefix or sha256(data)[:8]}.pth"
    path.write_bytes(data)
    return path


def hf_snapshot(places, repo: str, data: bytes, *, blob_name: str | None = None, link: bool = True,
                revision: str = "0123456789abcdef0123456789abcdef01234567") -> Path:
    """The hub cache's layout: blobs/<sha256>, snapshots/<rev>/model.safetensors -> the blob, refs/main."""
    root = places["hf"] / "hub" / ("models--" + repo.replace("/", "--"))
    snapshot = root / "snapshots" / revision
    snapshot.mkdir(parents=True)
    (root / "refs").mkdir(exist_ok=True)
    (root / "refs" / "main").write_text(revision)
    path = snapshot / "model.safetensors"
    if link:
        (root / "blobs").mkdir(exist_ok=True)
        blob = root / "blobs" / (blob_name or sha256(data))
        blob.write_bytes(data)
        path.symlink_to(os.path.relpath(blob, snapshot))
    else:
        path.write_bytes(data)
    return path


def timm_file(arch: str) -> bytes:
    """A whole timm VGG in float16 (half the size; every reader takes it): the real
    shapes, zeros, and a classifier tensor to skip."""
    tensors = {"head.fc.bias": ("F32", np.zeros(10, np.float32))}
    for conv, (wkey, bkey) in TORCH_KEYS_OF[arch].items():
        kh, kw, cin, cout = vgg.param_shapes(arch)[conv]["kernel"]
        tensors[wkey] = ("F16", np.zeros((cout, cin, kh, kw), np.float32))
        tensors[bkey] = ("F16", np.full(cout, 0.5, np.float32))
    return st_bytes(tensors)


def by_path(found):
    return {f.path: f for f in found}


def test_display_shortens_the_home_folder(tmp_path):
    assert discover.shorten(tmp_path / "a" / "b", {"HOME": str(tmp_path)}) == "~/a/b"
    assert discover.shorten(tmp_path / "a", {"HOME": str(tmp_path / "a") + "b"}) == str(tmp_path / "a")


def test_folders_follow_each_librarys_variables(tmp_path):
    home = str(tmp_path)
    assert discover.torch_checkpoints({"HOME": home}) == tmp_path / ".cache/torch/hub/checkpoints"
    assert discover.torch_checkpoints({"HOME": home, "XDG_CACHE_HOME": "/x"}) == Path("/x/torch/hub/checkpoints")
    assert discover.torch_checkpoints({"HOME": home, "XDG_CACHE_HOME": "/x", "TORCH_HOME": "~/t"}) == \
        tmp_path / "t/hub/checkpoints"
    (tmp_path / ".keras").mkdir()
    assert discover.keras_models({"HOME": home}) == [tmp_path / ".keras/models"]
    assert discover.keras_models({"HOME": home, "KERAS_HOME": str(tmp_path / "k")}) == \
        [tmp_path / "k/models", Path("/tmp/.keras/models")]  # not there (so not writable): Keras' fallback too
    assert discover.hf_hub_cache({"HOME": home}) == tmp_path / ".cache/huggingface/hub"
    assert discover.hf_hub_cache({"HOME": home, "XDG_CACHE_HOME": "/x"}) == Path("/x/huggingface/hub")
    assert discover.hf_hub_cache({"HOME": home, "XDG_CACHE_HOME": "/x", "HF_HOME": "/h"}) == Path("/h/hub")
    assert discover.hf_hub_cache({"HOME": home, "HF_HOME": "/h", "HUGGINGFACE_HUB_CACHE": "/old"}) == Path("/old")
    assert discover.hf_hub_cache({"HOME": home, "HF_HOME": "/h", "HUGGINGFACE_HUB_CACHE": "/old",
                                  "HF_HUB_CACHE": "/new"}) == Path("/new")


def test_torch_hub_names_are_checked_and_batch_norm_files_are_not_taken(places):
    vgg16 = hub_file(places, "vgg16", b"vgg16 weights")
    wrong = hub_file(places, "vgg19", b"vgg19 weights", prefix="00000000")
    bn = hub_file(places, "vgg19_bn", b"batch norm")
    known = hub_file(places, "vgg16", b"not torchvision's file", prefix="397923af")  # torchvision-vgg16's name
    found = by_path(weights.find_all())
    assert found[vgg16].status == discover.OK and found[vgg16].arch == "vgg16" and found[vgg16].source is None
    assert found[vgg16].check_text() == "sha256 prefix ok"
    assert found[wrong].status == discover.FAILED and "does not start with 00000000" in found[wrong].detail
    assert found[bn].status == discover.UNUSABLE and "batch-normalised" in found[bn].detail
    assert found[known].source == weights.get_source("torchvision-vgg16") and found[known].status == discover.FAILED
    # The failing VGG19 and the batch-norm one are never taken, whatever the order prefers.
    assert weights.weights_file("auto") == vgg16
    assert weights.auto().describe() == f"{vgg16.name} VGG16 (found in {vgg16.parent}, sha256 prefix ok)"
    with pytest.raises(InputError, match="fail their check"):
        weights.resolve_path("torchvision-vgg16")
    wrong.unlink()
    vgg16.unlink()
    assert weights.weights_file("auto") == packaged.FILE  # only a failing file left: the shipped VGG16


def test_a_symlinked_hf_snapshot_is_read_in_place(places):
    data = timm_file("vgg16")
    path = hf_snapshot(places, "timm/vgg16.tv_in1k", data)
    assert path.is_symlink()
    (found,) = weights.find_all()
    assert (found.name, found.arch, found.place, found.status) == ("timm-vgg16", "vgg16", "huggingface", discover.OK)
    assert found.path == path and found.path.resolve().parent.name == "blobs" and found.sha256 == sha256(data)
    said = []
    ext = weights.resolve("auto", notice=said.append)
    assert ext.name == "timm-vgg16" and sorted(ext.params) == sorted(f"conv{n}" for n in vgg.layer_names("vgg16"))
    assert ext.preprocess == weights.TORCHVISION
    assert said == [f"weights: timm-vgg16 VGG16 (found in {path.parent}, sha256 ok)"]
    assert weights.weights_file("auto") == path
    # Nothing was copied: doodle's cache holds only the remembered digests.
    # Nothing copied: doodle's cache holds the remembered checks and the file's calibration means.
    assert sorted(p.name for p in places["doodle"].iterdir()) == sorted([discover.MEMO_NAME, "pinned"])
    assert all(p.suffix == ".json" and p.stat().st_size < 1000 for p in (places["doodle"] / "pinned").iterdir())


def test_a_blob_that_is_not_its_name_fails_and_a_copy_is_unchecked(places):
    bad = hf_snapshot(places, "timm/vgg19.tv_in1k", b"damaged", blob_name="ab" * 32)
    copy = hf_snapshot(places, "timm/vgg16.tv_in1k", b"copied", link=False)
    found = by_path(weights.find_all())
    assert found[bad].status == discover.FAILED and "Hugging Face blob name" in found[bad].detail
    assert found[copy].status == discover.UNCHECKED and found[copy].sha256 == sha256(b"copied")
    assert sha256(b"copied") in found[copy].check_text()
    assert weights.weights_file("auto") == copy  # the VGG19 is preferred, but it fails


def test_keras_md5_and_the_order_auto_prefers(places, monkeypatch):
    models = places["keras"] / "models"
    models.mkdir()
    data16, data19 = b"keras vgg16", b"keras vgg19 with top"
    k16 = models / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    k19 = models / "vgg19_weights_tf_dim_ordering_tf_kernels.h5"
    k16.write_bytes(data16)
    k19.write_bytes(data19)
    found = by_path(weights.find_all())
    assert found[k16].status == found[k19].status == discover.FAILED  # not the files Keras publishes
    assert "md5" in found[k16].detail and weights.weights_file("auto") == packaged.FILE
    # With the published md5s those of these files, both pass; VGG19 is preferred...
    patched = {"keras-vgg16": hashlib.md5(data16).hexdigest(), "keras-top": hashlib.md5(data19).hexdigest()}
    monkeypatch.setattr(catalog, "SOURCES", tuple(dataclasses.replace(s, md5=patched.get(s.name, s.md5))
                                                  for s in catalog.SOURCES))
    monkeypatch.setattr(catalog, "OTHER_FILES", tuple(dataclasses.replace(s, md5=patched.get(s.name, s.md5))
                                                      for s in catalog.OTHER_FILES))
    assert [f.path for f in weights.find_all()] == [k19, k16]
    assert weights.weights_file("auto") == k19 and weights.auto().check_text() == "md5 ok"
    assert weights.resolve_path("keras-vgg16") == (k16, weights.get_source("keras-vgg16"))
    # ...until the one constant says otherwise.
    monkeypatch.setattr(catalog, "AUTO_ORDER", ("doodle", "vgg16", "vgg19"))
    assert weights.weights_file("auto") == k16
    # doodle's own cache comes first.
    places["doodle"].mkdir(exist_ok=True)
    mine = places["doodle"] / "vgg19_conv.pkl.bz2"
    mine.write_bytes(b"x")
    assert weights.weights_file("auto") == mine
    assert weights.auto().describe() == f"neural-doodle VGG19 (in doodle's cache {places['doodle']})"


def test_digests_are_remembered_until_the_file_changes(places, monkeypatch):
    path = hub_file(places, "vgg19", b"first")
    hashed = []
    real = discover.file_digests
    monkeypatch.setattr(discover, "file_digests", lambda p: hashed.append(Path(p)) or real(p))
    assert weights.find_all()[0].status == discover.OK and hashed == [path]
    weights.find_all()
    weights.weights_file("auto")
    assert hashed == [path]  # remembered, in doodle's cache folder
    assert str(path) in (places["doodle"] / discover.MEMO_NAME).read_text()
    path.write_bytes(b"second, longer")  # same name: the prefix no longer holds
    assert weights.find_all()[0].status == discover.FAILED and len(hashed) == 2
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # same size, touched
    weights.find_all()
    assert len(hashed) == 3
    weights.find_all()
    assert len(hashed) == 3


def test_a_found_file_given_as_a_path_is_still_known_and_hashed_once(places, monkeypatch):
    path = hf_snapshot(places, "timm/vgg16.tv_in1k", timm_file("vgg16"))
    assert weights.resolve_path(path) == (path, weights.get_source("timm-vgg16"))
    assert weights.load(path).name == "timm-vgg16"
    elsewhere = places["doodle"].parent / "model.safetensors"
    elsewhere.write_bytes(b"x")
    assert weights.resolve_path(elsewhere) == (elsewhere, None)  # the name alone says nothing
    hashed = []
    real = discover.file_digests
    monkeypatch.setattr(discover, "file_digests", lambda p: hashed.append(p) or real(p))
    # Loading it above hashed it (its calibration means are kept by its sha256): a new
    # mtime makes it a new version of the file, hashed once more, then remembered.
    st = path.stat()
    os.utime(path, (st.st_atime, st.st_mtime + 10))
    assert discover.sha256_of(path) == discover.sha256_of(path) == sha256(path.read_bytes())
    assert len(hashed) == 1  # a painting's provenance records it without hashing it each time
