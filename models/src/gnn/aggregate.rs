//! Message aggregation: the sum of edge messages at their receivers.
//!
//! Kept behind this one function (DESIGN.md): Burn 0.21's CUDA `select_assign` loops serially
//! over the scattered dimension, so the GPU path will want a receiver-sorted segment sum here
//! (edges are sorted by receiver) without the layers noticing.

use burn::tensor::backend::Backend;
use burn::tensor::{IndexingUpdateOp, Int, Tensor};

/// `messages [batch, edges, latent]`, `receivers [edges]` → `[batch, num_receivers, latent]`.
pub fn sum_at_receivers<B: Backend>(
    messages: Tensor<B, 3>,
    receivers: Tensor<B, 1, Int>,
    num_receivers: usize,
) -> Tensor<B, 3> {
    let [batch, _, latent] = messages.dims();
    let zeros = Tensor::zeros([batch, num_receivers, latent], (&messages.device(), messages.dtype()));
    zeros.select_assign(1, receivers, messages, IndexingUpdateOp::Add)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use burn::tensor::TensorData;

    #[test]
    fn sums_messages_at_each_receiver() {
        let device = Default::default();
        let messages =
            Tensor::<NdArray, 3>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [1, 4, 1]), &device);
        let receivers = Tensor::<NdArray, 1, Int>::from_data(TensorData::new(vec![0i64, 2, 0, 2], [4]), &device);
        let out = sum_at_receivers(messages, receivers, 3);
        assert_eq!(out.into_data().to_vec::<f32>().unwrap(), vec![4.0, 0.0, 6.0]);
    }
}
