//! Graph network layers: MLPs and interaction networks (Battaglia et al. 2018) as GraphCast
//! uses them, on tensors laid out `[batch, nodes or edges, latent]`, and the gathers and
//! segment sums of message passing with backward passes planned from the graph.

pub mod aggregate;
mod autodiff_backend;
mod cpu_fused_kernels;
mod cpu_kernels;
#[cfg(any(feature = "wgpu", feature = "cuda"))]
pub mod cube_backend;
#[cfg(any(feature = "wgpu", feature = "cuda"))]
mod cube_kernels;
pub mod graph_backend;
pub mod interaction_network;
pub mod mlp;
mod ndarray_backend;
pub mod segments;

pub use graph_backend::{GraphAutodiffBackend, GraphBackend};
