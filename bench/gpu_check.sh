#!/usr/bin/env bash
# GPU check: one prepared script for a lent GPU machine, about 4 minutes (7 with speed), most important first.
#
#   bench/gpu_check.sh OUTDIR [REFDIR] [speed]
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

# 1. The relu2_1 window by chunk size (a CPU-tuned default of 128 patches).
step propagate 60 python3 bench/propagate.py --size 512x384 --chunks 128,1024,8192,0
# 2. The default run, whole process, cold then warm compilation cache (target: <= 15 s);
#    per-evaluation times in OUTDIR/*.jsonl.
PAINT=(python3 -m doodle paint --style "$REF/Monet.jpg" --map "$REF/Coastline_sem.png" --random-seed 1 --print-every 1 -q)
step paint_cold 150 "${PAINT[@]}" -o "$OUTDIR/coastline_cold.png" --log-json "$OUTDIR/cold.jsonl"
step paint_warm 90 "${PAINT[@]}" -o "$OUTDIR/coastline_warm.png" --log-json "$OUTDIR/warm.jsonl"
step paint_warm2 90 "${PAINT[@]}" -o "$DOODLE_CACHE/coastline_warm2.png" --log-json "$OUTDIR/warm2.jsonl"
# 3. The planner against the allocator's peak (autotuner off), and the GPU-dependent tests.
step memory 100 python3 bench/memory.py --device gpu --sizes 256x192,512x384,1024x768 --layers 2_1,3_1,4_1
step tests 60 python3 -m pytest -q -p no:cacheprovider tests/test_planner.py tests/test_patches.py
# 4. Per-phase figures with the breakdown (compiles without the cache: ~2.5 minutes),
#    when the lease has time for it: bench/gpu_check.sh OUTDIR REFDIR speed
if [ "${3:-}" = speed ]; then
    step speed 150 python3 bench/speed.py --case coastline --image "$OUTDIR/speed.png"
fi
