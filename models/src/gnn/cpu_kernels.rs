//! The message-passing operations written directly for the CPU (Burn's ndarray backend), where
//! Burn composes them of many passes over memory: row gathers (ndarray's `select` builds one
//! view per row), segment sums, SiLU and LayerNorm (ten passes each way). Each here is one
//! pass, parallel over rows with rayon, and reduces in a fixed order independent of the thread
//! count, so CPU runs stay bitwise reproducible.

use burn::backend::ndarray::{NdArrayTensor, SharedArray};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayD, ArrayView2, ArrayViewMut2, IxDyn, LinalgScalar};
use num_traits::Float;
use rayon::prelude::*;

/// Rows per parallel task (and per partial sum of parameter gradients).
const CHUNK: usize = 512;

/// A float tensor of the ndarray backend, in one of the two float types it has.
pub enum Values {
    F32(SharedArray<f32>),
    F64(SharedArray<f64>),
}

pub fn values(t: NdArrayTensor) -> Option<Values> {
    match t {
        NdArrayTensor::F32(s) => Some(Values::F32(s.into_shared())),
        NdArrayTensor::F64(s) => Some(Values::F64(s.into_shared())),
        _ => None,
    }
}

/// Zeros written into reused memory: `vec![0; n]` asks the allocator for zeroed memory,
/// which for large blocks means fresh pages from the kernel and a page fault per 4 KiB.
pub fn zeros<T: Float>(n: usize) -> Vec<T> {
    let mut v = Vec::with_capacity(n);
    v.resize(n, T::zero());
    v
}

/// The values in row-major order without a copy where they already are.
pub fn row_major<T: Clone>(a: &SharedArray<T>) -> std::borrow::Cow<'_, [T]> {
    match a.as_slice() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(a.as_standard_layout().iter().cloned().collect()),
    }
}

pub fn tensor<T: Clone>(v: Vec<T>, shape: &[usize]) -> SharedArray<T> {
    ArrayD::from_shape_vec(IxDyn(shape), v)
        .expect("kernel output has its shape")
        .into_shared()
}

/// Rows per matrix-product task: large enough for the product to run at speed, small enough
/// that both cores get work at 5.625°.
pub(crate) const GEMM_ROWS: usize = 2048;

unsafe extern "C" {
    fn openblas_set_num_threads(threads: std::ffi::c_int);
}

/// OpenBLAS's own thread pool and rayon's would share two cores and spend a fifth of the time
/// yielding to each other: the products here are split over rows by rayon, each one on a
/// single OpenBLAS thread.
pub(crate) fn single_threaded_blas() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: sets OpenBLAS's thread count before any product of ours runs.
    ONCE.call_once(|| unsafe { openblas_set_num_threads(1) });
}

/// `x [rows, k] · w [k, m] (+ bias [m])` → `[rows, m]`, through ndarray's matrix product
/// (OpenBLAS) on blocks of rows in parallel; each block's bias is written first and the product
/// added.
pub fn linear<T: LinalgScalar + Float + Send + Sync>(
    x: &[T],
    rows: usize,
    w: &[T],
    k: usize,
    m: usize,
    bias: Option<&[T]>,
) -> Vec<T> {
    single_threaded_blas();
    assert!(k > 0, "a linear layer has inputs");
    let w = ArrayView2::from_shape((k, m), w).expect("k × m");
    super::cpu_fused_kernels::filled_blocks(rows, m, bias, x.par_chunks(GEMM_ROWS * k), |x, out| {
        let n = x.len() / k;
        let x = ArrayView2::from_shape((n, k), x).expect("rows × k");
        let mut out = ArrayViewMut2::from_shape((n, m), out).expect("rows × m");
        general_mat_mul(T::one(), &x, &w, T::one(), &mut out);
    })
}

/// Gradients of [`linear`]: `dx = grad · wᵀ`, `dw = xᵀ · grad`, `dbias = Σ_rows grad`; the
/// sums over rows are taken per block of rows, then over blocks in order (the same result on
/// any number of threads).
#[allow(clippy::type_complexity)]
pub fn linear_backward<T: LinalgScalar + Float + Send + Sync>(
    x: &[T],
    rows: usize,
    w: &[T],
    k: usize,
    m: usize,
    grad: &[T],
    bias: bool,
) -> (Vec<T>, Vec<T>, Option<Vec<T>>) {
    single_threaded_blas();
    let w = ArrayView2::from_shape((k, m), w).expect("k × m");
    let mut dx = zeros(rows * k);
    let partials: Vec<(Array2<T>, Vec<T>)> = dx
        .par_chunks_mut(GEMM_ROWS * k)
        .zip(x.par_chunks(GEMM_ROWS * k).zip(grad.par_chunks(GEMM_ROWS * m)))
        .map(|(dx, (x, g))| {
            let n = g.len() / m.max(1);
            let x = ArrayView2::from_shape((n, k), x).expect("rows × k");
            let g = ArrayView2::from_shape((n, m), g).expect("rows × m");
            let mut dx = ArrayViewMut2::from_shape((n, k), dx).expect("rows × k");
            general_mat_mul(T::one(), &g, &w.t(), T::zero(), &mut dx);
            let mut dw = Array2::from_shape_vec((k, m), zeros(k * m)).expect("k × m");
            general_mat_mul(T::one(), &x.t(), &g, T::zero(), &mut dw);
            let mut db = zeros(if bias { m } else { 0 });
            if bias {
                for row in g.rows() {
                    for (a, &v) in db.iter_mut().zip(row) {
                        *a = *a + v;
                    }
                }
            }
            (dw, db)
        })
        .collect();
    let mut dw = Array2::from_shape_vec((k, m), zeros(k * m)).expect("k × m");
    let mut db = zeros(if bias { m } else { 0 });
    for (pw, pb) in partials {
        dw.zip_mut_with(&pw, |a, &b| *a = *a + b);
        for (t, v) in db.iter_mut().zip(pb) {
            *t = *t + v;
        }
    }
    (dx, dw.into_raw_vec_and_offset().0, bias.then_some(db))
}

/// `x [batch, sources, latent]` → `[batch, index.len(), latent]`.
pub fn gather_rows<T: Copy + Send + Sync>(x: &[T], shape: &[usize], index: &[u32]) -> (Vec<T>, Vec<usize>) {
    let (batch, sources, latent) = (shape[0], shape[1], shape[2]);
    let rows = index.len();
    let Some(&fill) = x.first() else {
        assert!(rows == 0 || latent == 0, "gather from an empty tensor");
        return (Vec::new(), vec![batch, rows, latent]);
    };
    let mut out = Vec::with_capacity(batch * rows * latent);
    out.resize(batch * rows * latent, fill);
    for b in 0..batch {
        let src = &x[b * sources * latent..(b + 1) * sources * latent];
        out[b * rows * latent..(b + 1) * rows * latent]
            .par_chunks_mut(CHUNK * latent)
            .enumerate()
            .for_each(|(c, chunk)| {
                for (k, row) in chunk.chunks_exact_mut(latent).enumerate() {
                    let s = index[c * CHUNK + k] as usize;
                    row.copy_from_slice(&src[s * latent..(s + 1) * latent]);
                }
            });
    }
    (out, vec![batch, rows, latent])
}

/// `out [batch, edges, latent] += from[senders] + to[receivers]` (`from [batch, s, latent]`,
/// `to [batch, r, latent]`), over the edge part of the hidden layer it holds.
#[allow(clippy::too_many_arguments)]
pub fn gather_add<T: Float + Send + Sync>(
    out: &mut [T],
    shape: &[usize],
    from: &[T],
    from_rows: usize,
    senders: &[u32],
    to: &[T],
    to_rows: usize,
    receivers: &[u32],
) {
    let (batch, edges, latent) = (shape[0], shape[1], shape[2]);
    for b in 0..batch {
        let from = &from[b * from_rows * latent..(b + 1) * from_rows * latent];
        let to = &to[b * to_rows * latent..(b + 1) * to_rows * latent];
        out[b * edges * latent..(b + 1) * edges * latent]
            .par_chunks_mut(CHUNK * latent)
            .enumerate()
            .for_each(|(c, chunk)| {
                for (k, row) in chunk.chunks_exact_mut(latent).enumerate() {
                    let e = c * CHUNK + k;
                    let (s, r) = (senders[e] as usize * latent, receivers[e] as usize * latent);
                    for ((o, &f), &t) in row.iter_mut().zip(&from[s..s + latent]).zip(&to[r..r + latent]) {
                        *o = *o + f + t;
                    }
                }
            });
    }
}

/// `x [batch, rows, latent]` → `[batch, segments, latent]`: segment `s` sums rows
/// `rows_by_segment[offsets[s]..offsets[s + 1]]`, in that (ascending) order.
pub fn sum_segments<T: Float + Send + Sync>(
    x: &[T],
    shape: &[usize],
    offsets: &[usize],
    rows_by_segment: &[u32],
) -> (Vec<T>, Vec<usize>) {
    let (batch, rows, latent) = (shape[0], shape[1], shape[2]);
    let segments = offsets.len() - 1;
    let mut out = zeros(batch * segments * latent);
    for b in 0..batch {
        let src = &x[b * rows * latent..(b + 1) * rows * latent];
        out[b * segments * latent..(b + 1) * segments * latent]
            .par_chunks_mut(CHUNK * latent)
            .enumerate()
            .for_each(|(c, chunk)| {
                for (k, acc) in chunk.chunks_exact_mut(latent).enumerate() {
                    let s = c * CHUNK + k;
                    for &r in &rows_by_segment[offsets[s]..offsets[s + 1]] {
                        let r = r as usize;
                        for (a, v) in acc.iter_mut().zip(&src[r * latent..(r + 1) * latent]) {
                            *a = *a + *v;
                        }
                    }
                }
            });
    }
    (out, vec![batch, segments, latent])
}

/// The float types of the kernels, with the one function whose cost depends on the type.
pub trait KernelFloat: Float + LinalgScalar + Send + Sync {
    /// 1 / (1 + e^−x), e^−x capped as in [`super::mlp::silu`] so that it never overflows.
    fn sigmoid(self) -> Self;
}

impl KernelFloat for f64 {
    fn sigmoid(self) -> f64 {
        1.0 / (1.0 + (-self).min(80.0).exp())
    }
}

impl KernelFloat for f32 {
    #[inline(always)]
    fn sigmoid(self) -> f32 {
        // Above x = 87, e^−x is below f32's smallest normal number and 1 + e^−x rounds to 1
        // anyway: clamping there keeps [`exp_f32`] in its range and changes no result.
        1.0 / (1.0 + exp_f32((-self).clamp(-87.0, 80.0)))
    }
}

/// e^x for x in [−87, 88], within 2 ulp of the correctly rounded value, branch-free so that
/// loops over it vectorise (libm's `expf` is a call per element: a tenth of a forward pass).
/// Cephes' `expf`: x = n ln 2 + r with |r| ≤ ln 2 / 2 (Cody–Waite split of ln 2), e^r by its
/// minimax polynomial, 2^n written into the exponent bits.
#[inline(always)]
fn exp_f32(x: f32) -> f32 {
    // Adding 1.5 · 2^23 rounds to an integer held in the low mantissa bits.
    const SHIFTER: f32 = 12_582_912.0;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let t = x * std::f32::consts::LOG2_E + SHIFTER;
    let n = t - SHIFTER;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = ((((1.987_569_2e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r + 1.666_666_5e-1)
        * r
        + 0.5; // Cephes' 5.0000001201e-1, which is 0.5 in f32
    let e_r = p * r * r + r + 1.0;
    // n + 127 in the exponent field; wrapping arithmetic because the overflow checks of a
    // debug build would keep the loop from vectorising (n + 127 lies in 1..=254 here).
    let exponent = t.to_bits().wrapping_sub(0x4B40_0000 - 127) << 23;
    e_r * f32::from_bits(exponent)
}

/// `x ← silu(x)`, in place.
pub fn silu<T: KernelFloat>(x: &mut [T]) {
    x.par_chunks_mut(CHUNK * 64).for_each(silu_rows);
}

/// `x ← silu(x)` on one thread.
pub(crate) fn silu_rows<T: KernelFloat>(x: &mut [T]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        return unsafe { silu_rows_avx2(x) };
    }
    silu_rows_portable(x)
}

/// [`silu_rows`] compiled for AVX2: the same operations per element, eight lanes wide instead
/// of SSE2's four (vejr is built for baseline x86-64). No FMA: without it nothing is
/// contracted, so every value is the portable build's bit for bit.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn silu_rows_avx2<T: KernelFloat>(x: &mut [T]) {
    silu_rows_portable(x)
}

#[inline(always)]
fn silu_rows_portable<T: KernelFloat>(x: &mut [T]) {
    for x in x {
        *x = *x * x.sigmoid();
    }
}

/// `grad ← grad · silu′(x)`, in place.
pub fn silu_backward<T: KernelFloat>(x: &[T], grad: &mut [T]) {
    grad.par_chunks_mut(CHUNK * 64)
        .zip(x.par_chunks(CHUNK * 64))
        .for_each(|(g, x)| {
            for (g, &x) in g.iter_mut().zip(x) {
                let s = x.sigmoid();
                *g = *g * s * (T::one() + x * (T::one() - s));
            }
        });
}

/// Σ f(v) over a row in eight interleaved partial sums combined in a fixed tree: eight
/// independent additions per step instead of one chain (the same result on every run).
#[inline(always)]
fn lane_sum<T: Float>(row: &[T], f: impl Fn(T) -> T) -> T {
    let mut lanes = [T::zero(); 8];
    let chunks = row.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (l, &v) in lanes.iter_mut().zip(c) {
            *l = *l + f(v);
        }
    }
    let mut sum = ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
    for &v in rest {
        sum = sum + f(v);
    }
    sum
}

/// Mean and 1/√(var + ε) of one row.
#[inline(always)]
fn moments<T: Float>(row: &[T], epsilon: T) -> (T, T) {
    let n = T::from(row.len()).expect("row length is a float");
    let mean = lane_sum(row, |v| v) / n;
    let var = lane_sum(row, |v| (v - mean) * (v - mean)) / n;
    (mean, T::one() / (var + epsilon).sqrt())
}

/// `x ← LayerNorm(x)` over the last dimension (`latent` wide), in place.
pub fn layer_norm<T: Float + Send + Sync>(x: &mut [T], latent: usize, gamma: &[T], beta: Option<&[T]>, epsilon: T) {
    x.par_chunks_mut(CHUNK * latent)
        .for_each(|x| layer_norm_rows(x, latent, gamma, beta, epsilon));
}

/// LayerNorm of each `latent`-wide row of `x`, on one thread (AVX2 where the CPU has it, as
/// [`silu_rows`]).
pub(crate) fn layer_norm_rows<T: Float>(x: &mut [T], latent: usize, gamma: &[T], beta: Option<&[T]>, epsilon: T) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        return unsafe { layer_norm_rows_avx2(x, latent, gamma, beta, epsilon) };
    }
    layer_norm_rows_portable(x, latent, gamma, beta, epsilon)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn layer_norm_rows_avx2<T: Float>(x: &mut [T], latent: usize, gamma: &[T], beta: Option<&[T]>, epsilon: T) {
    layer_norm_rows_portable(x, latent, gamma, beta, epsilon)
}

#[inline(always)]
fn layer_norm_rows_portable<T: Float>(x: &mut [T], latent: usize, gamma: &[T], beta: Option<&[T]>, epsilon: T) {
    let gamma = &gamma[..latent];
    for x in x.chunks_exact_mut(latent) {
        let (mean, rstd) = moments(x, epsilon);
        match beta {
            Some(beta) => {
                for ((v, &g), &b) in x.iter_mut().zip(gamma).zip(&beta[..latent]) {
                    *v = (*v - mean) * rstd * g + b;
                }
            }
            None => {
                for (v, &g) in x.iter_mut().zip(gamma) {
                    *v = (*v - mean) * rstd * g + T::zero();
                }
            }
        }
    }
}

/// Gradients of LayerNorm with respect to its input (written over `grad`), γ and β. The
/// parameter gradients are summed per chunk of rows, then over chunks in order: the same
/// result on any thread count.
pub fn layer_norm_backward<T: Float + Send + Sync>(
    x: &[T],
    latent: usize,
    gamma: &[T],
    grad: &mut [T],
    epsilon: T,
) -> (Vec<T>, Vec<T>) {
    let n = T::from(latent).expect("latent is a float");
    let partials: Vec<(Vec<T>, Vec<T>)> = grad
        .par_chunks_mut(CHUNK * latent)
        .zip(x.par_chunks(CHUNK * latent))
        .map(|(g, x)| {
            let mut dgamma = vec![T::zero(); latent];
            let mut dbeta = vec![T::zero(); latent];
            let mut gg = vec![T::zero(); latent];
            let mut xhat = vec![T::zero(); latent];
            for (g, x) in g.chunks_exact_mut(latent).zip(x.chunks_exact(latent)) {
                let (mean, rstd) = moments(x, epsilon);
                for j in 0..latent {
                    xhat[j] = (x[j] - mean) * rstd;
                    gg[j] = g[j] * gamma[j];
                    dgamma[j] = dgamma[j] + g[j] * xhat[j];
                    dbeta[j] = dbeta[j] + g[j];
                }
                let mean_gg = lane_sum(&gg, |v| v) / n;
                let mean_ggx = gg.iter().zip(&xhat).fold(T::zero(), |a, (&u, &v)| a + u * v) / n;
                for j in 0..latent {
                    g[j] = rstd * (gg[j] - mean_gg - xhat[j] * mean_ggx);
                }
            }
            (dgamma, dbeta)
        })
        .collect();
    let mut dgamma = vec![T::zero(); latent];
    let mut dbeta = vec![T::zero(); latent];
    for (g, b) in partials {
        for j in 0..latent {
            dgamma[j] = dgamma[j] + g[j];
            dbeta[j] = dbeta[j] + b[j];
        }
    }
    (dgamma, dbeta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_f32_is_within_two_ulp_over_its_range() {
        let mut worst = 0f64;
        let mut x = -87.0f32;
        while x <= 88.0 {
            let exact = (x as f64).exp();
            let ulp = {
                let e = exact as f32;
                (f32::from_bits(e.to_bits() + 1) - e) as f64
            };
            worst = worst.max((exp_f32(x) as f64 - exact).abs() / ulp);
            x += 0.000_731;
        }
        assert!(worst <= 2.0, "worst error {worst} ulp");
    }

    /// The AVX2 builds of SiLU and LayerNorm (what this machine runs, where it has AVX2) give
    /// the portable build's values bit for bit, as the forecasts of a machine without it.
    #[test]
    fn dispatched_silu_and_layer_norm_equal_the_portable_build_bit_for_bit() {
        let values: Vec<f32> = (0..64 * 257)
            .map(|i| ((i as f32 * 0.618_034).fract() - 0.5) * 40.0 + if i % 97 == 0 { 90.0 } else { 0.0 })
            .collect();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
        let (mut a, mut b) = (values.clone(), values.clone());
        silu_rows(&mut a);
        silu_rows_portable(&mut b);
        assert_eq!(bits(&a), bits(&b));
        let gamma: Vec<f32> = (0..64).map(|j| 0.5 + j as f32 / 50.0).collect();
        let beta: Vec<f32> = (0..64).map(|j| j as f32 / 7.0 - 3.0).collect();
        for beta in [Some(&beta[..]), None] {
            let (mut a, mut b) = (values.clone(), values.clone());
            layer_norm_rows(&mut a, 64, &gamma, beta, 1e-5);
            layer_norm_rows_portable(&mut b, 64, &gamma, beta, 1e-5);
            assert_eq!(bits(&a), bits(&b));
            assert_ne!(bits(&a), bits(&values));
        }
    }

    #[test]
    fn lane_sum_equals_the_plain_sum_to_rounding() {
        for len in [0usize, 1, 7, 8, 9, 64, 67] {
            let row: Vec<f64> = (0..len).map(|i| (i as f64 * 0.37).sin()).collect();
            let plain: f64 = row.iter().sum();
            assert!((lane_sum(&row, |v| v) - plain).abs() < 1e-12, "{len}");
        }
    }
}
