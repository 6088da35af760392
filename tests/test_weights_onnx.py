"""ONNX models (doodle/weights/onnx.py): the VGG conv chain of a graph, built here with
onnx.helper the way torch.onnx.export (NCHW) and tf2onnx (NHWC, Transpose first) lay
theirs out; onnx's own ReferenceEvaluator runs the graph's first layer as the reference."""
from __future__ import annotations

import builtins

import numpy as np
import pytest

from doodle import weights
from doodle.errors import InputError
from weight_files import vgg_onnx
from weight_refs import file_params
from weight_refs import (
    CAFFE_MEAN_BGR, IMAGE, SMALL, TV_MEAN, TV_STD, assert_tagged, oihw_weights, relu1_1, tagged_oihw, torch_reference,
)

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402


def first_relu(path, x: np.ndarray) -> np.ndarray:
    """relu1_1 of the model at ``path`` for input ``x``, computed by onnx's
    ReferenceEvaluator on the model's own nodes up to the first Relu."""
    from onnx.reference import ReferenceEvaluator

    model = onnx.load(str(path))
    nodes = []
    for node in model.graph.node:  # the graph's own nodes, through the first Relu
        nodes.append(node)
        if node.op_type == "Relu":
            break
    read = {name for node in nodes for name in node.input}
    graph = helper.make_graph(nodes, "first", [model.graph.input[0]],
                              [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, None)],
                              [t for t in model.graph.initializer if t.name in read])
    sub = helper.make_model(graph, opset_imports=list(model.opset_import))
    return ReferenceEvaluator(sub).run(None, {"input": x})[0]


def test_torch_exported_vgg16_nchw(tmp_path):
    """torch.onnx.export's layout: NCHW input straight into conv1_1, classifier after."""
    w = tagged_oihw("vgg16", 3)
    path = vgg_onnx(tmp_path / "vgg16.onnx", w, pool="MaxPool", constants=("conv1_2", "conv4_1"))
    assert weights.detect_format(path) == "onnx"
    loaded = weights.read_weights(path)
    assert loaded.format == "onnx" and loaded.convention == "torchvision"
    assert_tagged(loaded.params, "vgg16", torch_reference(w))
    for conv, (wt, b) in w.items():  # the initializers, transposed OIHW -> HWIO and not flipped
        np.testing.assert_array_equal(loaded.params[conv]["kernel"], wt.transpose(2, 3, 1, 0))
        np.testing.assert_array_equal(loaded.params[conv]["bias"], b)
    ext = weights.to_extractor(loaded, "x")
    assert ext.arch == "vgg16" and ext.preprocess == weights.TORCHVISION
    x = ((IMAGE / 255.0 - TV_MEAN) / TV_STD).transpose(2, 0, 1)[None].astype(np.float32)
    np.testing.assert_allclose(relu1_1(ext), first_relu(path, x)[0].transpose(1, 2, 0), rtol=1e-4, atol=2e-3)


def test_keras_converted_vgg19_nhwc_without_some_biases(tmp_path):
    """tf2onnx's layout: NHWC input, a Transpose, auto_pad SAME_UPPER; a missing bias is zero."""
    w = tagged_oihw("vgg19", 4)
    path = vgg_onnx(tmp_path / "keras_vgg19.onnx", w, nhwc=True, pool="AveragePool",
                    no_bias=("conv1_1", "conv4_2"), same_upper=("conv1_1", "conv2_1"))
    loaded = weights.read_weights(path)
    assert loaded.convention == "caffe"
    np.testing.assert_array_equal(loaded.params["conv1_1"]["bias"], np.zeros(64, np.float32))
    np.testing.assert_array_equal(loaded.params["conv4_2"]["bias"], np.zeros(512, np.float32))
    zeroed = {c: (wt, np.zeros_like(b) if c in ("conv1_1", "conv4_2") else b) for c, (wt, b) in w.items()}
    assert list(loaded.params) == list(w)
    for conv, (wt, b) in zeroed.items():
        np.testing.assert_array_equal(loaded.params[conv]["kernel"], wt.transpose(2, 3, 1, 0))
        np.testing.assert_array_equal(loaded.params[conv]["bias"], b)
    ext = weights.to_extractor(loaded, "x")
    assert ext.arch == "vgg19" and ext.preprocess == weights.CAFFE
    x = (IMAGE[..., ::-1] - CAFFE_MEAN_BGR)[None].astype(np.float32)  # NHWC, BGR, mean subtracted
    np.testing.assert_allclose(relu1_1(ext), first_relu(path, x)[0].transpose(1, 2, 0), rtol=1e-4, atol=2e-3)
    assert weights.read_weights(path, convention="torchvision").convention == "torchvision"  # --convention wins


def test_import_and_info_through_the_cli(tmp_path):
    from click.testing import CliRunner

    from doodle.cli.weights import weights as weights_cli

    w = tagged_oihw("vgg16", 5)
    path = vgg_onnx(tmp_path / "tumour_vgg16.onnx", w, nhwc=True)
    cache = tmp_path / "cache"
    res = CliRunner().invoke(weights_cli, ["import", str(path), "--cache-dir", str(cache)])
    assert res.exit_code == 0, res.output
    out = cache / "tumour_vgg16-conv.safetensors"
    assert res.stdout.strip() == str(out)
    res = CliRunner().invoke(weights_cli, ["info", str(out)])
    assert res.exit_code == 0, res.output
    assert "network:    VGG16, 13 conv layers" in res.stdout and "convention: caffe (BGR" in res.stdout
    assert_tagged(file_params(weights.load_file(out)), "vgg16", torch_reference(w))


def _refused(path, fragment, partial=False):
    with pytest.raises(InputError) as err:
        weights.read_weights(path, partial=partial)
    assert fragment in str(err.value) and "\n" not in str(err.value), str(err.value)


@pytest.mark.parametrize("conv_attrs,fragment", [
    ({"conv1_2": {"strides": [2, 2]}}, "conv 2 (node 'conv1_2') has strides (2, 2)"),
    ({"conv2_1": {"kernel_shape": [5, 5], "pads": [2, 2, 2, 2]}}, "has a 5×5 kernel"),
    ({"conv1_1": {"group": 3}}, "grouped"),
    ({"conv1_1": {"pads": [0, 0, 0, 0]}}, "pads (0, 0, 0, 0)"),
    ({"conv1_1": {"dilations": [2, 2]}}, "dilations (2, 2)"),
])
def test_convs_of_the_wrong_shape_are_refused(tmp_path, conv_attrs, fragment):
    _refused(vgg_onnx(tmp_path / "m.onnx", oihw_weights(), attrs=conv_attrs, head=False), fragment)


def test_graphs_that_are_not_vgg_chains_are_refused(tmp_path):
    w = oihw_weights()
    # A ResNet-like stem: a 7×7 stride-2 conv first.
    stem = {"conv1_1": (np.ones((64, 3, 7, 7), np.float32), np.zeros(64, np.float32))}
    _refused(vgg_onnx(tmp_path / "resnet.onnx", stem, attrs={"conv1_1": {"kernel_shape": [7, 7], "strides": [2, 2],
                                                                         "pads": [3, 3, 3, 3]}}), "7×7 kernel")
    # No conv at all.
    graph = helper.make_graph([helper.make_node("Relu", ["input"], ["y"])], "mlp",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    onnx.save(helper.make_model(graph), str(tmp_path / "mlp.onnx"))
    _refused(tmp_path / "mlp.onnx", "has no Conv node")
    # Weights fed as inputs instead of stored.
    _refused(vgg_onnx(tmp_path / "fed.onnx", w, fed=("conv1_2",)), "conv1_2 (node 'conv1_2') has no weights",
             partial=True)
    # A chain past 16 convs (checked before any weight is read).
    _refused(vgg_onnx(tmp_path / "long.onnx", tagged_oihw("vgg19"), extra_convs=1, head=False), "past 16 convs")
    # A block one conv too long: block 1 with three convs.
    three = {"conv1_1": w["conv1_1"], "conv1_2": w["conv1_2"], "conv1_3": (w["conv1_2"][0], w["conv1_2"][1])}
    _refused(vgg_onnx(tmp_path / "three.onnx", three), "block 1 of the conv chain has a conv 3")
    # A conv of VGG's kind but not its channels.
    wide = dict(w, conv1_2=(np.ones((96, 64, 3, 3), np.float32), np.zeros(96, np.float32)))
    _refused(vgg_onnx(tmp_path / "wide.onnx", wide), "layer conv1_2 weight (conv1_2.W) has shape (96, 64, 3, 3)",
             partial=True)
    # A branch: relu1_1 feeds a second conv beside conv1_2.
    model = onnx.load(str(vgg_onnx(tmp_path / "branch.onnx", w)))
    model.graph.node.append(helper.make_node("Conv", ["relu1_1", "conv1_2.W"], ["side"], kernel_shape=[3, 3],
                                             pads=[1, 1, 1, 1]))
    onnx.save(model, str(tmp_path / "branch.onnx"))
    _refused(tmp_path / "branch.onnx", "feeds 2 Conv nodes; a VGG chain does not branch", partial=True)
    # A chain that stops early is a prefix: refused whole, read with partial.
    path = vgg_onnx(tmp_path / "short.onnx", w)
    _refused(path, "layer conv2_2 is missing")
    assert list(weights.read_weights(path, partial=True).params) == list(SMALL)


def test_pool_must_be_2x2_stride_2(tmp_path):
    path = tmp_path / "pool.onnx"
    vgg_onnx(path, oihw_weights(), head=False)
    model = onnx.load(str(path))
    for node in model.graph.node:
        if node.op_type == "MaxPool":
            del node.attribute[:]
            node.attribute.extend([helper.make_attribute("kernel_shape", [3, 3]),
                                   helper.make_attribute("strides", [2, 2])])
    onnx.save(model, str(path))
    _refused(path, "VGG pools 2×2 with stride 2")


def test_detected_by_content_and_damage_is_an_input_error(tmp_path):
    path = vgg_onnx(tmp_path / "m.onnx", oihw_weights())
    renamed = tmp_path / "m.bin"
    renamed.write_bytes(path.read_bytes())
    assert weights.detect_format(renamed) == "onnx"
    assert not weights.onnx.is_onnx(b"\x08\x07hello") and not weights.onnx.is_onnx(b"\x00" * 16)
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(InputError):
        weights.read_weights(cut, partial=True)
    big = tmp_path / "big.onnx"
    big.write_bytes(path.read_bytes())
    with open(big, "r+b") as f:  # a sparse file past the size bound: refused before parsing
        f.truncate(weights.onnx.MAX_FILE + 1)
    _refused(big, "more than any VGG model needs")


def test_without_onnx_says_how_to_install(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from doodle.cli.weights import weights as weights_cli

    path = vgg_onnx(tmp_path / "m.onnx", oihw_weights())
    real_import = builtins.__import__

    def no_onnx(name, *args, **kwargs):
        if name == "onnx" or name.startswith("onnx."):
            raise ImportError("no onnx")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnx)
    with pytest.raises(InputError) as err:
        weights.read_weights(path, partial=True)
    assert "pip install 'doodle[onnx]'" in err.value.hint
    res = CliRunner().invoke(weights_cli, ["import", str(path), "--cache-dir", str(tmp_path / "cache")])
    assert res.exit_code == 2 and "pip install 'doodle[onnx]'" in res.stderr, res.output


def test_external_data_is_refused_not_followed(tmp_path):
    """Weights kept "in an external file" name a path: doodle never opens it."""
    path = vgg_onnx(tmp_path / "m.onnx", oihw_weights())
    model = onnx.load(str(path))
    for tensor in model.graph.initializer:
        if tensor.name == "conv1_1.W":
            tensor.ClearField("raw_data")
            tensor.data_location = TensorProto.EXTERNAL
            entry = tensor.external_data.add()
            entry.key, entry.value = "location", "../../secret.bin"
    onnx.save(model, str(path))
    _refused(path, "keeps 'conv1_1.W' in an external data file", partial=True)
