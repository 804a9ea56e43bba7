//! One round of message passing on a (possibly bipartite) graph:
//! edges ← MLP([edge, sender, receiver]) + edge; receivers ← MLP([receiver, Σ edges]) + receiver.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};

use super::aggregate::sum_at_receivers;
use super::mlp::{Mlp, MlpConfig};

#[derive(Config, Debug)]
pub struct InteractionNetworkConfig {
    pub latent: usize,
}

#[derive(Module, Debug)]
pub struct InteractionNetwork<B: Backend> {
    edge_mlp: Mlp<B>,
    node_mlp: Mlp<B>,
}

/// Edge index tensors of one edge set, on the device.
#[derive(Clone, Debug)]
pub struct EdgeIndex<B: Backend> {
    pub senders: Tensor<B, 1, Int>,
    pub receivers: Tensor<B, 1, Int>,
    pub num_receivers: usize,
}

impl InteractionNetworkConfig {
    pub fn init<B: Backend>(&self, device: &B::Device) -> InteractionNetwork<B> {
        let l = self.latent;
        InteractionNetwork {
            edge_mlp: MlpConfig::new(3 * l, l, l).init(device),
            node_mlp: MlpConfig::new(2 * l, l, l).init(device),
        }
    }
}

impl<B: Backend> InteractionNetwork<B> {
    /// `senders [batch, S, L]`, `receivers [batch, R, L]`, `edges [batch, E, L]` →
    /// (updated receivers, updated edges).
    pub fn forward(
        &self,
        senders: Tensor<B, 3>,
        receivers: Tensor<B, 3>,
        edges: Tensor<B, 3>,
        index: &EdgeIndex<B>,
    ) -> (Tensor<B, 3>, Tensor<B, 3>) {
        let from = senders.select(1, index.senders.clone());
        let to = receivers.clone().select(1, index.receivers.clone());
        let edges = self.edge_mlp.forward(Tensor::cat(vec![edges.clone(), from, to], 2)) + edges;
        let aggregated = sum_at_receivers(edges.clone(), index.receivers.clone(), index.num_receivers);
        let receivers = self
            .node_mlp
            .forward(Tensor::cat(vec![receivers.clone(), aggregated], 2))
            + receivers;
        (receivers, edges)
    }
}
