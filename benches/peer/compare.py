"""The PyTorch peer's side of benches/peer/compare.sh: NVIDIA PhysicsNeMo's GraphCastNet (PyG
backend) on exactly vejr's grid, timed like benches/src/bin/forecaster-timing.rs; one JSON line.

PhysicsNeMo builds its graph on its own grid (latitudes -90..90 with the poles, longitudes
-180..180); the graph is rebuilt here with its own Graph class on vejr's latitudes and
longitudes, so both sides see the same grid points (each side connects them to its mesh by its
own rule; both counts are reported)."""

import argparse
import importlib.machinery
import json
import statistics
import sys
import time
import types

import torch

parser = argparse.ArgumentParser()
parser.add_argument("--resolution", type=float, required=True)
parser.add_argument("--level", type=int, required=True)
parser.add_argument("--latent", type=int, default=64)
parser.add_argument("--layers", type=int, default=4, help="message-passing layers on the mesh")
parser.add_argument("--input-width", type=int, required=True)
parser.add_argument("--output-width", type=int, default=13)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--repeats", type=int, default=5)
parser.add_argument("--concat-trick", type=int, default=0)
parser.add_argument("--device", default="cpu", help="cpu or cuda")
args = parser.parse_args()

# Where physicsnemo's optional backends are absent (the GPU machine's image: NVIDIA Warp is
# ~400 MB, s3fs pulls botocore), a stand-in that accepts any use lets its package import (warp
# kernels are declared at import time); GraphCastNet calls neither.
class _Absent(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self

    def __call__(self, *args, **kwargs):
        return args[0] if len(args) == 1 and callable(args[0]) and not kwargs else self

    def __getitem__(self, key):
        return self

    def __mro_entries__(self, bases):
        return (object,)

    def __or__(self, other):
        return self

    __ror__ = __or__


class _AbsentFinder:
    """Answers `import warp.optim.linear` and the like with stand-ins once warp is missing."""

    roots = set()

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.roots:
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        return _Absent(spec.name)

    def exec_module(self, module):
        module.__path__ = []


for _name in ("warp", "s3fs"):
    try:
        __import__(_name)
    except ImportError:
        _AbsentFinder.roots.add(_name)
if _AbsentFinder.roots:
    sys.meta_path.insert(0, _AbsentFinder())

scatter_impl = "torch_scatter"
try:
    import torch_scatter  # noqa: F401
except ImportError:
    # torch_scatter has no wheel on PyPI; its sum is torch's index_add_ (as in PyG's fallback).
    scatter_impl = "torch index_add_ (torch_scatter not installed)"

    def scatter(src, index, dim=0, out=None, dim_size=None, reduce="sum"):
        if reduce not in ("sum", "add"):
            raise NotImplementedError(reduce)
        size = list(src.shape)
        size[dim] = dim_size if dim_size is not None else int(index.max()) + 1
        return torch.zeros(size, dtype=src.dtype, device=src.device).index_add_(dim, index, src)

    sys.modules["torch_scatter"] = types.SimpleNamespace(scatter=scatter, scatter_add=scatter)

# torch_sparse (no PyPI wheel either) is used by PhysicsNeMo's graph backend only for the k-hop
# masks of its graph-transformer processor; the message-passing GraphCast never calls it. Its
# package gates check installed versions (importlib.metadata), so the stand-ins are declared
# there too, before physicsnemo is imported.
try:
    import torch_sparse  # noqa: F401
except ImportError:
    scatter_impl += "; torch_sparse stood in (unused by the message-passing processor)"
    sys.modules["torch_sparse"] = types.SimpleNamespace(SparseTensor=None)
import importlib.metadata as metadata  # noqa: E402

_version = metadata.version


def _stand_in_version(name):
    if name.replace("-", "_") in ("torch_scatter", "torch_sparse") and isinstance(
        sys.modules.get(name.replace("-", "_")), types.SimpleNamespace
    ):
        return "2.1.2"
    return _version(name)


metadata.version = _stand_in_version

import warnings

warnings.filterwarnings("ignore")
import physicsnemo.models.graphcast.graph_cast_net as graph_cast_net  # noqa: E402
import physicsnemo.models.graphcast.utils.graph as graph_module  # noqa: E402

GraphCastNet = graph_cast_net.GraphCastNet
Graph = graph_module.Graph

torch.set_num_threads(args.threads)
torch.manual_seed(0)

# vejr's grids (benches/src/lib.rs): north→south, longitudes from 0°; poles below 5°.
res = args.resolution
poles = res < 5.0
rows = round(180.0 / res) + (1 if poles else 0)
first = 90.0 if poles else 90.0 - res / 2
lats = torch.tensor([first - i * res for i in range(rows)], dtype=torch.float32)
lons = torch.tensor([j * res for j in range(round(360.0 / res))], dtype=torch.float32)
grid = torch.stack(torch.meshgrid(lats, lons, indexing="ij"), dim=-1)

# PhysicsNeMo counts the processor's first and last layers in processor_layers.
model = GraphCastNet(
    mesh_level=args.level,
    input_res=(4, 8),
    input_dim_grid_nodes=args.input_width,
    output_dim_grid_nodes=args.output_width,
    processor_layers=args.layers,
    hidden_dim=args.latent,
    do_concat_trick=bool(args.concat_trick),
    graph_backend="pyg",
)
graph = Graph(grid, args.level, True, 0, backend="pyg")
model.graph = graph
model.mesh_graph, model.attn_mask = graph.create_mesh_graph(verbose=False)
model.g2m_graph = graph.create_g2m_graph(verbose=False)
model.m2g_graph = graph.create_m2g_graph(verbose=False)
model.g2m_edata = model.g2m_graph.edge_attr
model.m2g_edata = model.m2g_graph.edge_attr
model.mesh_ndata = model.mesh_graph.x
model.mesh_edata = model.mesh_graph.edge_attr
model.input_res = (len(lats), len(lons))
model.lat_lon_grid = grid

device = torch.device(args.device)
model = model.to(device)
for name in ("g2m_graph", "m2g_graph", "mesh_graph", "g2m_edata", "m2g_edata", "mesh_ndata", "mesh_edata", "lat_lon_grid"):
    setattr(model, name, getattr(model, name).to(device))
x = (torch.rand(1, args.input_width, len(lats), len(lons)) * 2 - 1).to(device)
sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def timed(fn):
    out = []
    for i in range(args.repeats + 1):
        t = time.perf_counter()
        fn()
        sync()
        if i > 0:
            out.append(time.perf_counter() - t)
    return statistics.median(out)


def forward():
    with torch.no_grad():
        model(x)


def forward_backward():
    model.zero_grad(set_to_none=True)
    loss = model(x).pow(2).mean()
    loss.backward()


y = forward_backward()
print(
    json.dumps(
        {
            "side": "physicsnemo",
            "resolution": res,
            "mesh_level": args.level,
            "latent": args.latent,
            "layers": args.layers,
            "concat_trick": bool(args.concat_trick),
            "grid_points": len(lats) * len(lons),
            "mesh_nodes": int(model.mesh_ndata.shape[0]),
            "mesh_edges": int(model.mesh_edata.shape[0]),
            "grid_to_mesh_edges": int(model.g2m_edata.shape[0]),
            "mesh_to_grid_edges": int(model.m2g_edata.shape[0]),
            "input_width": args.input_width,
            "forward_s": round(timed(forward), 4),
            "forward_backward_s": round(timed(forward_backward), 4),
            "torch": torch.__version__,
            "scatter": scatter_impl,
            "threads": torch.get_num_threads(),
            "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        }
    )
)
