#!/usr/bin/env bash
# GPU check: one prepared script for a lent GPU machine, most important first.
#
#   bench/gpu_check.sh OUTDIR [REFDIR] [large]
#
# REFDIR holds the reference's Monet.jpg, Monet_sem.png and Coastline_sem.png (not shipped;
# default ../shared/reference/neural-doodle). Needs jax with CUDA, flax, optax, imageio and
# click importable (the repository itself goes on PYTHONPATH; nothing is installed). Each
# step has its own time limit and a failed step does not stop the next. The log goes to
# stdout; OUTDIR gets the default run's paintings and JSON logs, the warm run's profile
# (profile.txt) and, with "large", the memory figures at 4096×3072 and 7680×4320 and a
# whole 7680×4320 painting (scaled, and two 100 % crops).
set -uo pipefail
cd "$(dirname "$0")/.."
OUTDIR=${1:?usage: bench/gpu_check.sh OUTDIR [REFDIR] [large]}
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

# 1. The default run, whole process: cold compilation cache, then warm (twice), then warm
#    under cProfile (where a warm run's seconds go). GPU_FLAGS: XLA_FLAGS for these runs
#    (default none: turning the autotuner off made evaluations ~100x slower, 2026-11-30).
export XLA_FLAGS="${GPU_FLAGS:-}"
PAINT=(python3 -m doodle paint --style "$REF/Monet.jpg" --map "$REF/Coastline_sem.png" --random-seed 1 --print-every 1 -q)
step paint_cold 120 "${PAINT[@]}" -o "$OUTDIR/coastline_cold.png" --log-json "$OUTDIR/cold.jsonl"
step paint_warm 45 "${PAINT[@]}" -o "$OUTDIR/coastline_warm.png" --log-json "$OUTDIR/warm.jsonl"
step paint_warm2 45 "${PAINT[@]}" -o "$DOODLE_CACHE/coastline_warm2.png"
step import_only 30 python3 -c "import time; t=time.perf_counter(); import jax; t1=time.perf_counter(); jax.devices(); t2=time.perf_counter(); import doodle.cli, doodle.run.api, doodle.core.synthesis; t3=time.perf_counter(); print(f'import jax {t1-t:.2f}s, devices {t2-t1:.2f}s, import doodle {t3-t2:.2f}s')"
step profile 45 python3 -m cProfile -o "$DOODLE_CACHE/warm.prof" -m doodle paint --style "$REF/Monet.jpg" \
    --map "$REF/Coastline_sem.png" --random-seed 1 -q -o "$DOODLE_CACHE/coastline_prof.png"
python3 - "$DOODLE_CACHE/warm.prof" "$OUTDIR/profile.txt" <<'PY'
import io, pstats, sys
out = io.StringIO()
s = pstats.Stats(sys.argv[1], stream=out)
s.sort_stats("cumulative").print_stats(70)
s.sort_stats("tottime").print_stats(30)
open(sys.argv[2], "w").write(out.getvalue())
print("\n".join(l for l in out.getvalue().splitlines()[:60] if l.strip()))
PY
# 2. Large outputs: the planner against the allocator's peak for whole runs of 3 phases × 2
#    evaluations (bench/memory.py runs each twice on a GPU, sharing the compile cache, and
#    measures the second), then a 7680×4320 painting of 3 × 5 evaluations (not the default
#    100), saved scaled and cropped. On 2026-11-30 a 4096×3072 phase's cold and warm runs
#    took over 100 s: give these steps most of a lease.
if [ "${3:-}" = large ]; then
    step memory 300 python3 bench/memory.py --device gpu --sizes 4096x3072,7680x4320 --iterations 2 --json "$OUTDIR/memory.jsonl"
    step large 240 python3 bench/memory.py --device gpu --runs 1 --sizes 7680x4320 --iterations 5 --save "$OUTDIR" --json "$OUTDIR/memory.jsonl"
fi
