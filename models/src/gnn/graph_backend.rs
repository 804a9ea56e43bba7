//! The operations of message passing (row gathers, segment sums, SiLU, LayerNorm, linear
//! layers) as backend operations, so that the autodiff backend can give them the backward passes
//! the graph's structure allows (the gradient of a gather is a planned segment sum, not Burn's
//! `select_assign`; that of a segment sum is a gather) and the CPU can run each as one pass. The extension follows Burn's own pattern for custom operations (a trait over
//! `Backend`, implemented for the plain backends with the composed forward and for `Autodiff`
//! with a custom `Backward`): the CPU's kernels are in `ndarray_backend`, the backward passes
//! in `autodiff_backend`.

use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::ops::FloatTensor;
use burn::tensor::{Tensor, TensorPrimitive};

use super::segments::{Gather, Segments};

fn wrap<B: Backend>(t: FloatTensor<B>) -> Tensor<B, 3> {
    Tensor::from_primitive(TensorPrimitive::Float(t))
}

/// A backend the forecaster runs on: Burn's backend plus gathers and segment sums whose
/// gradients avoid serial scatter kernels, and SiLU and LayerNorm as single operations (one
/// node in the autodiff graph each, with their backward passes written out). The provided
/// methods compose Burn's operations; backends override them with kernels of their own.
pub trait GraphBackend: Backend {
    /// Whether segment sums take their compressed rows on the device (one kernel, whatever the
    /// graph's degrees) instead of the composed per-degree gathers and reshapes.
    const CSR_SEGMENTS: bool = false;

    /// The most bytes one tensor may occupy on `device`, where the device has a limit vejr's
    /// tensors can reach (wgpu: the adapter's largest storage-buffer binding, 128 MiB on
    /// lavapipe). CubeCL fails a larger allocation inside its device thread and the pass goes
    /// on without the buffer, so callers check before they run (`Forecaster::largest_tensor`).
    fn max_tensor_bytes(_device: &Self::Device) -> Option<u64> {
        None
    }

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

    /// The rest of an MLP from its hidden pre-activation, plus a residual:
    /// `LayerNorm(silu(hidden) · weight + bias) + residual`, the norm (γ, β, ε) and the residual
    /// where given. The CPU runs it block by block, each block's product, norm and residual
    /// while it is in cache; by default it is [`Self::silu`], [`Self::linear`],
    /// [`Self::layer_norm`] and an addition in turn (so the autodiff backend records each for
    /// its backward pass).
    fn mlp_tail(
        hidden: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: Option<FloatTensor<Self>>,
        norm: Option<(FloatTensor<Self>, FloatTensor<Self>, f64)>,
        residual: Option<FloatTensor<Self>>,
    ) -> FloatTensor<Self> {
        let y = <Self as GraphBackend>::linear(Self::silu(hidden), weight, bias);
        let y = match norm {
            Some((gamma, beta, epsilon)) => <Self as GraphBackend>::layer_norm(y, gamma, beta, epsilon),
            None => y,
        };
        match residual {
            Some(r) => <Self as burn::tensor::ops::FloatTensorOps<Self>>::float_add(y, r),
            None => y,
        }
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

    /// `x · weight + from[senders] + to[receivers]`: an edge MLP's first layer from its edge
    /// part (no bias) and its node parts. One pass on the CPU; by default [`Self::linear`]
    /// and [`Self::gather_add`].
    fn linear_gather_add(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        from: FloatTensor<Self>,
        senders: &Gather<Self>,
        to: FloatTensor<Self>,
        receivers: &Gather<Self>,
    ) -> FloatTensor<Self> {
        let base = <Self as GraphBackend>::linear(x, weight, None);
        Self::gather_add(base, from, senders, to, receivers)
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

/// `LayerNorm(silu(hidden) · weight + bias) + residual` ([`GraphBackend::mlp_tail`]).
pub fn mlp_tail<B: GraphBackend>(
    hidden: Tensor<B, 3>,
    weight: Tensor<B, 2>,
    bias: Option<Tensor<B, 1>>,
    norm: Option<(Tensor<B, 1>, Tensor<B, 1>, f64)>,
    residual: Option<Tensor<B, 3>>,
) -> Tensor<B, 3> {
    wrap::<B>(B::mlp_tail(
        hidden.into_primitive().tensor(),
        weight.into_primitive().tensor(),
        bias.map(|b| b.into_primitive().tensor()),
        norm.map(|(g, b, e)| (g.into_primitive().tensor(), b.into_primitive().tensor(), e)),
        residual.map(|r| r.into_primitive().tensor()),
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

/// `x · weight + from[senders] + to[receivers]` ([`GraphBackend::linear_gather_add`]).
pub fn linear_gather_add<B: GraphBackend>(
    x: Tensor<B, 3>,
    weight: Tensor<B, 2>,
    from: Tensor<B, 3>,
    senders: &Gather<B>,
    to: Tensor<B, 3>,
    receivers: &Gather<B>,
) -> Tensor<B, 3> {
    wrap::<B>(B::linear_gather_add(
        x.into_primitive().tensor(),
        weight.into_primitive().tensor(),
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
