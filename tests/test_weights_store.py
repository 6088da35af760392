"""Weight files in the cache folder (doodle/weights/store.py)."""
from doodle import weights


def test_find_cached_prefers_the_reference_weights(tmp_path):
    assert weights.find_cached(tmp_path / "none") is None
    assert weights.find_cached(tmp_path) is None
    (tmp_path / "mine-conv.safetensors").write_bytes(b"x")
    assert weights.find_cached(tmp_path) == tmp_path / "mine-conv.safetensors"
    (tmp_path / "vgg19-dcbb9e9d.pth").write_bytes(b"x")
    assert weights.find_cached(tmp_path) == tmp_path / "vgg19-dcbb9e9d.pth"
    (tmp_path / "vgg19_conv.pkl.bz2").write_bytes(b"x")
    assert weights.find_cached(tmp_path) == tmp_path / "vgg19_conv.pkl.bz2"
