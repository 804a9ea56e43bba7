#!/usr/bin/env bash
# Runs on the GPU machine from the bundle benches/gpu/bundle.sh made (also works where there is
# no GPU: then it shows that --device cuda is refused cleanly). Results as JSON lines on stdout
# and in $OUT/gpu-results.jsonl when OUT is set.
#
#   bash run.sh [BUNDLE_DIR] [STAGE...]
#
# Stages (all when none is named):
#   cuda   CUDA against CPU on a saved model; seconds per forward, forward + backward and
#          rollout step at 1° and at GraphCast's 0.25° shape.
#   demo   the demo's train → forecast → evaluate through the CLI with --device cuda, from the
#          repository's out/demo/blizzard-1996.zarr (carry it; `make demo` writes it).
#   small  the small graph that did not finish on the first H100 (5.625°, mesh 4): forward
#          timing with cubecl's autotuning at its default and at "minimal", 150 s each, with
#          cubecl's own log of what it compiles and tunes in $OUT (a slow autotune or a hang).
#          Not in the default set; name it.
#   peer   vejr against PhysicsNeMo's GraphCastNet on the same GPU (benches/peer/compare.sh with
#          PEER_DEVICE=cuda; the image's python3 has torch and torch_geometric, PhysicsNeMo and the
#          few packages it imports that the image lacks travel as wheels in .whl/, see
#          benches/gpu/wheels.sh).
# The repository's root is the working directory (the device tool runs commands there).
set -uo pipefail
here=$(cd "${1:-$(dirname "$0")}" && pwd)
shift || true
stages=${*:-cuda demo peer}
repo=$PWD
export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export UDUNITS2_XML_PATH="$here/data/udunits/udunits2.xml"
out=${OUT:-/tmp}
results=$out/gpu-results.jsonl
touch "$results"
# Every command under a time limit (STEP_TIMEOUT seconds, default 240): a stall is reported as
# one JSON line and the next command runs, so one hang does not spend the machine's minutes.
run() {
    timeout --kill-after=10 "${STEP_TIMEOUT:-240}" "$@" 2>&1 | tee -a "$results"
    local status=${PIPESTATUS[0]}
    if [ "$status" = 124 ] || [ "$status" = 137 ]; then
        echo "{\"timed_out\": \"$*\", \"limit_s\": ${STEP_TIMEOUT:-240}}" | tee -a "$results"
    fi
    return "$status"
}
echo "== $(date -u +%FT%TZ) stages: $stages; load $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores" | tee -a "$results"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | tee -a "$results" || true
run "$here/bin/vejr" --version

for stage in $stages; do
    case $stage in
    cuda)
        # CUDA against CPU: one forward and one backward pass of a saved model.
        run "$here/bin/forecaster-timing" --check-cuda "$here/data/forecaster-1cf96bd.vejr"
        # 1° (mesh 5, latent 64, 4 layers) and GraphCast's 0.25° shape (configs/graphcast-0p25deg.toml:
        # latent 512, 16 layers, mesh 6), each with a 40-step rollout.
        run "$here/bin/forecaster-timing" 1 5 64 4 5 --device cuda --rollout 40
        run "$here/bin/forecaster-timing" 0.25 6 512 16 3 --device cuda --rollout 40
        ;;
    demo)
        store=$repo/out/demo/blizzard-1996.zarr
        if [ ! -d "$store" ]; then
            echo "demo: $store is missing (carry out/demo/blizzard-1996.zarr)" | tee -a "$results"
            continue
        fi
        demo=$out/demo
        mkdir -p "$demo"
        # The demo's training config, written to a scratch copy so its output lands under $OUT.
        sed "s|^output = .*|output = \"$demo/run\"|; s|^store = .*|store = \"$store\"|" \
            "$repo/configs/demo-train.toml" >/tmp/demo-train-cuda.toml
        # Training on each device (the CLI's own summary gives time and rate), then one checkpoint
        # (trained on CUDA) forecast on both devices: the two forecasts must agree.
        for device in cpu cuda; do
            run "$here/bin/vejr" train --config /tmp/demo-train-cuda.toml --overwrite --device "$device"
        done
        for device in cpu cuda; do
            run "$here/bin/vejr" forecast --checkpoint "$demo/run/best.vejr" --store "$store" \
                --date 1996-01-16T00 --lead 72h --out "$demo/forecast-$device.nc" --overwrite --device "$device"
        done
        run python3 - "$demo/forecast-cpu.nc" "$demo/forecast-cuda.nc" <<'PY'
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r") for p in sys.argv[1:])
for name in a:
    x = a[name]
    if x.ndim < 3 or name not in b:
        continue
    x, y = np.asarray(x, dtype=np.float64), np.asarray(b[name], dtype=np.float64)
    scale = np.abs(x).max() or 1.0
    print(f'{{"check": "demo forecast cpu vs cuda", "variable": "{name}", "max_abs_diff": {np.abs(x - y).max():.3e}, "relative": {np.abs(x - y).max() / scale:.3e}}}')
PY
        run "$here/bin/vejr" evaluate --forecast "$demo/forecast-cuda.nc" --truth "$store" --out "$demo/scores"
        cp "$demo/run/metrics.jsonl" "$out/demo-metrics.jsonl" 2>/dev/null
        rm -rf "$demo/run" "$demo/scores"/*.png "$demo"/forecast-*.nc
        ;;
    small)
        for level in balanced minimal; do
            log=$out/cubecl-$level.log
            CUBECL_AUTOTUNE_LEVEL=$level CUBECL_DEBUG_LOG=$log \
                run timeout 150 "$here/bin/forecaster-timing" 5.625 4 64 4 3 --device cuda
            echo "{\"stage\": \"small\", \"autotune\": \"$level\", \"exit\": $?}" | tee -a "$results"
            # What cubecl did last (the log can be large; what it was doing at the end is what counts).
            [ -f "$log" ] && tail -c 200000 "$log" >"$log.tail" && mv "$log.tail" "$log"
        done
        ;;
    peer)
        if [ -d "$repo/.whl" ]; then
            python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
                --target /tmp/site "$repo"/.whl/*.whl && export PYTHONPATH=/tmp/site
        fi
        PEER_DEVICE=cuda PEER_PYTHON=python3 VEJR_TIMING="$here/bin/forecaster-timing" PEER_OUT="$out" \
            PEER_THREADS=$(nproc) PEER_CASES="${PEER_CASES:-5.625:4 1:5 0.25:6:512:16}" \
            bash "$repo/benches/peer/compare.sh" "${PEER_ROUNDS:-2}" 2>&1 | tee -a "$results"
        ;;
    *) echo "run.sh: unknown stage $stage (cuda, demo, small, peer)" ;;
    esac
done
echo "results: $results"
