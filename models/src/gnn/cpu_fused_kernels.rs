//! CPU kernels that run a chain of the operations in `cpu_kernels` block by block: each block
//! of rows goes through the whole chain while it is in cache, and each output is written once
//! by the thread that computes it. The blocks and the arithmetic of each element are those of
//! the operations run one after another, so the results are theirs bit for bit (tested against
//! them in `models/tests/forecaster.rs`); only the passes over memory go. Inference uses them;
//! training records the operations one by one for their backward passes.

use std::mem::MaybeUninit;

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2};
use rayon::prelude::*;

use super::cpu_kernels::{GEMM_ROWS, KernelFloat, layer_norm_rows, silu_rows, single_threaded_blas, zeros};

/// `rows × m` values made block by block (`GEMM_ROWS` rows each, the blocks of `inputs` in
/// order): each block is filled with the bias (or zeros), then handed to `fill` with its input,
/// in parallel, so the output is written where it is computed and never zeroed beforehand.
pub fn filled_blocks<T, A, F>(
    rows: usize,
    m: usize,
    bias: Option<&[T]>,
    inputs: impl IndexedParallelIterator<Item = A>,
    fill: F,
) -> Vec<T>
where
    T: num_traits::Float + Send + Sync,
    A: Send,
    F: Fn(A, &mut [T]) + Sync + Send,
{
    let n = rows * m;
    if n == 0 {
        return Vec::new();
    }
    let blocks = rows.div_ceil(GEMM_ROWS);
    assert_eq!(inputs.len(), blocks, "one input per block of {GEMM_ROWS} rows");
    let mut out: Vec<T> = Vec::with_capacity(n);
    out.spare_capacity_mut()[..n]
        .par_chunks_mut(GEMM_ROWS * m)
        .zip(inputs)
        .for_each(|(block, input)| {
            for row in block.chunks_exact_mut(m) {
                match bias {
                    Some(b) => row.iter_mut().zip(b).for_each(|(o, &v)| {
                        o.write(v);
                    }),
                    None => row.iter_mut().for_each(|o| {
                        o.write(T::zero());
                    }),
                }
            }
            // SAFETY: every element of the block was written just above, and MaybeUninit<T>
            // has T's layout.
            let block = unsafe { &mut *(block as *mut [MaybeUninit<T>] as *mut [T]) };
            fill(input, block);
        });
    // SAFETY: the blocks cover the first n elements (blocks × GEMM_ROWS ≥ rows, the last block
    // the rest), each written above.
    unsafe { out.set_len(n) };
    out
}

/// The rest of an MLP from its hidden pre-activation: `LayerNorm(silu(hidden) · w + bias)`
/// (the norm where `norm` gives γ, β and ε), written into `out`, or added to `out` when
/// `residual` (`out` then holds the residual): `silu`, `linear`, `layer_norm` and an addition
/// in one pass. `hidden` is overwritten.
#[allow(clippy::too_many_arguments)]
pub fn mlp_tail<T: KernelFloat>(
    hidden: &mut [T],
    w: &[T],
    k: usize,
    m: usize,
    bias: Option<&[T]>,
    norm: Option<(&[T], &[T], T)>,
    residual: Option<&mut [T]>,
) -> Option<Vec<T>> {
    single_threaded_blas();
    assert!(k > 0 && m > 0, "an MLP layer has inputs and outputs");
    let rows = hidden.len() / k;
    let w = ArrayView2::from_shape((k, m), w).expect("k × m");
    // SiLU over a block of the hidden layer, its product and norm into `y` (bias-filled).
    let product = |h: &mut [T], y: &mut [T]| {
        silu_rows(h);
        let n = h.len() / k;
        let x = ArrayView2::from_shape((n, k), &*h).expect("rows × k");
        let mut view = ArrayViewMut2::from_shape((n, m), &mut *y).expect("rows × m");
        general_mat_mul(T::one(), &x, &w, T::one(), &mut view);
        if let Some((gamma, beta, epsilon)) = norm {
            layer_norm_rows(y, m, gamma, Some(beta), epsilon);
        }
    };
    match residual {
        None => Some(filled_blocks(
            rows,
            m,
            bias,
            hidden.par_chunks_mut(GEMM_ROWS * k),
            product,
        )),
        Some(out) => {
            out.par_chunks_mut(GEMM_ROWS * m)
                .zip(hidden.par_chunks_mut(GEMM_ROWS * k))
                .for_each(|(out, h)| {
                    let mut y = zeros(out.len());
                    if let Some(b) = bias {
                        y.chunks_exact_mut(m).for_each(|row| row.copy_from_slice(b));
                    }
                    product(h, &mut y);
                    for (o, &v) in out.iter_mut().zip(&y) {
                        *o = v + *o;
                    }
                });
            None
        }
    }
}

/// `x [batch · edges, k] · w [k, m] + from[senders] + to[receivers]` (`from [batch, s, m]`,
/// `to [batch, r, m]`): an edge MLP's first layer from its edge part and the node parts,
/// `linear` (no bias) and `gather_add` in one pass.
#[allow(clippy::too_many_arguments)]
pub fn linear_gather_add<T: KernelFloat>(
    x: &[T],
    edges: usize,
    w: &[T],
    k: usize,
    m: usize,
    from: &[T],
    from_rows: usize,
    senders: &[u32],
    to: &[T],
    to_rows: usize,
    receivers: &[u32],
) -> Vec<T> {
    single_threaded_blas();
    assert!(k > 0 && m > 0, "a linear layer has inputs and outputs");
    let rows = x.len() / k;
    let w = ArrayView2::from_shape((k, m), w).expect("k × m");
    filled_blocks(
        rows,
        m,
        None,
        x.par_chunks(GEMM_ROWS * k).enumerate(),
        |(block, x), out| {
            let n = x.len() / k;
            let xv = ArrayView2::from_shape((n, k), x).expect("rows × k");
            let mut view = ArrayViewMut2::from_shape((n, m), &mut *out).expect("rows × m");
            general_mat_mul(T::one(), &xv, &w, T::one(), &mut view);
            for (i, row) in out.chunks_exact_mut(m).enumerate() {
                let g = block * GEMM_ROWS + i;
                let (b, e) = (g / edges, g % edges);
                let s = (b * from_rows + senders[e] as usize) * m;
                let r = (b * to_rows + receivers[e] as usize) * m;
                for ((o, &f), &t) in row.iter_mut().zip(&from[s..s + m]).zip(&to[r..r + m]) {
                    *o = *o + f + t;
                }
            }
        },
    )
}
