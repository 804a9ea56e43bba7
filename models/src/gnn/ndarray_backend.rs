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
