#!/usr/bin/env bash
# Runs on the GPU machine from the bundle benches/gpu/bundle.sh made (also works where there is
# no GPU: then it shows that --device cuda is refused cleanly). Results as JSON lines on stdout
# and in $OUT/gpu-results.jsonl when OUT is set.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export UDUNITS2_XML_PATH="$here/data/udunits/udunits2.xml"
results=${OUT:-/tmp}/gpu-results.jsonl
: >"$results"
run() { "$@" 2>&1 | tee -a "$results"; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | tee -a "$results" || true
run "$here/bin/vejr" --version
# CUDA against CPU: one forward and one backward pass of a saved model.
run "$here/bin/forecaster-timing" --check-cuda "$here/data/forecaster-1cf96bd.vejr"
# Seconds per step at 1° (mesh 5, latent 64) and at GraphCast's 0.25° shape (configs/graphcast-0p25deg.toml:
# latent 512, 16 layers, mesh 6), with a 40-step rollout.
run "$here/bin/forecaster-timing" 1 5 64 4 5 --device cuda --rollout 40
run "$here/bin/forecaster-timing" 0.25 6 512 16 3 --device cuda --rollout 40
echo "results: $results"
