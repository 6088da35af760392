"""Weight files in every format, written here by hand, read back and checked against
numpy references computed from the *file-layout* arrays.

The references implement each framework's semantics directly (Caffe/PyTorch and
TensorFlow cross-correlation, Theano/Lasagne true convolution, each convention's
pixel preprocessing), so kernel orientation, channel order and RGB/BGR are proven
here rather than assumed by the loaders. Files are kept small: only conv1_1,
conv1_2 and conv2_1 at their real shapes (``partial=True``).
"""
from __future__ import annotations

import bz2
import hashlib
import http.server
import io
import json
import os
import pickle
import re
import struct
import tarfile
import threading
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from click.testing import CliRunner

from doodle import vgg, weights
from doodle.cli.weights import weights as weights_cli
from doodle.errors import InputError

SMALL = ("conv1_1", "conv1_2", "conv2_1")
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.680], np.float32)
TV_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
TV_STD = np.array([0.229, 0.224, 0.225], np.float32)
TORCH_INDEX = {"conv1_1": 0, "conv1_2": 2, "conv2_1": 5, "conv2_2": 7}


# ---------------------------------------------------------------------------------
# Known weights in file layout, and numpy references
# ---------------------------------------------------------------------------------


def oihw_weights(seed: int = 0, names=SMALL) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{conv: (W (out, in, 3, 3), b (out,))} float32, random (hence asymmetric)."""
    rng = np.random.default_rng(seed)
    out = {}
    for conv in names:
        _, _, cin, cout = vgg.param_shapes()[conv]["kernel"]
        w = (rng.normal(size=(cout, cin, 3, 3)) / np.sqrt(9 * cin)).astype(np.float32)
        b = rng.normal(scale=0.1, size=cout).astype(np.float32)
        out[conv] = (w, b)
    return out


def hwio_weights(seed: int = 0, names=SMALL) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{conv: (K (3, 3, in, out), b)}: Keras / doodle file layout."""
    rng = np.random.default_rng(seed + 100)
    out = {}
    for conv in names:
        shape = vgg.param_shapes()[conv]["kernel"]
        k = (rng.normal(size=shape) / np.sqrt(9 * shape[2])).astype(np.float32)
        out[conv] = (k, rng.normal(scale=0.1, size=shape[3]).astype(np.float32))
    return out


def correlate_chw(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Caffe / PyTorch conv, pad 1: out[o,y,x] = b[o] + Σ w[o,i,u,v] x[i, y+u-1, x+v-1]."""
    c, h, wd = x.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (1, 1), (1, 1)))
    out = np.zeros((w.shape[0], h, wd))
    for u in range(3):
        for v in range(3):
            out += np.einsum("oi,ihw->ohw", w[:, :, u, v], xp[:, u : u + h, v : v + wd])
    return out + b[:, None, None]


def true_convolve_chw(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Theano conv2d(filter_flip=True), i.e. Lasagne Conv2DLayer's default, pad 1:
    out[o,y,x] = b[o] + Σ w[o,i,u,v] x[i, y+1-u, x+1-v]."""
    c, h, wd = x.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (1, 1), (1, 1)))
    out = np.zeros((w.shape[0], h, wd))
    for u in range(3):
        for v in range(3):
            out += np.einsum("oi,ihw->ohw", w[:, :, u, v], xp[:, 2 - u : 2 - u + h, 2 - v : 2 - v + wd])
    return out + b[:, None, None]


def correlate_hwc(x: np.ndarray, k: np.ndarray, b: np.ndarray) -> np.ndarray:
    """TensorFlow conv2d, SAME: out[y,x,o] = b[o] + Σ k[u,v,i,o] x[y+u-1, x+v-1, i]."""
    h, wd, _ = x.shape
    xp = np.pad(x.astype(np.float64), ((1, 1), (1, 1), (0, 0)))
    out = np.zeros((h, wd, k.shape[3]))
    for u in range(3):
        for v in range(3):
            out += np.einsum("hwi,io->hwo", xp[u : u + h, v : v + wd], k[u, v])
    return out + b[None, None, :]


def caffe_input_chw(rgb: np.ndarray) -> np.ndarray:
    """BGR, 0–255, Caffe mean subtracted, (3, H, W)."""
    return (rgb[..., ::-1] - CAFFE_MEAN_BGR).transpose(2, 0, 1)


def torchvision_input_chw(rgb: np.ndarray) -> np.ndarray:
    """RGB in [0, 1], ImageNet mean/std, (3, H, W)."""
    return ((rgb / 255.0 - TV_MEAN) / TV_STD).transpose(2, 0, 1)


IMAGE = np.random.default_rng(7).uniform(0, 255, size=(7, 9, 3)).astype(np.float32)


def relu1_1(extractor) -> np.ndarray:
    """(7, 9, 64) relu1_1 of IMAGE through the loaded extractor."""
    out = vgg.features(extractor.params, jnp.asarray(IMAGE), ["1_1"], extractor.preprocess)["1_1"]
    return np.asarray(out)


def assert_first_layer(extractor, pre_relu_chw: np.ndarray) -> None:
    want = np.maximum(pre_relu_chw.transpose(1, 2, 0), 0)
    np.testing.assert_allclose(relu1_1(extractor), want, rtol=1e-4, atol=2e-3)


def assert_every_layer(params, reference: Callable[[str, np.ndarray], np.ndarray], names=SMALL) -> None:
    """Each loaded layer's conv (lax, HWIO) equals ``reference(conv, x_hwc)`` on random input."""
    assert list(params) == list(names)
    rng = np.random.default_rng(3)
    for conv in names:
        kernel = np.asarray(params[conv]["kernel"])
        x = rng.normal(size=(5, 6, kernel.shape[2])).astype(np.float32)
        got = jax.lax.conv_general_dilated(
            jnp.asarray(x[None]), jnp.asarray(kernel), (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
        )
        got = np.asarray(got[0]) + np.asarray(params[conv]["bias"])
        np.testing.assert_allclose(got, reference(conv, x), rtol=1e-4, atol=1e-4, err_msg=conv)


def torch_reference(w: dict) -> Callable[[str, np.ndarray], np.ndarray]:
    return lambda conv, x: correlate_chw(x.transpose(2, 0, 1), *w[conv]).transpose(1, 2, 0)


def hwio_reference(w: dict) -> Callable[[str, np.ndarray], np.ndarray]:
    return lambda conv, x: correlate_hwc(x, *w[conv])


# ---------------------------------------------------------------------------------
# Writers for each format (no torch, no safetensors package)
# ---------------------------------------------------------------------------------


def write_lasagne(path: Path, w: dict, protocol: int = 2, old_numpy_names: bool = False, extra=()) -> Path:
    flat = [a for conv in w for a in w[conv]] + list(extra)
    data = pickle.dumps(flat, protocol=protocol)
    if old_numpy_names:  # as pickled in 2016: numpy.core, not numpy._core (GLOBAL is newline-framed)
        assert protocol <= 3
        data = data.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
        assert b"numpy.core.multiarray\n_reconstruct" in data
    path.write_bytes(bz2.compress(data))
    return path


class G:
    """A global, written as GLOBAL "module\\nname\\n" without importing it (no torch here)."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def __call__(self, *args: Any) -> None:  # pickle insists reduce functions be callable
        raise AssertionError("never called")


class FakeStorage:
    def __init__(self, key: str, array: np.ndarray, type_name: str = "FloatStorage", view=None, untyped=False):
        self.key, self.type_name, self.view, self.untyped = key, type_name, view, untyped
        self.data = array.tobytes()
        self.numel = len(self.data) if untyped else array.size


class FakeTensor:
    def __init__(self, storage: FakeStorage, offset: int, size, stride, rebuild: str = "v2", dtype: str = ""):
        self.args = (storage, offset, tuple(size), tuple(stride))
        self.rebuild, self.dtype = rebuild, dtype

    def __reduce__(self):
        if self.rebuild == "v1":  # torch < 0.4
            return G("torch._utils", "_rebuild_tensor"), self.args
        if self.rebuild == "v3":
            return G("torch._utils", "_rebuild_tensor_v3"), self.args + (False, OrderedDict(), G("torch", self.dtype))
        return G("torch._utils", "_rebuild_tensor_v2"), self.args + (False, OrderedDict())


class TorchPickler(pickle._Pickler):  # the pure-Python pickler lets save() be overridden
    def __init__(self, file, legacy: bool = False) -> None:
        super().__init__(file, protocol=2)
        self.legacy = legacy

    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, G):
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
            return
        super().save(obj, save_persistent_id)

    def persistent_id(self, obj):
        if not isinstance(obj, FakeStorage):
            return None
        storage_type = G("torch.storage", "UntypedStorage") if obj.untyped else G("torch", obj.type_name)
        pid = ("storage", storage_type, obj.key, "cpu", obj.numel)
        return pid + (obj.view,) if self.legacy else pid


def cstride(a: np.ndarray) -> tuple[int, ...]:
    """C-contiguous strides of ``a`` in elements."""
    return tuple(s // a.itemsize for s in a.strides)


def torch_state(w: dict, **kw) -> tuple[OrderedDict, list[FakeStorage]]:
    """A torchvision-named state dict over fake storages, exercising odd layouts:
    conv1_1's weight is a transposed (non-contiguous) view; conv1_2's weight and bias
    share one storage; a classifier tensor must be skipped."""
    state, storages = OrderedDict(), []
    for conv, (wt, b) in w.items():
        i = TORCH_INDEX[conv]
        out_c, in_c = wt.shape[:2]
        if conv == "conv1_1":
            s = FakeStorage(f"{i}w", np.ascontiguousarray(wt.transpose(1, 0, 2, 3)), **kw)
            state[f"features.{i}.weight"] = FakeTensor(s, 0, wt.shape, (9, out_c * 9, 3, 1))
            sb = FakeStorage(f"{i}b", b, **kw)
            state[f"features.{i}.bias"] = FakeTensor(sb, 0, b.shape, (1,))
            storages += [s, sb]
        elif conv == "conv1_2":
            s = FakeStorage(f"{i}wb", np.concatenate([wt.ravel(), b]), **kw)
            state[f"features.{i}.weight"] = FakeTensor(s, 0, wt.shape, cstride(wt))
            state[f"features.{i}.bias"] = FakeTensor(s, wt.size, b.shape, (1,))
            storages.append(s)
        else:
            s, sb = FakeStorage(f"{i}w", wt, **kw), FakeStorage(f"{i}b", b, **kw)
            state[f"features.{i}.weight"] = FakeTensor(s, 0, wt.shape, cstride(wt))
            state[f"features.{i}.bias"] = FakeTensor(sb, 0, b.shape, (1,))
            storages += [s, sb]
    fc = FakeStorage("fc", np.arange(12, dtype=np.float32), **kw)
    state["classifier.0.weight"] = FakeTensor(fc, 0, (3, 4), (4, 1))
    return state, storages + [fc]


def write_torch_zip(path: Path, state, storages, root: str = "archive", pickled: Optional[bytes] = None) -> Path:
    """torch.save's zip layout: <root>/data.pkl and <root>/data/<key> (stored)."""
    if pickled is None:
        buf = io.BytesIO()
        TorchPickler(buf).dump(state)
        pickled = buf.getvalue()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{root}/data.pkl", pickled)
        zf.writestr(f"{root}/byteorder", "little")
        for s in storages:
            zf.writestr(f"{root}/data/{s.key}", s.data)
        zf.writestr(f"{root}/version", "3\n")
    return path


def write_torch_legacy(path: Path, state, storages) -> Path:
    """torch.save before 1.6: magic, protocol, sys_info, object, keys, raw storages."""
    with open(path, "wb") as f:
        f.write(pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2))
        f.write(pickle.dumps(1001, protocol=2))
        f.write(pickle.dumps({"protocol_version": 1001, "little_endian": True,
                              "type_sizes": {"short": 2, "int": 4, "long": 4}}, protocol=2))
        TorchPickler(f, legacy=True).dump(state)
        roots = {s.key: s for s in storages}
        keys = sorted(roots)
        f.write(pickle.dumps(keys, protocol=2))
        for key in keys:
            f.write(struct.pack("<q", roots[key].numel))
            f.write(roots[key].data)
    return path


def write_torch_tar(path: Path, w: dict) -> Path:
    """torch.save's early-2017 tar layout (PAX members sys_info, pickle, tensors, storages).

    Keys are ints, as torch wrote them; conv1_2's bias lives in a storage view."""
    def member(tar, name, data):
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))

    def dumps(obj) -> bytes:
        buf = io.BytesIO()
        TorchPickler(buf).dump(obj)
        return buf.getvalue()

    class Key(int):  # pickled as a persistent id, i.e. a reference to a tensor
        pass

    class RefPickler(TorchPickler):
        def persistent_id(self, obj):
            return str(int(obj)) if isinstance(obj, Key) else None

    state, tensors, storages, views = OrderedDict(), [], [], []
    next_key = iter(range(1000, 10**6))
    for conv, (wt, b) in w.items():
        i = TORCH_INDEX[conv]
        root = next(next_key)
        storages.append((root, np.concatenate([wt.ravel(), b])))
        wkey, bkey = next(next_key), next(next_key)
        tensors.append((wkey, root, wt.shape, cstride(wt), 0))
        if conv == "conv1_2":
            view = next(next_key)
            views.append((view, root, wt.size, b.size))
            tensors.append((bkey, view, b.shape, (1,), 0))
        else:
            tensors.append((bkey, root, b.shape, (1,), wt.size))
        state[f"features.{i}.weight"], state[f"features.{i}.bias"] = Key(wkey), Key(bkey)
    buf = io.BytesIO()
    RefPickler(buf).dump(state)
    tensor_blob = pickle.dumps(len(tensors), protocol=2)
    for key, storage, size, stride, offset in tensors:
        tensor_blob += dumps((key, storage, G("torch", "FloatTensor")))
        tensor_blob += struct.pack("<i", len(size)) + bytes(4)
        tensor_blob += struct.pack(f"<{len(size)}q", *size) + struct.pack(f"<{len(size)}q", *stride)
        tensor_blob += struct.pack("<q", offset)
    storage_blob = pickle.dumps(len(storages), protocol=2)
    for key, array in storages:
        storage_blob += dumps((key, "cpu", G("torch", "FloatStorage")))
        storage_blob += struct.pack("<q", array.size) + array.astype("<f4").tobytes()
    storage_blob += pickle.dumps(views, protocol=2)
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        member(tar, "sys_info", pickle.dumps({"protocol_version": 1000, "little_endian": True}, protocol=2))
        member(tar, "pickle", buf.getvalue())
        member(tar, "tensors", tensor_blob)
        member(tar, "storages", storage_blob)
    return path


def legacy_state(w: dict) -> tuple[OrderedDict, list[FakeStorage]]:
    """torch 0.3-style: _rebuild_tensor (4 args), and conv1_2's bias as a storage view."""
    state, storages = OrderedDict(), []
    for conv, (wt, b) in w.items():
        i = TORCH_INDEX[conv]
        root = FakeStorage(f"r{i}", np.concatenate([wt.ravel(), b]))
        storages.append(root)
        state[f"features.{i}.weight"] = FakeTensor(root, 0, wt.shape, cstride(wt), rebuild="v1")
        if conv == "conv1_2":
            view = FakeStorage(f"r{i}", b)
            view.view = (f"v{i}", wt.size, b.size)
            state[f"features.{i}.bias"] = FakeTensor(view, 0, b.shape, (1,), rebuild="v1")
        else:
            state[f"features.{i}.bias"] = FakeTensor(root, wt.size, b.shape, (1,), rebuild="v1")
    fc = FakeStorage("fc", np.arange(12, dtype=np.float32))
    state["classifier.0.weight"] = FakeTensor(fc, 0, (3, 4), (4, 1), rebuild="v1")
    return state, storages + [fc]


def st_bytes(tensors: dict[str, tuple[str, np.ndarray]], metadata=None) -> bytes:
    """A safetensors file: {name: (dtype code, array)} in the given order."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, (code, array) in tensors.items():
        if code == "BF16":
            raw = (np.asarray(array, np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
        else:
            raw = np.asarray(array, {"F32": "<f4", "F16": "<f2"}[code]).tobytes()
        header[name] = {"dtype": code, "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    return struct.pack("<Q", len(head)) + head + b"".join(blobs)


def bf16_round(a: np.ndarray) -> np.ndarray:
    """What a float32 array reads back as after truncation to bfloat16."""
    return ((a.view(np.uint32) >> 16) << 16).view(np.float32)


def timm_tensors(w: dict, code: str = "F32", fc_floats: int = 16) -> dict:
    """timm vgg19.tv_in1k naming, with classifier tensors around and between convs."""
    t: dict[str, tuple[str, np.ndarray]] = {"head.fc.bias": ("F32", np.zeros(10, np.float32))}
    for n, (conv, (wt, b)) in enumerate(w.items()):
        i = TORCH_INDEX[conv]
        t[f"features.{i}.weight"] = (code, wt)
        t[f"features.{i}.bias"] = (code, b)
        if n == 1:
            t["pre_logits.fc1.weight"] = ("F32", np.ones(fc_floats, np.float32))
    t["head.fc.weight"] = ("F32", np.full(fc_floats, 2.0, np.float32))
    return t


def doodle_metadata(order="RGB", scale=255.0, mean=(1.0, 2.0, 3.0), std=(2.0, 3.0, 4.0)) -> str:
    return json.dumps({"version": 1, "convention": "custom",
                       "preprocess": {"order": order, "scale": scale, "mean": list(mean), "std": list(std)}})


# ---------------------------------------------------------------------------------
# Tables and cache
# ---------------------------------------------------------------------------------


def test_tables_match_torchvision_and_keras():
    assert weights.TORCH_INDICES == (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)
    assert weights.KERAS_GROUPS["conv5_4"] == "block5_conv4"
    names = [s.name for s in weights.SOURCES]
    assert len(set(names)) == len(names) and "neural-doodle" in names and "torchvision" in names
    for src in weights.SOURCES:
        assert src.url.startswith("https://") and src.convention in weights.CONVENTIONS
        assert src.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", src.sha256)
    assert weights.get_source("torchvision").sha256_prefix == "dcbb9e9d"


def test_cache_dir_from_environment(tmp_path):
    assert weights.cache_dir({"DOODLE_CACHE": "/a", "XDG_CACHE_HOME": "/b", "HOME": "/c"}) == Path("/a")
    assert weights.cache_dir({"XDG_CACHE_HOME": "/b", "HOME": "/c"}) == Path("/b/doodle")
    assert weights.cache_dir({"HOME": "/c"}) == Path("/c/.cache/doodle")


def test_find_cached_prefers_the_reference_weights(tmp_path):
    assert weights.find_cached(tmp_path / "none") is None
    assert weights.find_cached(tmp_path) is None
    (tmp_path / "mine-conv.safetensors").write_bytes(b"x")
    assert weights.find_cached(tmp_path) == tmp_path / "mine-conv.safetensors"
    (tmp_path / "vgg19-dcbb9e9d.pth").write_bytes(b"x")
    assert weights.find_cached(tmp_path) == tmp_path / "vgg19-dcbb9e9d.pth"
    (tmp_path / "vgg19_conv.pkl.bz2").write_bytes(b"x")
    assert weights.find_cached(tmp_path) == tmp_path / "vgg19_conv.pkl.bz2"


# ---------------------------------------------------------------------------------
# neural-doodle's pickle
# ---------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol,old_names", [(2, True), (3, True), (4, False), (5, False)])
def test_lasagne_pickle_is_true_convolution_in_bgr(tmp_path, protocol, old_names):
    w = oihw_weights()
    path = write_lasagne(tmp_path / "vgg19_conv.pkl.bz2", w, protocol, old_names)
    ext = weights.load_file(path, partial=True)
    assert ext.preprocess == weights.CAFFE and ext.pretrained and ext.style_layers == ("3_1", "4_1")
    assert_first_layer(ext, true_convolve_chw(caffe_input_chw(IMAGE), *w["conv1_1"]))
    assert_every_layer(ext.params, lambda conv, x: true_convolve_chw(x.transpose(2, 0, 1), *w[conv]).transpose(1, 2, 0))


def test_lasagne_without_flip_would_not_match(tmp_path):
    """The flip is observable: unflipped kernels give different features (the check above is not vacuous)."""
    w = oihw_weights()
    arrays = weights.read_lasagne_pkl(write_lasagne(tmp_path / "v.pkl.bz2", w).read_bytes())
    flipped = weights.params_from_lasagne(arrays, partial=True)
    plain = weights.params_from_lasagne(arrays, partial=True, flip=False)
    np.testing.assert_array_equal(flipped["conv1_1"]["kernel"], plain["conv1_1"]["kernel"][::-1, ::-1])
    ref = true_convolve_chw(caffe_input_chw(IMAGE), *w["conv1_1"])
    wrong = weights.to_extractor(weights.Loaded(plain, weights.CAFFE, "lasagne", "caffe", "float32"), "x")
    assert np.abs(relu1_1(wrong) - np.maximum(ref.transpose(1, 2, 0), 0)).max() > 0.1


def test_lasagne_extra_arrays_are_ignored_and_full_file_required(tmp_path):
    w = oihw_weights()
    path = write_lasagne(tmp_path / "v.pkl.bz2", w, extra=[np.zeros(3, np.float32)])
    with pytest.raises(InputError, match="conv2_2"):
        weights.load_file(path)  # not partial: conv2_2 … conv5_4 are required
    assert list(weights.load_file(path, partial=True).params) == list(SMALL)


@pytest.mark.parametrize("payload", ["open", "system"])
def test_pickle_payload_is_refused_and_never_runs(tmp_path, payload):
    victim = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            if payload == "open":
                return open, (str(victim), "w")
            return os.system, (f"touch {victim}",)

    w = oihw_weights(names=("conv1_1",))
    path = tmp_path / "evil.pkl.bz2"
    path.write_bytes(bz2.compress(pickle.dumps([*w["conv1_1"], Evil()], protocol=2)))
    with pytest.raises(InputError, match="refused") as err:
        weights.load_file(path, partial=True)
    assert ("open" if payload == "open" else "system") in str(err.value)  # io.open / posix.system
    assert not victim.exists()
    # the same through a PyTorch zip
    zpath = write_torch_zip(tmp_path / "evil.pth", None, [], pickled=pickle.dumps({"a": Evil()}, protocol=2))
    with pytest.raises(InputError, match="refused"):
        weights.load_file(zpath, convention="caffe", partial=True)
    assert not victim.exists()


def test_object_arrays_are_refused(tmp_path):
    path = tmp_path / "obj.pkl"
    path.write_bytes(pickle.dumps([np.array([{"a": 1}], dtype=object)], protocol=2))
    with pytest.raises(InputError, match="refused"):
        weights.load_file(path, partial=True)


# ---------------------------------------------------------------------------------
# PyTorch
# ---------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["zip", "legacy", "tar"])
def test_torchvision_pth_is_correlation_in_normalised_rgb(tmp_path, layout):
    w = oihw_weights(1)
    path = tmp_path / "vgg19-dcbb9e9d.pth"  # the name says torchvision convention
    if layout == "zip":
        write_torch_zip(path, *torch_state(w))
    elif layout == "legacy":  # torchvision's vgg19-dcbb9e9d.pth is in this layout
        write_torch_legacy(path, *legacy_state(w))
    else:
        write_torch_tar(path, w)
    assert weights.detect_format(path) == "torch"
    ext = weights.load_file(path, partial=True)
    assert ext.preprocess == weights.TORCHVISION
    assert_first_layer(ext, correlate_chw(torchvision_input_chw(IMAGE), *w["conv1_1"]))
    assert_every_layer(ext.params, torch_reference(w))
    if layout != "tar":
        state = weights.read_torch(path)
        np.testing.assert_array_equal(state["classifier.0.weight"], np.arange(12, dtype=np.float32).reshape(3, 4))


def test_caffe_pth_is_correlation_in_bgr(tmp_path):
    w = oihw_weights(2)
    path = write_torch_zip(tmp_path / "vgg19-d01eb7cb.pth", *torch_state(w), root="vgg19-d01eb7cb")
    ext = weights.load_file(path, partial=True)
    assert ext.preprocess == weights.CAFFE
    assert_first_layer(ext, correlate_chw(caffe_input_chw(IMAGE), *w["conv1_1"]))
    # an explicit convention overrides the name
    assert weights.load_file(path, partial=True, convention="torchvision").preprocess == weights.TORCHVISION


@pytest.mark.parametrize("kind", ["HalfStorage", "BFloat16Storage", "untyped-v3"])
def test_torch_half_bfloat16_and_untyped_storages(tmp_path, kind):
    w = oihw_weights(3)
    if kind == "HalfStorage":
        stored = {c: (a.astype(np.float16), b.astype(np.float16)) for c, (a, b) in w.items()}
        ref = {c: (a.astype(np.float32), b.astype(np.float32)) for c, (a, b) in stored.items()}
        state, storages = torch_state(stored, type_name="HalfStorage")
    elif kind == "BFloat16Storage":
        ref = {c: (bf16_round(a), bf16_round(b)) for c, (a, b) in w.items()}
        stored = {c: ((a.view(np.uint32) >> 16).astype(np.uint16), (b.view(np.uint32) >> 16).astype(np.uint16))
                  for c, (a, b) in w.items()}
        state, storages = torch_state(stored, type_name="BFloat16Storage")
    else:
        stored = {c: (a.astype(np.float16), b.astype(np.float16)) for c, (a, b) in w.items()}
        ref = {c: (a.astype(np.float32), b.astype(np.float32)) for c, (a, b) in stored.items()}
        state, storages = torch_state(stored, untyped=True)
        for t in state.values():
            t.rebuild, t.dtype = "v3", "float16"
        state["classifier.0.weight"].dtype = "float32"  # its storage holds float32 bytes
    path = write_torch_zip(tmp_path / "vgg19-dcbb9e9d.pth", state, storages)
    ext = weights.load_file(path, partial=True)
    assert_every_layer(ext.params, torch_reference(ref))


def test_torch_tensor_past_its_storage_is_refused(tmp_path):
    w = oihw_weights(names=("conv1_1",))
    state, storages = torch_state(w)
    state["features.0.bias"].args = (storages[1], 10, (64,), (1,))  # 10 + 64 > 64 elements
    path = write_torch_zip(tmp_path / "t.pth", state, storages)
    with pytest.raises(InputError, match="past the end"):
        weights.load_file(path, partial=True)


def test_torch_unknown_name_is_assumed_torchvision(tmp_path):
    path = write_torch_zip(tmp_path / "model.pth", *torch_state(oihw_weights()))
    assert weights.info(path)["convention"] == "torchvision (assumed)"


# ---------------------------------------------------------------------------------
# safetensors, Keras h5, npz
# ---------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["F32", "BF16"])
def test_timm_safetensors(tmp_path, code):
    w = oihw_weights(4)
    path = tmp_path / "model.safetensors"
    path.write_bytes(st_bytes(timm_tensors(w, code)))
    ext = weights.load_file(path, partial=True)
    assert ext.preprocess == weights.TORCHVISION
    ref = w if code == "F32" else {c: (bf16_round(a), bf16_round(b)) for c, (a, b) in w.items()}
    assert_first_layer(ext, correlate_chw(torchvision_input_chw(IMAGE), *ref["conv1_1"]))
    assert_every_layer(ext.params, torch_reference(ref))


def test_doodle_safetensors_carry_their_preprocessing(tmp_path):
    k = hwio_weights()
    path = tmp_path / "mine.safetensors"
    tensors = {f"{c}.{p}": ("F32", a) for c, (kk, bb) in k.items() for p, a in (("kernel", kk), ("bias", bb))}
    path.write_bytes(st_bytes(tensors, {"doodle": doodle_metadata()}))
    ext = weights.load_file(path, partial=True)
    assert ext.preprocess == vgg.Preprocess("RGB", 255.0, (1.0, 2.0, 3.0), (2.0, 3.0, 4.0))
    x = (IMAGE - np.array([1, 2, 3], np.float32)) / np.array([2, 3, 4], np.float32)  # RGB, by hand
    want = np.maximum(correlate_hwc(x, *k["conv1_1"]), 0)
    np.testing.assert_allclose(relu1_1(ext), want, rtol=1e-4, atol=2e-3)
    assert_every_layer(ext.params, hwio_reference(k))


@pytest.mark.parametrize("style", ["keras2", "keras3"])
def test_keras_h5_is_hwio_correlation_in_bgr(tmp_path, style):
    h5py = pytest.importorskip("h5py")
    k = hwio_weights(5)
    path = tmp_path / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
    with h5py.File(path, "w") as f:
        root = f if style == "keras2" else f.create_group("model_weights")
        root.attrs["layer_names"] = [weights.KERAS_GROUPS[c].encode() for c in k]
        for conv, (kk, bb) in k.items():
            name = weights.KERAS_GROUPS[conv]
            g = root.create_group(name)
            if style == "keras2":  # the published file: block1_conv1/block1_conv1_W_1:0
                g.attrs["weight_names"] = [f"{name}_W_1:0".encode(), f"{name}_b_1:0".encode()]
                g[f"{name}_W_1:0"], g[f"{name}_b_1:0"] = kk, bb
            else:
                g.create_group(name)
                g[name]["kernel:0"], g[name]["bias:0"] = kk, bb
    assert weights.detect_format(path) == "keras-h5"
    ext = weights.load_file(path, partial=True)
    assert ext.preprocess == weights.CAFFE
    want = correlate_hwc(caffe_input_chw(IMAGE).transpose(1, 2, 0), *k["conv1_1"])
    np.testing.assert_allclose(relu1_1(ext), np.maximum(want, 0), rtol=1e-4, atol=2e-3)
    assert_every_layer(ext.params, hwio_reference(k))


def test_keras_h5_without_h5py_says_how_to_install(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_h5py(name, *args, **kwargs):
        if name == "h5py":
            raise ImportError("no h5py")
        return real_import(name, *args, **kwargs)

    path = tmp_path / "w.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(64))
    monkeypatch.setattr(builtins, "__import__", no_h5py)
    with pytest.raises(InputError) as err:
        weights.load_file(path, partial=True)
    assert "doodle[h5]" in err.value.hint


@pytest.mark.parametrize("with_metadata", [True, False])
def test_npz(tmp_path, with_metadata):
    k = hwio_weights(6)
    arrays = {f"{c}.{p}": a for c, (kk, bb) in k.items() for p, a in (("kernel", kk), ("bias", bb))}
    if with_metadata:
        arrays["__doodle__"] = np.array(doodle_metadata(order="BGR", mean=(10.0, 20.0, 30.0), std=(1.0, 1.0, 1.0)))
    path = tmp_path / "w.npz"
    np.savez(path, **arrays)
    ext = weights.load_file(path, partial=True)
    if with_metadata:
        x = IMAGE[..., ::-1] - np.array([10, 20, 30], np.float32)
    else:  # no metadata: the Caffe convention is assumed
        x = caffe_input_chw(IMAGE).transpose(1, 2, 0)
    np.testing.assert_allclose(relu1_1(ext), np.maximum(correlate_hwc(x, *k["conv1_1"]), 0), rtol=1e-4, atol=2e-3)
    assert_every_layer(ext.params, hwio_reference(k))


def test_npz_with_pickled_objects_is_refused(tmp_path):
    path = tmp_path / "o.npz"
    np.savez(path, **{"conv1_1.kernel": np.array([object()], dtype=object)})
    with pytest.raises(InputError, match="refused"):
        weights.load_file(path, partial=True)


# ---------------------------------------------------------------------------------
# Broken files
# ---------------------------------------------------------------------------------


def all_formats(tmp_path: Path) -> dict[str, Path]:
    w, k = oihw_weights(), hwio_weights()
    files = {
        "lasagne": write_lasagne(tmp_path / "a.pkl.bz2", w),
        "torch-zip": write_torch_zip(tmp_path / "b.pth", *torch_state(w)),
        "torch-legacy": write_torch_legacy(tmp_path / "c.pth", *legacy_state(w)),
        "safetensors": tmp_path / "d.safetensors",
        "npz": tmp_path / "e.npz",
    }
    files["safetensors"].write_bytes(st_bytes(timm_tensors(w)))
    np.savez(files["npz"], **{f"{c}.{p}": a for c, (kk, bb) in k.items() for p, a in (("kernel", kk), ("bias", bb))})
    files["torch-tar"] = write_torch_tar(tmp_path / "f.pth", w)
    try:
        import h5py
    except ImportError:
        return files
    files["keras-h5"] = tmp_path / "g.h5"
    with h5py.File(files["keras-h5"], "w") as f:
        for conv, (kk, bb) in k.items():
            g = f.create_group(weights.KERAS_GROUPS[conv])
            g["kernel:0"], g["bias:0"] = kk, bb
    return files


@pytest.mark.parametrize("keep", [0.5, 0.9, 40])
def test_truncated_files_raise_input_error(tmp_path, keep):
    for fmt, path in all_formats(tmp_path).items():
        data = path.read_bytes()
        weights.load_file(path, partial=True)  # intact: loads
        cut = path.with_name("cut-" + path.name)
        cut.write_bytes(data[: int(len(data) * keep)] if keep < 1 else data[:keep])
        with pytest.raises(InputError):
            weights.load_file(cut, partial=True)


def test_corrupt_and_unknown_files(tmp_path):
    for fmt, path in all_formats(tmp_path).items():
        data = bytearray(path.read_bytes())
        mid = len(data) // 3
        data[mid : mid + 64] = bytes(range(64))
        bad = path.with_name("bad-" + path.name)
        bad.write_bytes(bytes(data))
        try:
            weights.load_file(bad, partial=True)
        except InputError:
            pass  # raw float payloads may survive corruption; anything raised must be an InputError
    (tmp_path / "x.bin").write_bytes(b"hello world, not weights")
    with pytest.raises(InputError, match="cannot tell the format"):
        weights.load_file(tmp_path / "x.bin")
    (tmp_path / "empty.pth").write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        weights.load_file(tmp_path / "empty.pth")
    with pytest.raises(InputError, match="not found"):
        weights.load(tmp_path / "missing.pth", tmp_path)
    with pytest.raises(InputError, match="unknown weights"):
        weights.load("no-such-weights", tmp_path)
    with pytest.raises(InputError, match="not downloaded") as err:
        weights.load("torchvision", tmp_path)
    assert "doodle weights download torchvision" in err.value.hint


def test_misshaped_and_missing_layers_are_named(tmp_path):
    w = oihw_weights()
    bad = dict(w)
    bad["conv1_2"] = (np.zeros((64, 32, 3, 3), np.float32), w["conv1_2"][1])
    with pytest.raises(InputError, match=r"conv1_2 W .*\(64, 32, 3, 3\)"):
        weights.load_file(write_lasagne(tmp_path / "l.pkl.bz2", bad), partial=True)
    bad = dict(w)
    bad["conv2_1"] = (np.zeros((128, 64, 3, 2), np.float32), w["conv2_1"][1])
    with pytest.raises(InputError, match=r"conv2_1 weight \(features\.5\.weight\)"):
        weights.load_file(write_torch_zip(tmp_path / "t.pth", *torch_state(bad)), partial=True)
    gap = {c: w[c] for c in ("conv1_1", "conv2_1")}
    with pytest.raises(InputError, match="conv1_2 is missing"):
        weights.load_file(write_torch_zip(tmp_path / "g.pth", *torch_state(gap)), partial=True)
    path = tmp_path / "d.safetensors"
    path.write_bytes(st_bytes({"conv1_1.kernel": ("F32", np.zeros((3, 3, 3, 63), np.float32)),
                               "conv1_1.bias": ("F32", np.zeros(63, np.float32))}))
    with pytest.raises(InputError, match="conv1_1 kernel"):
        weights.load_file(path, partial=True)


# ---------------------------------------------------------------------------------
# import and info
# ---------------------------------------------------------------------------------


def test_import_writes_compact_doodle_safetensors(tmp_path):
    w = oihw_weights()
    src = write_torch_zip(tmp_path / "vgg19-dcbb9e9d.pth", *torch_state(w))
    cache = tmp_path / "cache"
    out = weights.import_weights(src, cache, partial=True)
    assert out == cache / "vgg19-dcbb9e9d-conv.safetensors"
    original = weights.load_file(src, partial=True)
    imported = weights.load_file(out, partial=True)
    assert imported.preprocess == weights.TORCHVISION
    for conv in SMALL:
        for p in ("kernel", "bias"):
            np.testing.assert_array_equal(np.asarray(imported.params[conv][p]), np.asarray(original.params[conv][p]))
    _, meta = weights.read_safetensors(out, wanted=())
    record = json.loads(meta["doodle"])
    assert record["source"] == "torchvision" and record["convention"] == "torchvision"
    assert record["source_sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()
    about = weights.info(out)
    assert about["format"] == "safetensors" and about["layers"] == ["1_1", "1_2", "2_1"]
    assert about["convention"] == "torchvision" and about["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert weights.find_cached(cache) == out

    half = weights.import_weights(src, tmp_path / "half", partial=True, float16=True)
    assert half.stat().st_size < out.stat().st_size * 0.6
    assert weights.info(half)["dtype"] == "float16"
    assert_every_layer(weights.load_file(half, partial=True).params,
                       torch_reference({c: (a.astype(np.float16).astype(np.float32), b.astype(np.float16).astype(np.float32))
                                        for c, (a, b) in w.items()}))


def test_info_of_each_format(tmp_path):
    expected = {"lasagne": ("lasagne", "caffe"), "torch-zip": ("torch", "torchvision (assumed)"),
                "torch-tar": ("torch", "torchvision (assumed)"), "keras-h5": ("keras-h5", "caffe"),
                "torch-legacy": ("torch", "torchvision (assumed)"), "safetensors": ("safetensors", "torchvision (assumed)"),
                "npz": ("npz", "caffe (assumed)")}
    for key, path in all_formats(tmp_path).items():
        about = weights.info(path)
        assert (about["format"], about["convention"]) == expected[key], key
        assert about["layers"] == ["1_1", "1_2", "2_1"]


# ---------------------------------------------------------------------------------
# Downloads against a local HTTP server
# ---------------------------------------------------------------------------------


class Server:
    """Serves ``files`` on 127.0.0.1 with Range support; logs (path, start, end, bytes sent).

    ``cut_at`` = (start offset, bytes): the next response starting there is cut off
    after that many bytes, once (an interrupted transfer)."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files, self.log, self.cut_at = files, [], None
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                data = server.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                start, end, status = 0, len(data) - 1, 200
                rng = self.headers.get("Range")
                if rng:
                    m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng)
                    start = int(m.group(1))
                    end = min(int(m.group(2)), len(data) - 1) if m.group(2) else len(data) - 1
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.end_headers()
                        return
                    status = 206
                body = data[start : end + 1]
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
                self.end_headers()
                if server.cut_at is not None and server.cut_at[0] == start:
                    body = body[: server.cut_at[1]]
                    server.cut_at = None
                server.log.append((self.path, start, end, len(body), rng))  # before the client can see the reply
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server({})
    yield s
    s.close()


def lasagne_bytes(tmp_path: Path) -> bytes:
    return write_lasagne(tmp_path / "src.pkl.bz2", oihw_weights()).read_bytes()


def source(server, data: bytes, **kw) -> weights.Source:
    server.files["/w.pkl.bz2"] = data
    base = dict(name="test", url=server.url + "/w.pkl.bz2", filename="vgg19_conv.pkl.bz2", format="lasagne",
                convention="caffe", approx_mb=1, licence="test")
    base.update(kw)
    return weights.Source(**base)


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
    assert_every_layer(ext.params, torch_reference(w))


# ---------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------


def test_cli_list_info_import_and_errors(tmp_path):
    runner = CliRunner()
    cache = tmp_path / "cache"
    res = runner.invoke(weights_cli, ["list", "--cache-dir", str(cache)])
    assert res.exit_code == 0, res.output
    for src in weights.SOURCES:
        assert src.name in res.output
    assert "not downloaded" in res.output and "built-in" in res.output

    path = write_torch_zip(tmp_path / "vgg19-d01eb7cb.pth", *torch_state(oihw_weights()))
    res = runner.invoke(weights_cli, ["info", str(path)])
    assert res.exit_code == 0, res.output
    assert "torch" in res.stdout and "caffe" in res.stdout and "1_1,1_2,2_1" in res.stdout

    res = runner.invoke(weights_cli, ["import", str(path), "--cache-dir", str(cache)])
    assert res.exit_code == 2 and res.stderr.startswith("doodle: error: layer conv2_2 is missing")

    for args in (["info", "nonesuch"], ["download", "nonesuch"], ["info", "torchvision", "--cache-dir", str(cache)],
                 ["info", str(tmp_path / "missing.pth")]):
        res = runner.invoke(weights_cli, args)
        assert res.exit_code == 2, (args, res.output)
        assert res.stderr.startswith("doodle: error:") and res.stdout == ""


def test_cli_download(tmp_path, server, monkeypatch):
    data = lasagne_bytes(tmp_path)
    src = source(server, data, name="local", sha256=hashlib.sha256(data).hexdigest())
    monkeypatch.setattr(weights, "SOURCES", (src,))
    res = CliRunner().invoke(weights_cli, ["download", "local", "--cache-dir", str(tmp_path / "c")])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == str(tmp_path / "c" / "vgg19_conv.pkl.bz2")
    assert "verified: sha256" in res.stderr
    res = CliRunner().invoke(weights_cli, ["list", "--cache-dir", str(tmp_path / "c")])
    assert str(tmp_path / "c" / "vgg19_conv.pkl.bz2") in res.output


def test_builtin_calibration_is_kept_and_gives_the_same_weights(tmp_path, builtin_extractor):
    first = weights.builtin_extractor("2_1", cache=tmp_path)
    files = list((tmp_path / "builtin").glob("calibration-*.json"))
    assert len(files) == 1 and len(json.loads(files[0].read_text())) == 3
    again = weights.builtin_extractor("3_1", cache=tmp_path)  # deeper: calibrates the rest, rewrites
    assert len(json.loads(files[0].read_text())) == 5
    for ext in (first, again, weights.builtin_extractor("2_1", cache=tmp_path)):
        for name, p in ext.params.items():
            np.testing.assert_array_equal(np.asarray(p["kernel"]), np.asarray(builtin_extractor.params[name]["kernel"]))
    files[0].write_text("not json")  # a damaged file is recalibrated, not an error
    assert set(weights.builtin_extractor("2_1", cache=tmp_path).params) == {"conv1_1", "conv1_2", "conv2_1"}
