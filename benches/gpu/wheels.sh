#!/usr/bin/env bash
# Wheels for the GPU machine's peer run (benches/gpu/run.sh peer), into .whl/ (ignored by git;
# carried by the device tool). The machine's image has Python 3.12 with torch, torch_geometric
# and most of PhysicsNeMo's needs; what it lacks is fetched here for that Python. NVIDIA Warp
# (~400 MB) and s3fs (botocore) are left out: compare.py stands them in, GraphCastNet calls
# neither. antlr4-python3-runtime 4.9.3 (omegaconf's pin) has no wheel on PyPI, only a
# pure-Python sdist: it is packed into one from the peer venv (benches/peer/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf .whl
mkdir -p .whl .git/info
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo /.whl/ >>.git/info/exclude
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl nvidia-physicsnemo==2.2.2 tensordict==0.15.3 nvtx==0.2.17 termcolor==3.3.0 treelib==1.8.0 \
    omegaconf==2.3.1 hydra-core==1.3.8 lazy-importer==0.1.0 pyvers==0.2.3 importlib_metadata==10.2.0 \
    truststore==0.10.5
site=$(ls -d "${PEER_VENV:-target/peer-venv}"/lib/python3*/site-packages)
python3 - "$site" <<'PY'
import os, sys, zipfile
site = sys.argv[1]
name = "antlr4_python3_runtime-4.9.3"
with zipfile.ZipFile(f".whl/{name}-py3-none-any.whl", "w") as z:
    for root, _, files in os.walk(os.path.join(site, "antlr4")):
        for f in files:
            if not f.endswith(".pyc"):
                path = os.path.join(root, f)
                z.write(path, os.path.relpath(path, site))
    z.writestr(f"{name}.dist-info/METADATA", "Metadata-Version: 2.1\nName: antlr4-python3-runtime\nVersion: 4.9.3\n")
    z.writestr(f"{name}.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: vejr\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    z.writestr(f"{name}.dist-info/RECORD", "")
PY
du -sh .whl
