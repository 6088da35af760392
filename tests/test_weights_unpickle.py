"""Restricted unpickling (doodle/weights/unpickle.py): payloads are refused and never run."""
from __future__ import annotations

import bz2
import os
import pickle

import numpy as np
import pytest

from doodle import weights
from doodle.errors import InputError
from weight_files import write_torch_zip
from weight_refs import oihw_weights


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
