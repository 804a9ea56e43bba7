#!/usr/bin/env bash
# vejr against NVIDIA PhysicsNeMo's GraphCastNet (PyTorch, PyG backend) on the same CPU, the
# same grids and the same shape (latent 64, 4 message-passing layers on the mesh, 13 channels,
# batch 1), alternating the two sides ROUNDS times and reporting medians and ratios.
# Not part of `make test`: the peer's venv is ~3 GB (benches/peer/setup.sh).
#
#   bash benches/peer/compare.sh [ROUNDS=3]
#
# PEER_THREADS (2), PEER_REPEATS (5 timed runs per side and round, after one warm-up),
# PEER_VENV (target/peer-venv), PEER_CASES ("5.625:4 1:5", resolution:mesh level).
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
threads=${PEER_THREADS:-2}
repeats=${PEER_REPEATS:-5}
venv=${PEER_VENV:-target/peer-venv}
cases=${PEER_CASES:-5.625:4 1:5}

[ -x "$venv/bin/python" ] || bash benches/peer/setup.sh "$venv"
# The dev profile: every crate of this workspace is built at opt-level 2 (Cargo.toml), and a
# release build of Burn takes minutes more on two cores.
cargo build -q -p vejr-benches --bin forecaster-timing
export RAYON_NUM_THREADS=$threads MATMUL_NUM_THREADS=$threads OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads

mkdir -p target/peer
out=target/peer/compare-$(date -u +%Y%m%dT%H%M%S).jsonl
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$out.txt"
for case in $cases; do
    res=${case%:*}
    level=${case#*:}
    for round in $(seq "$rounds"); do
        target/debug/forecaster-timing "$res" "$level" 64 4 "$repeats" | tee -a "$out"
        width=$(tail -1 "$out" | python3 -c 'import json, sys; print(json.load(sys.stdin)["input_width"])')
        for trick in 0 1; do
            "$venv/bin/python" benches/peer/compare.py --resolution "$res" --level "$level" --latent 64 --layers 4 \
                --input-width "$width" --threads "$threads" --repeats "$repeats" --concat-trick "$trick" 2>/dev/null \
                | tail -1 | tee -a "$out"
        done
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out.txt"

python3 - "$out" <<'PY' | tee -a "$out.txt"
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
print("| grid | mesh | side | grid→mesh / mesh→grid edges | forward (s) | forward + backward (s) |")
print("| --- | --- | --- | --- | --- | --- |")
for res in sorted({r["resolution"] for r in rows}, reverse=True):
    sides = {}
    for r in rows:
        if r["resolution"] != res:
            continue
        name = r["side"] + (" (concat trick)" if r.get("concat_trick") else "")
        sides.setdefault(name, []).append(r)
    med = {k: (statistics.median(x["forward_s"] for x in v), statistics.median(x["forward_backward_s"] for x in v), v[0]) for k, v in sides.items()}
    for name, (f, fb, r) in med.items():
        print(f"| {res}° | {r['mesh_level']} | {name} | {r['grid_to_mesh_edges']:,} / {r['mesh_to_grid_edges']:,} | {f:.3f} | {fb:.3f} |")
    peers = [v for k, v in med.items() if k.startswith("physicsnemo")]
    best_f = min(p[0] for p in peers)
    best_fb = min(p[1] for p in peers)
    v = med["vejr"]
    print(f"| {res}° | | **vejr / fastest PhysicsNeMo** | | **{v[0] / best_f:.2f}** | **{v[1] / best_fb:.2f}** |")
print()
print("scatter in the peer:", rows[-1].get("scatter"), "; torch", rows[-1].get("torch"))
PY
echo "raw: $out"
