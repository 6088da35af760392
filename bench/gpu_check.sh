#!/usr/bin/env bash
# GPU check: one prepared script for a lent GPU machine, about 7 minutes, most important first.
#
#   bench/gpu_check.sh OUTDIR [REFDIR]
#
# REFDIR holds the reference's Monet.jpg, Monet_sem.png and Coastline_sem.png (not shipped;
# default ../shared/reference/neural-doodle). Needs jax with CUDA, flax, optax, imageio and
# click importable (the repository itself goes on PYTHONPATH; nothing is installed). Each
# step has its own time limit and a failed step does not stop the next. Writes the default
# run's two paintings and the bench's painting to OUTDIR; the log goes to stdout.
set -uo pipefail
cd "$(dirname "$0")/.."
OUTDIR=${1:?usage: bench/gpu_check.sh OUTDIR [REFDIR]}
REF=$(cd "${2:-../shared/reference/neural-doodle}" && pwd)
mkdir -p "$OUTDIR"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 DOODLE_REFERENCE=$REF
export DOODLE_CACHE=$(mktemp -d)   # a cold compilation cache for the first run

step() {  # step NAME LIMIT_SECONDS COMMAND...: run with a limit, print its wall time
    local name=$1 limit=$2; shift 2
    echo "=== $name (limit ${limit}s): $*"
    local start=$EPOCHREALTIME
    timeout "$limit" "$@" 2>&1
    local rc=$?
    echo "=== $name rc=$rc wall=$(python3 -c "print(f'{$EPOCHREALTIME - $start:.1f}')")s"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import sys, jax, flax, optax; print(sys.version.split()[0], 'jax', jax.__version__, 'flax', flax.__version__, jax.devices())"

# 1. The default run, whole process, cold then warm compilation cache (target: <= 15 s).
PAINT=(python3 -m doodle paint --style "$REF/Monet.jpg" --map "$REF/Coastline_sem.png" --random-seed 1 --print-every 0)
step paint_cold 150 "${PAINT[@]}" -o "$OUTDIR/coastline_cold.png"
step paint_warm 90 "${PAINT[@]}" -o "$OUTDIR/coastline_warm.png"
step paint_warm2 90 "${PAINT[@]}" -o "$DOODLE_CACHE/coastline_warm2.png"
# 2. Per-phase figures, breakdown and quality on the same case.
step speed 120 python3 bench/speed.py --case coastline --image "$OUTDIR/speed.png"
# 3. The GPU-dependent tests and the planner against the allocator's peak.
step tests 90 python3 -m pytest -q -p no:cacheprovider tests/test_planner.py tests/test_patches.py
step memory 90 python3 bench/memory.py --device gpu --sizes 256x192,512x384,1024x768 --layers 2_1,3_1,4_1
