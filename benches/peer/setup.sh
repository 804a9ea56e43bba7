#!/usr/bin/env bash
# The PyTorch peer for benches/peer/compare.sh: NVIDIA PhysicsNeMo's GraphCastNet in a venv
# from PyPI. Not part of `make test` (downloads ~3 GB).
#
#   bash benches/peer/setup.sh [VENV]        VENV defaults to target/peer-venv
#
# torch_scatter (which physicsnemo's PyG path imports for its aggregation) has no wheel on PyPI
# and builds from source in about 40 minutes on two cores: set PEER_TORCH_SCATTER=build for
# that. Otherwise compare.py stands in torch's own index_add_ (what torch_scatter's sum does,
# and what PyG itself falls back to) and says so in its report.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=${1:-target/peer-venv}
python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q torch nvidia-physicsnemo torch_geometric scipy scikit-learn numpy
if [ "${PEER_TORCH_SCATTER:-}" = build ]; then
    MAX_JOBS=2 "$venv/bin/pip" install -q --no-build-isolation torch_scatter torch_sparse
fi
"$venv/bin/python" -c 'import torch, physicsnemo; print("peer ready: torch", torch.__version__, "physicsnemo", physicsnemo.__version__)'
