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
/// gradients avoid serial scatter kernels, and SiLU and LayerNorm as single operations (one
/// node in the autodiff graph each, with their backward passes written out). The provided
/// methods compose Burn's operations; backends override them with kernels of their own.
pub trait GraphBackend: Backend {
    /// `values [batch, sources, latent]` → `[batch, gathered, latent]`.
    fn gather_rows(values: FloatTensor<Self>, gather: &Gather<Self>) -> FloatTensor<Self> {
        composed::gather_rows::<Self>(values, gather)
    }

    /// `base [batch, edges, latent]` plus the gathered rows of `from` and `to`: the first layer
    /// of an edge MLP from its edge, sender and receiver parts, without the gathered
    /// intermediates.
    fn gather_add(
        base: FloatTensor<Self>,
        from: FloatTensor<Self>,
        senders: &Gather<Self>,
        to: FloatTensor<Self>,
        receivers: &Gather<Self>,
    ) -> FloatTensor<Self> {
        composed::gather_add::<Self>(base, from, senders, to, receivers)
    }

    /// `values [batch, rows, latent]` → `[batch, segments, latent]`.
    fn sum_segments(values: FloatTensor<Self>, segments: &Segments<Self>) -> FloatTensor<Self> {
        composed::sum_segments::<Self>(values, segments)
    }

    /// x·σ(x).
    fn silu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        composed::silu::<Self>(x)
    }

    /// The gradient of [`Self::silu`] at `x`: `grad`·σ(x)·(1 + x·(1 − σ(x))).
    fn silu_backward(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        composed::silu_backward::<Self>(x, grad)
    }

    /// LayerNorm over the last dimension, as Burn computes it: (x − μ)/√(var + ε)·γ + β.
    fn layer_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        composed::layer_norm::<Self>(x, gamma, beta, epsilon)
    }

    /// `x [batch, rows, k] · weight [k, m] (+ bias [m])` → `[batch, rows, m]`.
    fn linear(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: Option<FloatTensor<Self>>) -> FloatTensor<Self> {
        composed::linear::<Self>(x, weight, bias)
    }

    /// Gradients of [`Self::linear`] with respect to x, the weight and (when it has one) the bias.
    fn linear_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        bias: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, Option<FloatTensor<Self>>) {
        composed::linear_backward::<Self>(x, weight, grad, bias)
    }

    /// Gradients of [`Self::layer_norm`] with respect to x, γ and β.
    fn layer_norm_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        composed::layer_norm_backward::<Self>(x, gamma, grad, epsilon)
    }
}

/// The operations composed of Burn's own, for every backend (the defaults of
/// [`GraphBackend`]; public so tests can hold the CPU kernels against them).
pub mod composed {
    use super::*;

    pub fn gather_rows<B: Backend>(values: FloatTensor<B>, gather: &Gather<B>) -> FloatTensor<B> {
        wrap::<B>(values)
            .select(1, gather.index.clone())
            .into_primitive()
            .tensor()
    }

    pub fn gather_add<B: Backend>(
        base: FloatTensor<B>,
        from: FloatTensor<B>,
        senders: &Gather<B>,
        to: FloatTensor<B>,
        receivers: &Gather<B>,
    ) -> FloatTensor<B> {
        (wrap::<B>(base) + wrap::<B>(gather_rows::<B>(from, senders)) + wrap::<B>(gather_rows::<B>(to, receivers)))
            .into_primitive()
            .tensor()
    }

    pub fn sum_segments<B: Backend>(values: FloatTensor<B>, segments: &Segments<B>) -> FloatTensor<B> {
        segments.sum(wrap::<B>(values)).into_primitive().tensor()
    }

    pub fn silu<B: Backend>(x: FloatTensor<B>) -> FloatTensor<B> {
        crate::gnn::mlp::silu(wrap::<B>(x)).into_primitive().tensor()
    }

    pub fn silu_backward<B: Backend>(x: FloatTensor<B>, grad: FloatTensor<B>) -> FloatTensor<B> {
        let x = wrap::<B>(x);
        let sigma = (x.clone().neg().clamp_max(80.0).exp() + 1.0).recip();
        let slope = sigma.clone() * ((sigma.neg() + 1.0) * x + 1.0);
        (wrap::<B>(grad) * slope).into_primitive().tensor()
    }

    pub fn layer_norm<B: Backend>(
        x: FloatTensor<B>,
        gamma: FloatTensor<B>,
        beta: FloatTensor<B>,
        epsilon: f64,
    ) -> FloatTensor<B> {
        <B as burn::tensor::ops::ModuleOps<B>>::layer_norm(x, gamma, Some(beta), epsilon)
    }

    pub fn linear<B: Backend>(
        x: FloatTensor<B>,
        weight: FloatTensor<B>,
        bias: Option<FloatTensor<B>>,
    ) -> FloatTensor<B> {
        let y = wrap::<B>(x).matmul(Tensor::<B, 2>::from_primitive(TensorPrimitive::Float(weight)).unsqueeze_dim(0));
        match bias {
            Some(b) => (y + Tensor::<B, 1>::from_primitive(TensorPrimitive::Float(b))
                .unsqueeze_dim::<2>(0)
                .unsqueeze_dim(0))
            .into_primitive()
            .tensor(),
            None => y.into_primitive().tensor(),
        }
    }

    pub fn linear_backward<B: Backend>(
        x: FloatTensor<B>,
        weight: FloatTensor<B>,
        grad: FloatTensor<B>,
        bias: bool,
    ) -> (FloatTensor<B>, FloatTensor<B>, Option<FloatTensor<B>>) {
        let x = wrap::<B>(x);
        let [batch, rows, k] = x.dims();
        let grad = wrap::<B>(grad);
        let m = grad.dims()[2];
        let w = Tensor::<B, 2>::from_primitive(TensorPrimitive::Float(weight));
        let dx = grad.clone().matmul(w.transpose().unsqueeze_dim(0));
        let x2 = x.reshape([batch * rows, k]);
        let g2 = grad.reshape([batch * rows, m]);
        let dw = x2.transpose().matmul(g2.clone());
        let db = bias.then(|| g2.sum_dim(0).reshape([m]).into_primitive().tensor());
        (dx.into_primitive().tensor(), dw.into_primitive().tensor(), db)
    }

    pub fn layer_norm_backward<B: Backend>(
        x: FloatTensor<B>,
        gamma: FloatTensor<B>,
        grad: FloatTensor<B>,
        epsilon: f64,
    ) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
        let x = wrap::<B>(x);
        let latent = x.dims()[2];
        let gamma = Tensor::<B, 1>::from_primitive(TensorPrimitive::Float(gamma)).reshape([1, 1, latent]);
        let grad = wrap::<B>(grad);
        let mean = x.clone().mean_dim(2);
        let centered = x - mean;
        let rstd = (centered.clone().powi_scalar(2).mean_dim(2) + epsilon).sqrt().recip();
        let xhat = centered * rstd.clone();
        let gg = grad.clone() * gamma;
        let dx = rstd * (gg.clone() - gg.clone().mean_dim(2) - xhat.clone() * (gg * xhat.clone()).mean_dim(2));
        let dgamma = (grad.clone() * xhat).sum_dim(1).sum_dim(0).reshape([latent]);
        let dbeta = grad.sum_dim(1).sum_dim(0).reshape([latent]);
        (
            dx.into_primitive().tensor(),
            dgamma.into_primitive().tensor(),
            dbeta.into_primitive().tensor(),
        )
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

/// Dispatches an ndarray float tensor (or several of one float type) to a kernel generic over
/// the element type; `$arr` are bound to the arrays.
macro_rules! on_floats {
    (($($t:expr => $arr:ident),+), $body:expr) => {{
        use super::cpu_kernels::Values;
        #[allow(unused_parens)]
        let result = match ($(super::cpu_kernels::values($t)),+) {
            ($(Some(Values::F32($arr))),+) => $body,
            ($(Some(Values::F64($arr))),+) => $body,
            _ => unreachable!("ndarray float tensors of one operation share f32 or f64"),
        };
        result
    }};
}

use super::cpu_kernels::{self as kernels, row_major, tensor};

impl<E, I, Q> GraphBackend for burn::backend::NdArray<E, I, Q>
where
    E: burn::backend::ndarray::FloatNdArrayElement,
    I: burn::backend::ndarray::IntNdArrayElement,
    Q: burn::backend::ndarray::QuantElement,
    burn::backend::ndarray::NdArrayTensor: From<burn::backend::ndarray::SharedArray<E>>,
    burn::backend::ndarray::NdArrayTensor: From<burn::backend::ndarray::SharedArray<I>>,
{
    fn gather_rows(values: FloatTensor<Self>, gather: &Gather<Self>) -> FloatTensor<Self> {
        let index = &gather.adjoint.host.segment_of_row;
        on_floats!((values => x), {
            let (out, shape) = kernels::gather_rows(&row_major(&x), x.shape(), index);
            tensor(out, &shape).into()
        })
    }

    fn gather_add(
        base: FloatTensor<Self>,
        from: FloatTensor<Self>,
        senders: &Gather<Self>,
        to: FloatTensor<Self>,
        receivers: &Gather<Self>,
    ) -> FloatTensor<Self> {
        let (s, r) = (
            &senders.adjoint.host.segment_of_row,
            &receivers.adjoint.host.segment_of_row,
        );
        on_floats!((base => b, from => f, to => t), {
            let out = kernels::gather_add(&row_major(&b), b.shape(), &row_major(&f), f.shape()[1], s, &row_major(&t), t.shape()[1], r);
            tensor(out, b.shape()).into()
        })
    }

    fn sum_segments(values: FloatTensor<Self>, segments: &Segments<Self>) -> FloatTensor<Self> {
        let plan = &segments.host;
        on_floats!((values => x), {
            let (out, shape) = kernels::sum_segments(&row_major(&x), x.shape(), &plan.offsets, &plan.rows_by_segment);
            tensor(out, &shape).into()
        })
    }

    fn silu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        on_floats!((x => x), tensor(kernels::silu(&row_major(&x)), x.shape()).into())
    }

    fn silu_backward(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        on_floats!((x => x, grad => g), {
            tensor(kernels::silu_backward(&row_major(&x), &row_major(&g)), x.shape()).into()
        })
    }

    fn layer_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        on_floats!((x => x, gamma => g, beta => b), {
            let latent = *x.shape().last().expect("a tensor has a last dimension");
            let eps = num_traits::cast(epsilon).expect("epsilon is a float");
            tensor(kernels::layer_norm(&row_major(&x), latent, &row_major(&g), Some(&row_major(&b)), eps), x.shape()).into()
        })
    }

    fn layer_norm_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        on_floats!((x => x, gamma => g, grad => d), {
            let latent = *x.shape().last().expect("a tensor has a last dimension");
            let eps = num_traits::cast(epsilon).expect("epsilon is a float");
            let (dx, dg, db) = kernels::layer_norm_backward(&row_major(&x), latent, &row_major(&g), &row_major(&d), eps);
            (tensor(dx, x.shape()).into(), tensor(dg, &[latent]).into(), tensor(db, &[latent]).into())
        })
    }

    fn linear(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: Option<FloatTensor<Self>>) -> FloatTensor<Self> {
        match bias {
            Some(bias) => on_floats!((x => x, weight => w, bias => b), {
                let (shape, rows, k, m) = linear_dims(x.shape(), w.shape());
                tensor(kernels::linear(&row_major(&x), rows, &row_major(&w), k, m, Some(&row_major(&b))), &shape).into()
            }),
            None => on_floats!((x => x, weight => w), {
                let (shape, rows, k, m) = linear_dims(x.shape(), w.shape());
                tensor(kernels::linear(&row_major(&x), rows, &row_major(&w), k, m, None), &shape).into()
            }),
        }
    }

    fn linear_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        bias: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, Option<FloatTensor<Self>>) {
        on_floats!((x => x, weight => w, grad => g), {
            let (_, rows, k, m) = linear_dims(x.shape(), w.shape());
            let (dx, dw, db) = kernels::linear_backward(&row_major(&x), rows, &row_major(&w), k, m, &row_major(&g), bias);
            (
                tensor(dx, x.shape()).into(),
                tensor(dw, &[k, m]).into(),
                db.map(|db| tensor(db, &[m]).into()),
            )
        })
    }
}

/// Output shape, rows, inputs and outputs of `x [.., k] · w [k, m]`.
fn linear_dims(x: &[usize], w: &[usize]) -> (Vec<usize>, usize, usize, usize) {
    let (k, m) = (w[0], w[1]);
    let mut shape = x.to_vec();
    *shape.last_mut().expect("x has a last dimension") = m;
    (shape, x.iter().product::<usize>() / k, k, m)
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
struct GatherAddBackward;

impl<B: GraphBackend> Backward<B, 3> for GatherAddBackward {
    type State = (Segments<B>, Segments<B>);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        _checkpointer: &mut burn::backend::autodiff::checkpoint::base::Checkpointer,
    ) {
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

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut burn::backend::autodiff::checkpoint::base::Checkpointer,
    ) {
        let gather = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| B::gather_rows(grad, &gather));
    }
}

#[derive(Debug)]
struct SiluBackward;

impl<B: GraphBackend> Backward<B, 1> for SiluBackward {
    type State = FloatTensor<B>;

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut burn::backend::autodiff::checkpoint::base::Checkpointer,
    ) {
        let x = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| B::silu_backward(x, grad));
    }
}

#[derive(Debug)]
struct LinearBackward;

impl<B: GraphBackend> Backward<B, 3> for LinearBackward {
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        _checkpointer: &mut burn::backend::autodiff::checkpoint::base::Checkpointer,
    ) {
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

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        _checkpointer: &mut burn::backend::autodiff::checkpoint::base::Checkpointer,
    ) {
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

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        _checkpointer: &mut burn::backend::autodiff::checkpoint::base::Checkpointer,
    ) {
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

/// `values [batch, sources, latent]` gathered at `gather`'s rows.
pub fn gather_rows<B: GraphBackend>(values: Tensor<B, 3>, gather: &Gather<B>) -> Tensor<B, 3> {
    wrap::<B>(B::gather_rows(values.into_primitive().tensor(), gather))
}

/// `x [batch, rows, k] · weight [k, m] (+ bias [m])` as one operation.
pub fn linear<B: GraphBackend>(x: Tensor<B, 3>, weight: Tensor<B, 2>, bias: Option<Tensor<B, 1>>) -> Tensor<B, 3> {
    wrap::<B>(<B as GraphBackend>::linear(
        x.into_primitive().tensor(),
        weight.into_primitive().tensor(),
        bias.map(|b| b.into_primitive().tensor()),
    ))
}

/// x·σ(x) as one operation.
pub fn silu<B: GraphBackend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(B::silu(x.into_primitive().tensor())))
}

/// LayerNorm over the last dimension of `x [batch, rows, latent]` as one operation.
pub fn layer_norm<B: GraphBackend>(
    x: Tensor<B, 3>,
    gamma: Tensor<B, 1>,
    beta: Tensor<B, 1>,
    epsilon: f64,
) -> Tensor<B, 3> {
    wrap::<B>(<B as GraphBackend>::layer_norm(
        x.into_primitive().tensor(),
        gamma.into_primitive().tensor(),
        beta.into_primitive().tensor(),
        epsilon,
    ))
}

/// `base + from[senders] + to[receivers]` as one operation.
pub fn gather_add<B: GraphBackend>(
    base: Tensor<B, 3>,
    from: Tensor<B, 3>,
    senders: &Gather<B>,
    to: Tensor<B, 3>,
    receivers: &Gather<B>,
) -> Tensor<B, 3> {
    wrap::<B>(B::gather_add(
        base.into_primitive().tensor(),
        from.into_primitive().tensor(),
        senders,
        to.into_primitive().tensor(),
        receivers,
    ))
}

/// `values [batch, rows, latent]` summed into `segments`.
pub fn sum_segments<B: GraphBackend>(values: Tensor<B, 3>, segments: &Segments<B>) -> Tensor<B, 3> {
    wrap::<B>(B::sum_segments(values.into_primitive().tensor(), segments))
}
