#!/usr/bin/env bash
# vejr against NVIDIA PhysicsNeMo's GraphCastNet (PyTorch, PyG backend) on the same CPU, the
# same grids and the same shape (latent 64, 4 message-passing layers on the mesh, 13 channels,
# batch 1), alternating the two sides ROUNDS times and reporting medians and ratios.
# Not part of `make test`: the peer's venv is ~3 GB (benches/peer/setup.sh).
#
#   bash benches/peer/compare.sh [ROUNDS=3]
#
# PEER_THREADS (2), PEER_REPEATS (5 timed runs per side and round, after one warm-up),
# PEER_VENV (target/peer-venv), PEER_CASES ("5.625:4 1:5", resolution:mesh level[:latent:layers],
# latent 64 and 4 layers unless given).
# On the GPU machine (benches/gpu/run.sh): PEER_DEVICE=cuda, PEER_PYTHON (the image's python3,
# which has torch) and VEJR_TIMING (the bundle's forecaster-timing built with CUDA).
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
threads=${PEER_THREADS:-2}
repeats=${PEER_REPEATS:-5}
venv=${PEER_VENV:-target/peer-venv}
cases=${PEER_CASES:-5.625:4 1:5}
device=${PEER_DEVICE:-cpu}

if [ -n "${PEER_PYTHON:-}" ]; then
    python=$PEER_PYTHON
else
    [ -x "$venv/bin/python" ] || bash benches/peer/setup.sh "$venv"
    python=$venv/bin/python
fi
if [ -n "${VEJR_TIMING:-}" ]; then
    timing=$VEJR_TIMING
else
    # The dev profile: every crate of this workspace is built at opt-level 2 (Cargo.toml), and a
    # release build of Burn takes minutes more on two cores.
    cargo build -q -p vejr-benches --bin forecaster-timing
    timing=target/debug/forecaster-timing
fi
export RAYON_NUM_THREADS=$threads MATMUL_NUM_THREADS=$threads OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads

out_dir=${PEER_OUT:-target/peer}
mkdir -p "$out_dir"
out=$out_dir/compare-$(date -u +%Y%m%dT%H%M%S).jsonl
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); device: $device; load: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$out.txt"
for case in $cases; do
    IFS=: read -r res level latent layers <<<"$case"
    latent=${latent:-64}
    layers=${layers:-4}
    vejr_device=()
    [ "$device" = cpu ] || vejr_device=(--device "$device")
    for round in $(seq "$rounds"); do
        if ! "$timing" "$res" "$level" "$latent" "$layers" "$repeats" "${vejr_device[@]}" >"$out.vejr" 2>>"$out.stderr"; then
            echo "vejr failed at $case: $(tail -1 "$out.stderr")" | tee -a "$out.txt"
            continue
        fi
        tail -1 "$out.vejr" | tee -a "$out"
        width=$(tail -1 "$out" | "$python" -c 'import json, sys; print(json.load(sys.stdin)["input_width"])')
        for trick in 0 1; do
            "$python" benches/peer/compare.py --resolution "$res" --level "$level" --latent "$latent" --layers "$layers" \
                --input-width "$width" --threads "$threads" --repeats "$repeats" --concat-trick "$trick" \
                --device "$device" 2>>"$out.stderr" | tail -1 | tee -a "$out" || true
        done
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out.txt"

"$python" - "$out" <<'PY' | tee -a "$out.txt"
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
print("| grid | mesh | latent × layers | side | grid→mesh / mesh→grid edges | forward (s) | forward + backward (s) |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for res in sorted({r["resolution"] for r in rows}, reverse=True):
    sides = {}
    for r in rows:
        if r["resolution"] != res:
            continue
        name = r["side"] + (" (concat trick)" if r.get("concat_trick") else "")
        sides.setdefault(name, []).append(r)
    med = {k: (statistics.median(x["forward_s"] for x in v), statistics.median(x["forward_backward_s"] for x in v), v[0]) for k, v in sides.items()}
    for name, (f, fb, r) in med.items():
        print(f"| {res}° | {r['mesh_level']} | {r['latent']} × {r['layers']} | {name} | {r['grid_to_mesh_edges']:,} / {r['mesh_to_grid_edges']:,} | {f:.3f} | {fb:.3f} |")
    peers = [v for k, v in med.items() if k.startswith("physicsnemo")]
    if not peers or "vejr" not in med:
        continue
    best_f = min(p[0] for p in peers)
    best_fb = min(p[1] for p in peers)
    v = med["vejr"]
    print(f"| {res}° | | | **vejr / fastest PhysicsNeMo** | | **{v[0] / best_f:.2f}** | **{v[1] / best_fb:.2f}** |")
print()
print("scatter in the peer:", rows[-1].get("scatter"), "; torch", rows[-1].get("torch"))
PY
echo "raw: $out"
