"""``doodle weights`` (doodle/cli/weights.py): list, info, import, download."""
from __future__ import annotations

import hashlib
import json

import pytest
from click.testing import CliRunner

from doodle import weights
from doodle.cli.weights import weights as weights_cli
from doodle.weights import catalog
from weight_files import lasagne_bytes, torch_state, write_torch_zip
from weight_refs import oihw_weights
from weight_server import serving, source


@pytest.fixture
def server():
    with serving() as s:
        yield s


def test_cli_list_info_import_and_errors(tmp_path):
    runner = CliRunner()
    cache = tmp_path / "cache"
    res = runner.invoke(weights_cli, ["list", "--cache-dir", str(cache)])
    assert res.exit_code == 0, res.output
    for src in weights.SOURCES:
        assert src.name in res.output
    assert "not downloaded" in res.output and "--weights auto uses: packaged" in res.output

    path = write_torch_zip(tmp_path / "vgg19-d01eb7cb.pth", *torch_state(oihw_weights()))
    res = runner.invoke(weights_cli, ["info", str(path)])
    assert res.exit_code == 0, res.output
    assert "torch" in res.stdout and "caffe" in res.stdout and "1_1,1_2,2_1" in res.stdout
    assert "network:    VGG16 or VGG19, first 3 conv layers" in res.stdout

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
    monkeypatch.setattr(catalog, "SOURCES", (src,))  # where sources() reads it
    res = CliRunner().invoke(weights_cli, ["download", "local", "--cache-dir", str(tmp_path / "c")])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == str(tmp_path / "c" / "vgg19_conv.pkl.bz2")
    assert "verified: sha256" in res.stderr
    res = CliRunner().invoke(weights_cli, ["list", "--cache-dir", str(tmp_path / "c")])
    assert str(tmp_path / "c" / "vgg19_conv.pkl.bz2") in res.output


def test_cli_list_shows_files_found_elsewhere_and_what_auto_takes(tmp_path, monkeypatch):
    for name, folder in (("TORCH_HOME", "torch"), ("KERAS_HOME", "keras"), ("HF_HOME", "hf")):
        monkeypatch.setenv(name, str(tmp_path / folder))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    data = b"a VGG16 torch hub kept"
    good = hub / f"vgg16-{hashlib.sha256(data).hexdigest()[:8]}.pth"
    good.write_bytes(data)
    bad = hub / "vgg19-00000000.pth"
    bad.write_bytes(b"damaged")
    (hub / "vgg16_bn-6c64b313.pth").write_bytes(b"bn")
    cache = tmp_path / "cache"
    res = CliRunner().invoke(weights_cli, ["list", "--cache-dir", str(cache)])
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert "torchvision-vgg16  VGG16" in out and "found elsewhere (used where they are, not copied):" in out
    good_line = next(line for line in out.splitlines() if line.strip().startswith(good.name))
    assert "VGG16" in good_line and "torch hub" in good_line and "sha256 prefix ok" in good_line
    assert "CHECK FAILED: sha256" in out and "not usable: a batch-normalised VGG" in out
    assert out.splitlines()[-1] == f"--weights auto uses: {good.name} VGG16 (found in {hub}, sha256 prefix ok)"
    assert sorted(p.name for p in cache.iterdir()) == ["checked-files.json"]  # nothing copied

    res = CliRunner().invoke(weights_cli, ["list", "--json", "--cache-dir", str(cache)])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert [s["name"] for s in data["sources"]] == [s.name for s in weights.SOURCES]
    assert {s["network"] for s in data["sources"]} == {"vgg16", "vgg19"}
    assert [(f["path"], f["status"], f["usable"]) for f in data["found"]] == [
        (str(good), "ok", True), (str(bad), "failed", False), (str(hub / "vgg16_bn-6c64b313.pth"), "unusable", False)]
    assert data["auto"]["path"] == str(good) and str(hub) in data["looked_in"]
