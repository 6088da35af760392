#!/usr/bin/env bash
# GPU check, under 5 minutes on one GPU: the GPU-dependent tests, then the memory bench
# on the GPU (predicted vs the allocator's peak). Needs jax with CUDA installed:
#   pip install -e '.[test]' 'jax[cuda12]'
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c "import jax; print(jax.devices())"
python3 -m pytest -q tests/test_planner.py -k gpu
python3 bench/memory.py --device gpu --sizes 256x192,512x384,1024x768
python3 bench/speed.py --size 512x384 --iterations 20 --no-breakdown
