//! Message passing as CubeCL kernels, one source for every CubeCL runtime (CUDA, and wgpu:
//! Vulkan, Metal, and Mesa's lavapipe on a CPU). Each kernel is one launch whatever the graph:
//! a composition whose shapes follow the graph's degrees (a select, reshape and sum per degree)
//! is a new kernel, fusion exploration and autotune key per degree, and stalled the first H100
//! runs. Tensors are contiguous `[batch, rows, latent]`; one unit computes one output value.
//!
//! The segment sum reads compressed rows (CSR): unit (b, s, c) adds the rows of segment `s` in
//! ascending order, so it is deterministic and needs no atomics, like the CPU's kernel.

use burn_cubecl::cubecl;
use cubecl::prelude::*;

/// `out[b, e, c] = values[b, index[e], c]`.
#[cube(launch)]
pub fn gather_rows<F: Float, I: Int>(values: &Tensor<F>, index: &Tensor<I>, out: &mut Tensor<F>) {
    if ABSOLUTE_POS >= out.len() {
        terminate!();
    }
    let latent = out.shape(2);
    let rows = out.shape(1);
    let c = ABSOLUTE_POS % latent;
    let e = (ABSOLUTE_POS / latent) % rows;
    let b = ABSOLUTE_POS / (latent * rows);
    let source = usize::cast_from(index[e]);
    out[ABSOLUTE_POS] = values[(b * values.shape(1) + source) * latent + c];
}

/// `out[b, e, c] = base[b, e, c] + from[b, senders[e], c] + to[b, receivers[e], c]`, added in
/// that order (as the composed and CPU versions add them).
#[cube(launch)]
pub fn gather_add<F: Float, I: Int>(
    base: &Tensor<F>,
    from: &Tensor<F>,
    senders: &Tensor<I>,
    to: &Tensor<F>,
    receivers: &Tensor<I>,
    out: &mut Tensor<F>,
) {
    if ABSOLUTE_POS >= out.len() {
        terminate!();
    }
    let latent = out.shape(2);
    let rows = out.shape(1);
    let c = ABSOLUTE_POS % latent;
    let e = (ABSOLUTE_POS / latent) % rows;
    let b = ABSOLUTE_POS / (latent * rows);
    let s = usize::cast_from(senders[e]);
    let r = usize::cast_from(receivers[e]);
    let sent = from[(b * from.shape(1) + s) * latent + c];
    let received = to[(b * to.shape(1) + r) * latent + c];
    out[ABSOLUTE_POS] = base[ABSOLUTE_POS] + sent + received;
}

/// `out[b, s, c] = Σ values[b, rows_by_segment[k], c]` for `k` in `offsets[s]..offsets[s + 1]`,
/// in ascending `k`.
#[cube(launch)]
pub fn segment_sum<F: Float, I: Int>(
    values: &Tensor<F>,
    offsets: &Tensor<I>,
    rows_by_segment: &Tensor<I>,
    out: &mut Tensor<F>,
) {
    if ABSOLUTE_POS >= out.len() {
        terminate!();
    }
    let latent = out.shape(2);
    let segments = out.shape(1);
    let c = ABSOLUTE_POS % latent;
    let s = (ABSOLUTE_POS / latent) % segments;
    let b = ABSOLUTE_POS / (latent * segments);
    let start = usize::cast_from(offsets[s]);
    let end = usize::cast_from(offsets[s + 1]);
    let batch = b * values.shape(1);
    let mut sum = F::new(0.0);
    for k in start..end {
        let row = usize::cast_from(rows_by_segment[k]);
        sum += values[(batch + row) * latent + c];
    }
    out[ABSOLUTE_POS] = sum;
}

/// `out = x / (e^min(−x, 80) + 1)`: SiLU as the composed and CPU versions write it (the cap
/// keeps e^−x finite), one pass instead of Burn's four (neg, clamp, exp, div).
#[cube(launch)]
pub fn silu<F: Float>(x: &Tensor<F>, out: &mut Tensor<F>) {
    if ABSOLUTE_POS >= out.len() {
        terminate!();
    }
    let v = x[ABSOLUTE_POS];
    let mut t = F::new(0.0) - v;
    if t > F::new(80.0) {
        t = F::new(80.0);
    }
    out[ABSOLUTE_POS] = v / (t.exp() + F::new(1.0));
}

/// LayerNorm of one row per unit: `(x − μ)/√(var + ε)·γ + β` over the last dimension, the
/// mean and variance summed in ascending order (deterministic), one pass over the row for
/// each instead of Burn's composition of means, subtractions and powers.
#[cube(launch)]
pub fn layer_norm<F: Float>(x: &Tensor<F>, gamma: &Tensor<F>, beta: &Tensor<F>, out: &mut Tensor<F>, epsilon: f32) {
    let latent = x.shape(x.rank() - 1);
    let rows = x.len() / latent;
    if ABSOLUTE_POS >= rows {
        terminate!();
    }
    let start = ABSOLUTE_POS * latent;
    let n = F::cast_from(latent);
    let mut sum = F::new(0.0);
    for j in 0..latent {
        sum += x[start + j];
    }
    let mean = sum / n;
    let mut squares = F::new(0.0);
    for j in 0..latent {
        let d = x[start + j] - mean;
        squares += d * d;
    }
    let rstd = F::new(1.0) / (squares / n + F::cast_from(epsilon)).sqrt();
    for j in 0..latent {
        out[start + j] = (x[start + j] - mean) * rstd * gamma[j] + beta[j];
    }
}
