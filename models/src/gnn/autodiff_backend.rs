//! The autodiff backend's [`GraphBackend`]: each operation one node of the autodiff graph,
//! its backward pass written out (the gradient of a gather is a planned segment sum, that of a
//! segment sum a gather), computed by the inner backend's own operations.

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{Int, Tensor};

use super::graph_backend::GraphBackend;
use super::segments::{Gather, Segments};

/// Integer tensors of the autodiff backend are those of its inner backend.
fn inner_int<B: Backend, C: CheckpointStrategy>(t: Tensor<Autodiff<B, C>, 1, Int>) -> Tensor<B, 1, Int> {
    Tensor::from_primitive(t.into_primitive())
}

#[derive(Debug)]
struct GatherRowsBackward;

impl<B: GraphBackend> Backward<B, 1> for GatherRowsBackward {
    type State = Segments<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let adjoint = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| B::sum_segments(grad, &adjoint));
    }
}

#[derive(Debug)]
struct GatherAddBackward;

impl<B: GraphBackend> Backward<B, 3> for GatherAddBackward {
    type State = (Segments<B>, Segments<B>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let (by_sender, by_receiver) = ops.state;
        let [node_base, node_from, node_to] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        if let Some(node) = node_from {
            grads.register::<B>(node.id, B::sum_segments(grad.clone(), &by_sender));
        }
        if let Some(node) = node_to {
            grads.register::<B>(node.id, B::sum_segments(grad.clone(), &by_receiver));
        }
        if let Some(node) = node_base {
            grads.register::<B>(node.id, grad);
        }
    }
}

#[derive(Debug)]
struct SumSegmentsBackward;

impl<B: GraphBackend> Backward<B, 1> for SumSegmentsBackward {
    /// The gradient of every row is that of its segment: a gather.
    type State = Gather<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let gather = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| B::gather_rows(grad, &gather));
    }
}

#[derive(Debug)]
struct SiluBackward;

impl<B: GraphBackend> Backward<B, 1> for SiluBackward {
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let x = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| B::silu_backward(x, grad));
    }
}

#[derive(Debug)]
struct LinearBackward;

impl<B: GraphBackend> Backward<B, 3> for LinearBackward {
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let (x, weight) = ops.state;
        let [node_x, node_w, node_b] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (dx, dw, db) = <B as GraphBackend>::linear_backward(x, weight, grad, node_b.is_some());
        for (node, g) in [(node_x, Some(dx)), (node_w, Some(dw)), (node_b, db)] {
            if let (Some(node), Some(g)) = (node, g) {
                grads.register::<B>(node.id, g);
            }
        }
    }
}

#[derive(Debug)]
struct LinearNoBiasBackward;

impl<B: GraphBackend> Backward<B, 2> for LinearNoBiasBackward {
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let (x, weight) = ops.state;
        let [node_x, node_w] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (dx, dw, _) = <B as GraphBackend>::linear_backward(x, weight, grad, false);
        for (node, g) in [(node_x, dx), (node_w, dw)] {
            if let Some(node) = node {
                grads.register::<B>(node.id, g);
            }
        }
    }
}

#[derive(Debug)]
struct LayerNormBackward;

impl<B: GraphBackend> Backward<B, 3> for LayerNormBackward {
    type State = (FloatTensor<B>, FloatTensor<B>, f64);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let (x, gamma, epsilon) = ops.state;
        let [node_x, node_gamma, node_beta] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (dx, dgamma, dbeta) = <B as GraphBackend>::layer_norm_backward(x, gamma, grad, epsilon);
        for (node, g) in [(node_x, dx), (node_gamma, dgamma), (node_beta, dbeta)] {
            if let Some(node) = node {
                grads.register::<B>(node.id, g);
            }
        }
    }
}

impl<B: GraphBackend, C: CheckpointStrategy> GraphBackend for Autodiff<B, C> {
    const CSR_SEGMENTS: bool = B::CSR_SEGMENTS;

    fn max_tensor_bytes(device: &Self::Device) -> Option<u64> {
        B::max_tensor_bytes(device)
    }

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

    fn gather_add(
        base: FloatTensor<Self>,
        from: FloatTensor<Self>,
        senders: &Gather<Self>,
        to: FloatTensor<Self>,
        receivers: &Gather<Self>,
    ) -> FloatTensor<Self> {
        let (senders, receivers) = (senders.map(&inner_int::<B, C>), receivers.map(&inner_int::<B, C>));
        let output = B::gather_add(
            base.primitive.clone(),
            from.primitive.clone(),
            &senders,
            to.primitive.clone(),
            &receivers,
        );
        match GatherAddBackward
            .prepare::<C>([base.node.clone(), from.node.clone(), to.node.clone()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish((senders.adjoint, receivers.adjoint), output),
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
            OpsKind::Tracked(prep) => prep.finish(Gather::of_segments(&segments), output),
            OpsKind::UnTracked(prep) => prep.finish(output),
        }
    }

    fn linear(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: Option<FloatTensor<Self>>) -> FloatTensor<Self> {
        let output = <B as GraphBackend>::linear(
            x.primitive.clone(),
            weight.primitive.clone(),
            bias.as_ref().map(|b| b.primitive.clone()),
        );
        match bias {
            Some(bias) => match LinearBackward
                .prepare::<C>([x.node.clone(), weight.node.clone(), bias.node.clone()])
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => prep.finish((x.primitive, weight.primitive), output),
                OpsKind::UnTracked(prep) => prep.finish(output),
            },
            None => match LinearNoBiasBackward
                .prepare::<C>([x.node.clone(), weight.node.clone()])
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => prep.finish((x.primitive, weight.primitive), output),
                OpsKind::UnTracked(prep) => prep.finish(output),
            },
        }
    }

    fn silu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let output = B::silu(x.primitive.clone());
        match SiluBackward.prepare::<C>([x.node.clone()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish(x.primitive, output),
            OpsKind::UnTracked(prep) => prep.finish(output),
        }
    }

    fn layer_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        let output = <B as GraphBackend>::layer_norm(
            x.primitive.clone(),
            gamma.primitive.clone(),
            beta.primitive.clone(),
            epsilon,
        );
        match LayerNormBackward
            .prepare::<C>([x.node.clone(), gamma.node.clone(), beta.node.clone()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish((x.primitive, gamma.primitive, epsilon), output),
            OpsKind::UnTracked(prep) => prep.finish(output),
        }
    }
}
