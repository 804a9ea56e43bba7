//! The two graph operations of message passing as backend operations, so that the autodiff
//! backend can give them the backward passes the graph's structure allows: the gradient of a
//! gather is a planned segment sum (not Burn's `select_assign`), the gradient of a segment sum
//! is a gather. The extension follows Burn's own pattern for custom operations (a trait over
//! `Backend`, implemented for the plain backends with the composed forward and for `Autodiff`
//! with a custom `Backward`).

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::ops::FloatTensor;
use burn::tensor::{Int, Tensor, TensorPrimitive};

use super::segments::{Gather, Segments};

fn wrap<B: Backend>(t: FloatTensor<B>) -> Tensor<B, 3> {
    Tensor::from_primitive(TensorPrimitive::Float(t))
}

/// A backend the forecaster runs on: Burn's backend plus gathers and segment sums whose
/// gradients avoid serial scatter kernels.
pub trait GraphBackend: Backend {
    /// `values [batch, sources, latent]` → `[batch, gathered, latent]`.
    fn gather_rows(values: FloatTensor<Self>, gather: &Gather<Self>) -> FloatTensor<Self> {
        wrap::<Self>(values)
            .select(1, gather.index.clone())
            .into_primitive()
            .tensor()
    }

    /// `values [batch, rows, latent]` → `[batch, segments, latent]`.
    fn sum_segments(values: FloatTensor<Self>, segments: &Segments<Self>) -> FloatTensor<Self> {
        segments.sum(wrap::<Self>(values)).into_primitive().tensor()
    }
}

/// An autodiff backend whose inner backend is a [`GraphBackend`] too (training evaluates
/// without autodiff on the inner backend).
pub trait GraphAutodiffBackend: GraphBackend + AutodiffBackend<InnerBackend: GraphBackend> {}

impl<B> GraphAutodiffBackend for B
where
    B: GraphBackend + AutodiffBackend,
    B::InnerBackend: GraphBackend,
{
}

impl<E, I, Q> GraphBackend for burn::backend::NdArray<E, I, Q>
where
    E: burn::backend::ndarray::FloatNdArrayElement,
    I: burn::backend::ndarray::IntNdArrayElement,
    Q: burn::backend::ndarray::QuantElement,
    burn::backend::ndarray::NdArrayTensor: From<burn::backend::ndarray::SharedArray<E>>,
    burn::backend::ndarray::NdArrayTensor: From<burn::backend::ndarray::SharedArray<I>>,
{
}

#[cfg(feature = "cuda")]
impl GraphBackend for burn::backend::Cuda<f32, i32> {}

#[cfg(feature = "cuda")]
impl GraphBackend for burn::backend::Cuda<burn::tensor::bf16, i32> {}

/// Integer tensors of the autodiff backend are those of its inner backend.
fn inner_int<B: Backend, C: CheckpointStrategy>(t: Tensor<Autodiff<B, C>, 1, Int>) -> Tensor<B, 1, Int> {
    Tensor::from_primitive(t.into_primitive())
}

#[derive(Debug)]
struct GatherRowsBackward;

impl<B: GraphBackend> Backward<B, 1> for GatherRowsBackward {
    type State = Segments<B>;

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut burn::backend::autodiff::checkpoint::base::Checkpointer,
    ) {
        let adjoint = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| B::sum_segments(grad, &adjoint));
    }
}

#[derive(Debug)]
struct SumSegmentsBackward;

impl<B: GraphBackend> Backward<B, 1> for SumSegmentsBackward {
    /// The segment of each row: the gradient of every row is that of its segment.
    type State = Tensor<B, 1, Int>;

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut burn::backend::autodiff::checkpoint::base::Checkpointer,
    ) {
        let segment_of_row = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| {
            wrap::<B>(grad).select(1, segment_of_row).into_primitive().tensor()
        });
    }
}

impl<B: GraphBackend, C: CheckpointStrategy> GraphBackend for Autodiff<B, C> {
    fn gather_rows(values: FloatTensor<Self>, gather: &Gather<Self>) -> FloatTensor<Self> {
        let gather = gather.map(&inner_int::<B, C>);
        let output = B::gather_rows(values.primitive.clone(), &gather);
        match GatherRowsBackward
            .prepare::<C>([values.node.clone()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(gather.adjoint, output),
            OpsKind::UnTracked(prep) => prep.finish(output),
        }
    }

    fn sum_segments(values: FloatTensor<Self>, segments: &Segments<Self>) -> FloatTensor<Self> {
        let segments = segments.map(&inner_int::<B, C>);
        let output = B::sum_segments(values.primitive.clone(), &segments);
        match SumSegmentsBackward
            .prepare::<C>([values.node.clone()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(segments.segment_of_row, output),
            OpsKind::UnTracked(prep) => prep.finish(output),
        }
    }
}

/// `values [batch, sources, latent]` gathered at `gather`'s rows.
pub fn gather_rows<B: GraphBackend>(values: Tensor<B, 3>, gather: &Gather<B>) -> Tensor<B, 3> {
    wrap::<B>(B::gather_rows(values.into_primitive().tensor(), gather))
}

/// `values [batch, rows, latent]` summed into `segments`.
pub fn sum_segments<B: GraphBackend>(values: Tensor<B, 3>, segments: &Segments<B>) -> Tensor<B, 3> {
    wrap::<B>(B::sum_segments(values.into_primitive().tensor(), segments))
}
