#!/usr/bin/env bash
# Builds vejr and forecaster-timing with CUDA here and packs them, with every shared library
# they load that the GPU machine lacks (netCDF, HDF5, ecCodes, OpenMPI, OpenBLAS, ...), into
# target/gpu-bundle/ (the device tool carries at most 64 MiB). The GPU machine has the NVIDIA
# driver and NVRTC but no Rust toolchain and none of these libraries.
#
#   bash benches/gpu/bundle.sh            then, on the GPU machine: bash target/gpu-bundle/run.sh
#
# On a machine without a GPU, run.sh checks that the bundle starts and that --device cuda is
# refused with one line instead of a crash.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=target/gpu-bundle
cargo build --release --features cuda -p vejr-engine --bin vejr
cargo build --release --features cuda -p vejr-benches --bin forecaster-timing
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib" "$out/data"
cp target/release/vejr target/release/forecaster-timing "$out/bin/"
# Every library ldd resolves, except the C runtime the GPU machine's own glibc provides and
# the NVIDIA driver's (cudarc opens those at run time from the machine itself).
for bin in "$out"/bin/*; do
    ldd "$bin" | awk '/=> \//{print $3}'
done | sort -u | grep -Ev '/(libc|libm|libdl|libpthread|librt|ld-linux[^/]*|libgcc_s|libcuda|libnvrtc)\.so' |
    while read -r lib; do cp -L "$lib" "$out/lib/"; done
cp data-samples/forecaster-1cf96bd.vejr "$out/data/"
cp benches/gpu/run.sh "$out/run.sh"
strip "$out"/bin/* 2>/dev/null || true
du -sh "$out"
echo "bundle: $out ($(ls "$out/lib" | wc -l) libraries)"
