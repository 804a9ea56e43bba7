#!/usr/bin/env bash
# Builds vejr and forecaster-timing with CUDA here and packs them, with every shared library
# they load that the GPU machine lacks (netCDF, HDF5, ecCodes, OpenMPI, OpenBLAS, ...), into
# target/gpu-bundle/ (the device tool carries at most 64 MiB). The GPU machine has the NVIDIA
# driver and NVRTC but no Rust toolchain and none of these libraries.
#
#   bash benches/gpu/bundle.sh     then, on the GPU machine (carrying target/gpu-bundle.tar.xz):
#                                  tar xJf target/gpu-bundle.tar.xz -C /tmp && bash /tmp/gpu-bundle/run.sh
#
# PROFILE=dev builds with the dev profile (opt-level 2 everywhere in this workspace; shares
# most of its build with `make test`), the default is release.
#
# On a machine without a GPU, run.sh checks that the bundle starts and that --device cuda is
# refused with one line instead of a crash.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=target/gpu-bundle
profile=${PROFILE:-release}
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
cargo build --profile "$profile" --features cuda -p vejr-engine --bin vejr
cargo build --profile "$profile" --features cuda -p vejr-benches --bin forecaster-timing
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib" "$out/data"
cp "target/$dir/vejr" "target/$dir/forecaster-timing" "$out/bin/"
# Every library ldd resolves, except the C runtime the GPU machine's own glibc provides and
# the NVIDIA driver's (cudarc opens those at run time from the machine itself).
for bin in "$out"/bin/*; do
    ldd "$bin" | awk '/=> \//{print $3}'
done | sort -u | grep -Ev '/(libc|libm|libdl|libpthread|librt|ld-linux[^/]*|libgcc_s|libcuda|libnvrtc)\.so' |
    while read -r lib; do cp -L "$lib" "$out/lib/"; done
cp data-samples/forecaster-1cf96bd.vejr "$out/data/"
# udunits2's database (vejr converts units through it; run.sh points UDUNITS2_XML_PATH here).
cp -r /usr/share/xml/udunits "$out/data/udunits"
cp benches/gpu/run.sh "$out/run.sh"
strip "$out"/bin/* 2>/dev/null || true
# The device tool carries at most 64 MiB: OpenBLAS and ICU's data alone are 65 MB unpacked.
tar cJf "$out.tar.xz" -C target gpu-bundle
echo "bundle: $out.tar.xz ($(du -h "$out.tar.xz" | cut -f1), $(ls "$out/lib" | wc -l) libraries)"
echo "on the GPU machine: tar xJf $out.tar.xz -C /tmp && bash /tmp/gpu-bundle/run.sh"
