"""Layer tables, conventions and the checks every reader shares (doodle/weights/layout.py)."""
from __future__ import annotations

import re

import numpy as np
import pytest

from doodle import weights
from doodle.errors import InputError
from weight_files import st_bytes, torch_state, write_lasagne, write_torch_zip
from weight_refs import oihw_weights


def test_tables_match_torchvision_and_keras():
    assert weights.TORCH_INDICES == (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)
    assert weights.KERAS_GROUPS["conv5_4"] == "block5_conv4"
    names = [s.name for s in weights.SOURCES]
    assert len(set(names)) == len(names) and "neural-doodle" in names and "torchvision" in names
    for src in weights.SOURCES:
        assert src.url.startswith("https://") and src.convention in weights.CONVENTIONS
        assert src.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", src.sha256)
    assert weights.get_source("torchvision").sha256_prefix == "dcbb9e9d"


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
