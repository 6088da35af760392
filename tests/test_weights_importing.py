"""``doodle weights import`` (doodle/weights/importing.py): a compact doodle-layout copy."""
from __future__ import annotations

import hashlib
import json

import numpy as np

from doodle import weights
from weight_files import torch_state, write_torch_zip
from weight_refs import file_params
from weight_refs import SMALL, assert_every_layer, oihw_weights, torch_reference


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
    assert_every_layer(file_params(weights.load_file(half, partial=True)),
                       torch_reference({c: (a.astype(np.float16).astype(np.float32), b.astype(np.float16).astype(np.float32))
                                        for c, (a, b) in w.items()}))
