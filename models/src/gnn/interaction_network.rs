//! One round of message passing on a (possibly bipartite) graph:
//! edges ← MLP([edge, sender, receiver]) + edge; receivers ← MLP([receiver, Σ edges]) + receiver.
//!
//! Written as GraphCast and PhysicsNeMo run it: the first layer of each MLP is applied to its
//! input's parts separately and summed, the sender and receiver parts on the node latents
//! before they are gathered to the edges (nodes are far fewer than edges), so no edge-sized
//! concatenation is built and a third of the edge MLP's work is done per node instead.
//! The parameters keep the layout of the concatenated input: the network is the same function.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::Tensor;

use super::aggregate::sum_at_receivers;
use super::graph_backend::GraphBackend;
use super::mlp::{Mlp, MlpConfig};
use super::segments::Gather;

#[derive(Config, Debug)]
pub struct InteractionNetworkConfig {
    pub latent: usize,
}

#[derive(Module, Debug)]
pub struct InteractionNetwork<B: GraphBackend> {
    edge_mlp: Mlp<B>,
    node_mlp: Mlp<B>,
}

/// Edge index tensors of one edge set, on the device, with the plans of their adjoints.
#[derive(Clone, Debug)]
pub struct EdgeIndex<B: GraphBackend> {
    /// Gathers sender rows to the edges; its adjoint sums edge gradients onto the senders.
    pub senders: Gather<B>,
    /// Gathers receiver rows to the edges; its adjoint is also the aggregation of messages.
    pub receivers: Gather<B>,
}

impl<B: GraphBackend> EdgeIndex<B> {
    pub fn new(
        senders: &[u32],
        receivers: &[u32],
        num_senders: usize,
        num_receivers: usize,
        device: &B::Device,
    ) -> Self {
        Self {
            senders: Gather::new(senders, num_senders, B::CSR_SEGMENTS, device),
            receivers: Gather::new(receivers, num_receivers, B::CSR_SEGMENTS, device),
        }
    }

    pub fn num_receivers(&self) -> usize {
        self.receivers.adjoint.segments
    }

    pub fn map<B2: GraphBackend>(
        &self,
        convert: &impl Fn(Tensor<B, 1, burn::tensor::Int>) -> Tensor<B2, 1, burn::tensor::Int>,
    ) -> EdgeIndex<B2> {
        EdgeIndex {
            senders: self.senders.map(convert),
            receivers: self.receivers.map(convert),
        }
    }
}

impl InteractionNetworkConfig {
    pub fn init<B: GraphBackend>(&self, device: &B::Device) -> InteractionNetwork<B> {
        let l = self.latent;
        InteractionNetwork {
            edge_mlp: MlpConfig::new(3 * l, l, l).init(device),
            node_mlp: MlpConfig::new(2 * l, l, l).init(device),
        }
    }
}

impl<B: GraphBackend> InteractionNetwork<B> {
    /// `senders [batch, S, L]`, `receivers [batch, R, L]`, `edges [batch, E, L]` →
    /// (updated receivers, updated edges).
    pub fn forward(
        &self,
        senders: Tensor<B, 3>,
        receivers: Tensor<B, 3>,
        edges: Tensor<B, 3>,
        index: &EdgeIndex<B>,
    ) -> (Tensor<B, 3>, Tensor<B, 3>) {
        let (from, to) = self.node_parts(senders, receivers.clone());
        let edges = self.messages(&from, &to, edges, index);
        let aggregated = sum_at_receivers(edges.clone(), index);
        (self.update_receivers(receivers, aggregated), edges)
    }

    /// The receivers' update alone, the edges given as receiver-disjoint chunks
    /// (`EdgeSet::receiver_chunks`), each embedded by `embed` from its features when its turn
    /// comes: no edge tensor larger than a chunk exists. The encoder and decoder, whose edge
    /// latents are not used again, run this way; with one chunk it is [`Self::forward`].
    pub fn forward_receivers(
        &self,
        senders: Tensor<B, 3>,
        receivers: Tensor<B, 3>,
        chunks: &[(EdgeIndex<B>, Tensor<B, 3>)],
        embed: impl Fn(&Tensor<B, 3>) -> Tensor<B, 3>,
    ) -> Tensor<B, 3> {
        let (from, to) = self.node_parts(senders, receivers.clone());
        // The chunks' receivers are disjoint: each sum adds zeros to the others' rows.
        let aggregated = chunks
            .iter()
            .map(|(index, features)| sum_at_receivers(self.messages(&from, &to, embed(features), index), index))
            .reduce(|a, b| a + b)
            .expect("an edge set has at least one chunk");
        self.update_receivers(receivers, aggregated)
    }

    /// The edge MLP's first layer on the sender and receiver latents, node-sized. The bias
    /// joins the receiver part while it is still node-sized.
    fn node_parts(&self, senders: Tensor<B, 3>, receivers: Tensor<B, 3>) -> (Tensor<B, 3>, Tensor<B, 3>) {
        let l = receivers.dims()[2];
        let from = self.edge_mlp.hidden_part(senders, l..2 * l, false);
        let to = self.edge_mlp.hidden_part(receivers, 2 * l..3 * l, true);
        (from, to)
    }

    /// Updated edges: MLP([edge, sender, receiver]) + edge.
    fn messages(
        &self,
        from: &Tensor<B, 3>,
        to: &Tensor<B, 3>,
        edges: Tensor<B, 3>,
        index: &EdgeIndex<B>,
    ) -> Tensor<B, 3> {
        let l = edges.dims()[2];
        let hidden = self.edge_mlp.hidden_part_gather_add(
            edges.clone(),
            0..l,
            from.clone(),
            &index.senders,
            to.clone(),
            &index.receivers,
        );
        self.edge_mlp.forward_from_hidden_plus(hidden, edges)
    }

    fn update_receivers(&self, receivers: Tensor<B, 3>, aggregated: Tensor<B, 3>) -> Tensor<B, 3> {
        let l = receivers.dims()[2];
        let hidden = self.node_mlp.hidden_part(receivers.clone(), 0..l, true)
            + self.node_mlp.hidden_part(aggregated, l..2 * l, false);
        self.node_mlp.forward_from_hidden_plus(hidden, receivers)
    }
}
