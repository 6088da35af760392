"""What a weights spec names, and what the file holds (doodle/weights/loading.py)."""
from doodle import weights
from weight_files import all_formats


def test_info_of_each_format(tmp_path):
    expected = {"lasagne": ("lasagne", "caffe"), "torch-zip": ("torch", "torchvision (assumed)"),
                "torch-tar": ("torch", "torchvision (assumed)"), "keras-h5": ("keras-h5", "caffe"),
                "torch-legacy": ("torch", "torchvision (assumed)"), "safetensors": ("safetensors", "torchvision (assumed)"),
                "npz": ("npz", "caffe (assumed)"), "onnx": ("onnx", "torchvision")}
    for key, path in all_formats(tmp_path).items():
        about = weights.info(path)
        assert (about["format"], about["convention"]) == expected[key], key
        assert about["layers"] == ["1_1", "1_2", "2_1"]
