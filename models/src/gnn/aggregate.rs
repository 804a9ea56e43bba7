//! Message aggregation: the sum of edge messages at their receivers.
//!
//! Kept behind this one function (DESIGN.md). It is the adjoint of the receiver gather, planned
//! once per graph ([`super::segments`]): fixed-degree reshapes where every receiver has the same
//! number of consecutive edges, exact-degree buckets elsewhere, never a serial scatter.

use burn::tensor::Tensor;

use super::graph_backend::{GraphBackend, sum_segments};
use super::interaction_network::EdgeIndex;

/// `messages [batch, edges, latent]` → `[batch, receivers, latent]`.
pub fn sum_at_receivers<B: GraphBackend>(messages: Tensor<B, 3>, index: &EdgeIndex<B>) -> Tensor<B, 3> {
    sum_segments(messages, &index.receivers.adjoint)
}

/// Burn's scatter-add (`select_assign`), the reference the planned sums are tested against.
pub fn sum_at_receivers_by_scatter<B: burn::tensor::backend::Backend>(
    messages: Tensor<B, 3>,
    receivers: Tensor<B, 1, burn::tensor::Int>,
    num_receivers: usize,
) -> Tensor<B, 3> {
    let [batch, _, latent] = messages.dims();
    let zeros = Tensor::zeros([batch, num_receivers, latent], (&messages.device(), messages.dtype()));
    zeros.select_assign(1, receivers, messages, burn::tensor::IndexingUpdateOp::Add)
}
