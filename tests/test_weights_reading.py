"""Any file, any damage (doodle/weights/reading.py, detect.py): an InputError, never a crash."""
from __future__ import annotations

import pytest

from doodle import weights
from doodle.errors import InputError
from weight_files import all_formats


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
