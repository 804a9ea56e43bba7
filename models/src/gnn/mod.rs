//! Graph network layers: MLPs and interaction networks (Battaglia et al. 2018) as GraphCast
//! uses them, on tensors laid out `[batch, nodes or edges, latent]`.

pub mod aggregate;
pub mod interaction_network;
pub mod mlp;
