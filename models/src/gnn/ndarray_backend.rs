//! The CPU's [`GraphBackend`]: Burn's ndarray backend with the operations of message passing
//! as the kernels of [`super::cpu_kernels`].

use burn::tensor::ops::FloatTensor;

use super::graph_backend::GraphBackend;
use super::segments::{Gather, Segments};

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
use burn::backend::ndarray::SharedArray;

/// The array itself when nothing else holds it (its last use: always in inference, often in
/// training), else a copy, for a kernel to write its result over: no fresh output tensor.
fn writable<T: Clone>(a: SharedArray<T>) -> SharedArray<T> {
    if a.is_unique() && a.is_standard_layout() {
        a
    } else {
        a.as_standard_layout().into_owned().into_shared()
    }
}

/// The values of a [`writable`] array.
fn values_mut<T: Clone>(a: &mut SharedArray<T>) -> &mut [T] {
    a.as_slice_mut()
        .expect("a writable array is unique and in standard layout")
}

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
            let mut b = writable(b);
            let shape = b.shape().to_vec();
            kernels::gather_add(values_mut(&mut b), &shape, &row_major(&f), f.shape()[1], s, &row_major(&t), t.shape()[1], r);
            b.into()
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
        on_floats!((x => x), {
            let mut x = writable(x);
            kernels::silu(values_mut(&mut x));
            x.into()
        })
    }

    fn silu_backward(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        on_floats!((x => x, grad => g), {
            let mut g = writable(g);
            kernels::silu_backward(&row_major(&x), values_mut(&mut g));
            g.into()
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
            let mut x = writable(x);
            kernels::layer_norm(values_mut(&mut x), latent, &row_major(&g), Some(&row_major(&b)), eps);
            x.into()
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
            let mut d = writable(d);
            let (dg, db) = kernels::layer_norm_backward(&row_major(&x), latent, &row_major(&g), values_mut(&mut d), eps);
            (d.into(), tensor(dg, &[latent]).into(), tensor(db, &[latent]).into())
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

    fn mlp_tail(
        hidden: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: Option<FloatTensor<Self>>,
        norm: Option<(FloatTensor<Self>, FloatTensor<Self>, f64)>,
        residual: Option<FloatTensor<Self>>,
    ) -> FloatTensor<Self> {
        match kernels::values(hidden) {
            Some(kernels::Values::F32(h)) => mlp_tail::<f32>(h, weight, bias, norm, residual).into(),
            Some(kernels::Values::F64(h)) => mlp_tail::<f64>(h, weight, bias, norm, residual).into(),
            None => unreachable!("ndarray float tensors are f32 or f64"),
        }
    }

    fn linear_gather_add(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        from: FloatTensor<Self>,
        senders: &Gather<Self>,
        to: FloatTensor<Self>,
        receivers: &Gather<Self>,
    ) -> FloatTensor<Self> {
        let (s, r) = (
            &senders.adjoint.host.segment_of_row,
            &receivers.adjoint.host.segment_of_row,
        );
        on_floats!((x => x, weight => w, from => f, to => t), {
            let (shape, _, k, m) = linear_dims(x.shape(), w.shape());
            let out = super::cpu_fused_kernels::linear_gather_add(
                &row_major(&x), shape[1], &row_major(&w), k, m, &row_major(&f), f.shape()[1], s, &row_major(&t), t.shape()[1], r,
            );
            tensor(out, &shape).into()
        })
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

/// An ndarray float tensor as an array of `Self`; the tensors of one operation share one type.
trait Element: kernels::KernelFloat + Clone {
    fn array(t: burn::backend::ndarray::NdArrayTensor) -> SharedArray<Self>;
}

impl Element for f32 {
    fn array(t: burn::backend::ndarray::NdArrayTensor) -> SharedArray<f32> {
        match kernels::values(t) {
            Some(kernels::Values::F32(a)) => a,
            _ => unreachable!("the tensors of one operation are all f32"),
        }
    }
}

impl Element for f64 {
    fn array(t: burn::backend::ndarray::NdArrayTensor) -> SharedArray<f64> {
        match kernels::values(t) {
            Some(kernels::Values::F64(a)) => a,
            _ => unreachable!("the tensors of one operation are all f64"),
        }
    }
}

/// [`kernels::mlp_tail`] on ndarray tensors: the result is written over the residual where
/// nothing else holds it (its last use, in inference), the SiLU over the hidden layer likewise.
fn mlp_tail<T: Element>(
    hidden: SharedArray<T>,
    weight: burn::backend::ndarray::NdArrayTensor,
    bias: Option<burn::backend::ndarray::NdArrayTensor>,
    norm: Option<(
        burn::backend::ndarray::NdArrayTensor,
        burn::backend::ndarray::NdArrayTensor,
        f64,
    )>,
    residual: Option<burn::backend::ndarray::NdArrayTensor>,
) -> SharedArray<T> {
    let w = T::array(weight);
    let b = bias.map(T::array);
    let norm = norm.map(|(g, b, e)| (T::array(g), T::array(b), e));
    let (shape, _, k, m) = linear_dims(hidden.shape(), w.shape());
    let mut h = writable(hidden);
    let (w, b) = (row_major(&w), b.as_ref().map(row_major));
    let norm_values = norm.as_ref().map(|(g, b, e)| {
        let e: T = num_traits::cast(*e).expect("epsilon is a float");
        (row_major(g), row_major(b), e)
    });
    let norm_values = norm_values.as_ref().map(|(g, b, e)| (&g[..], &b[..], *e));
    match residual {
        Some(r) => {
            let mut out = writable(T::array(r));
            assert_eq!(out.shape(), &shape[..], "the residual has the MLP's output shape");
            let made = super::cpu_fused_kernels::mlp_tail(
                values_mut(&mut h),
                &w,
                k,
                m,
                b.as_deref(),
                norm_values,
                Some(values_mut(&mut out)),
            );
            debug_assert!(made.is_none());
            out
        }
        None => {
            let out = super::cpu_fused_kernels::mlp_tail(values_mut(&mut h), &w, k, m, b.as_deref(), norm_values, None);
            tensor(out.expect("made without a residual"), &shape)
        }
    }
}

/// Output shape, rows, inputs and outputs of `x [.., k] · w [k, m]`.
fn linear_dims(x: &[usize], w: &[usize]) -> (Vec<usize>, usize, usize, usize) {
    let (k, m) = (w[0], w[1]);
    let mut shape = x.to_vec();
    *shape.last_mut().expect("x has a last dimension") = m;
    (shape, x.iter().product::<usize>() / k, k, m)
}
